/**
 * The exactly-once guard of a state or rollup item: which record sequence numbers of one
 * (analysis, run, source, partition) the item already holds.
 *
 * Why not just "the highest sequence applied": over Kinesis, PutRecords may fail entry e2 and store
 * e3 of the same shard in the same request; the publisher re-sends e2, which then lands *after* e3.
 * A highest-applied guard would take e2 for a duplicate and lose its rows. So the guard keeps the
 * set of applied sequences as ranges: a record above the highest opens a gap (the numbers it
 * jumped over are still to come), a record inside a gap is applied and closes it, anything else is
 * a duplicate. Replay numbers each (run, partition) densely (0, 1, 2…, partition-packer.ts), so
 * in-order delivery (Kafka, Kinesis without partial failures) never opens a gap and the item keeps
 * its old shape.
 *
 * Rejected alternative: a contiguity guard (apply only last+1) with the publisher re-sending the
 * failed entry and the rest of its shard's entries in order. A hole that never fills (a record the
 * trigger sent to its failure destination, a bug) would then silently stop every later record.
 *
 * Bounded: at most MAX_GAPS gaps per item. Past that, the lowest gap is given up (its numbers count
 * as applied, so a record still to come there would be skipped) and counted in `droppedGaps`; no
 * input can grow an item without bound. One PutRecords request can open at most 250 gaps in a
 * shard (each gap needs a stored entry above it, 500 entries a request), and the publisher re-sends
 * a request's failed entries before it sends the next request, so MAX_GAPS covers the worst a
 * single request can do; a real throttled shard opens a handful.
 *
 * Records of other producers (no replay envelope) are numbered by their position in the shard or
 * partition: sparse (Kinesis sequence numbers are ~56-digit decimals, compared here as BigInt) but
 * strictly increasing in delivery order, so for them a jump means nothing and the guard is exactly
 * "the highest position applied".
 *
 * Replay numbers are JavaScript numbers here (safe integers: replay refuses others), positions
 * BigInt: a guard costs a few comparisons per record, not an allocation.
 */
import type { SequencedRecord } from './origin-groups.ts';

export const MAX_GAPS = 256;

/** How a group's records are numbered, which decides what a jump in the numbers means. */
export type Numbering = 'replay' | 'position';

/** The guard as stored in the item (fields of its payload; absent ones read as "no gaps"). */
export interface GuardFields {
  /** The highest sequence applied: a number, or a decimal string where a number would be inexact. */
  readonly lastSequence: number | string;
  /** The lowest sequence applied; absent = 0 (items written before gaps were tracked). */
  readonly firstSequence?: number;
  /** Inclusive ranges of sequences between first and last not applied yet, ascending. */
  readonly missingSequences?: readonly [number, number][];
  /** Gaps given up over the item's life because there were more than MAX_GAPS. */
  readonly droppedGaps?: number;
}

/** Which records of one item's (run, partition) are applied. */
export interface SequenceGuard {
  /** True when the record was applied before (a duplicate). */
  has(record: SequencedRecord): boolean;
  /** Records the record as applied (it must not be: ask `has` first). */
  add(record: SequencedRecord): void;
  /** Gaps given up since the guard was read. */
  readonly droppedNow: number;
  /** The item fields of the guard (only lastSequence while there are no gaps). */
  toFields(): GuardFields;
}

/** The guard of an item (undefined: nothing applied yet). */
export function sequenceGuard(numbering: Numbering, fields: GuardFields | undefined): SequenceGuard {
  return numbering === 'replay' ? ReplayGuard.of(fields) : new PositionGuard(fields);
}

function replaySequence(record: SequencedRecord): number {
  if (record.sequence === undefined) throw new Error('a record without a replay sequence in a replay group');
  return record.sequence;
}

type Range = [number, number];

/** Replay's dense numbers: the applied set as ranges, gaps between them. */
class ReplayGuard implements SequenceGuard {
  droppedNow = 0;

  /** `ranges`: applied sequences, ascending, disjoint, never adjacent. */
  private constructor(
    private readonly ranges: Range[],
    private readonly droppedBefore: number,
  ) {}

  static of(fields: GuardFields | undefined): ReplayGuard {
    if (!fields) return new ReplayGuard([], 0);
    const last = Number(fields.lastSequence);
    let from = fields.firstSequence ?? 0;
    const ranges: Range[] = [];
    for (const [gapFrom, gapTo] of fields.missingSequences ?? []) {
      if (gapFrom > from) ranges.push([from, gapFrom - 1]);
      from = gapTo + 1;
    }
    if (from <= last) ranges.push([from, last]);
    return new ReplayGuard(ranges, fields.droppedGaps ?? 0);
  }

  has(record: SequencedRecord): boolean {
    const sequence = replaySequence(record);
    const top = this.ranges[this.ranges.length - 1];
    if (!top || sequence > top[1]) return false; // the usual case: beyond everything applied
    return this.indexOf(sequence) !== undefined;
  }

  add(record: SequencedRecord): void {
    this.insert(replaySequence(record));
    if (this.ranges.length - 1 > MAX_GAPS) {
      // Give up the lowest gap: the oldest one, since gaps open only above everything applied.
      const [lowest, next] = this.ranges;
      if (lowest && next) this.ranges.splice(0, 2, [lowest[0], next[1]]);
      this.droppedNow += 1;
    }
  }

  toFields(): GuardFields {
    const first = this.ranges[0];
    const top = this.ranges[this.ranges.length - 1];
    if (!first || !top) throw new Error('an empty sequence guard is never stored');
    const missing: [number, number][] = [];
    for (let index = 1; index < this.ranges.length; index++) {
      const below = this.ranges[index - 1];
      const range = this.ranges[index];
      if (below && range) missing.push([below[1] + 1, range[0] - 1]);
    }
    const dropped = this.droppedBefore + this.droppedNow;
    return {
      lastSequence: top[1],
      ...(first[0] !== 0 ? { firstSequence: first[0] } : {}),
      ...(missing.length > 0 ? { missingSequences: missing } : {}),
      ...(dropped > 0 ? { droppedGaps: dropped } : {}),
    };
  }

  private indexOf(sequence: number): number | undefined {
    // Binary search: the ranges are ascending.
    let low = 0;
    let high = this.ranges.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const range = this.ranges[middle];
      if (!range) return undefined;
      if (sequence < range[0]) high = middle - 1;
      else if (sequence > range[1]) low = middle + 1;
      else return middle;
    }
    return undefined;
  }

  private insert(sequence: number): void {
    // Usually the record extends the highest range: check that first.
    const top = this.ranges[this.ranges.length - 1];
    if (top && sequence === top[1] + 1) {
      top[1] = sequence;
      return;
    }
    let at = this.ranges.findIndex((range) => sequence < range[0]);
    if (at === -1) at = this.ranges.length;
    const below = this.ranges[at - 1];
    const above = this.ranges[at];
    const joinsBelow = below !== undefined && below[1] + 1 === sequence;
    const joinsAbove = above !== undefined && above[0] - 1 === sequence;
    if (below && above && joinsBelow && joinsAbove) this.ranges.splice(at - 1, 2, [below[0], above[1]]);
    else if (below && joinsBelow) below[1] = sequence;
    else if (above && joinsAbove) above[0] = sequence;
    else this.ranges.splice(at, 0, [sequence, sequence]);
  }
}

/** Another producer's records: their positions (offsets, Kinesis sequence numbers), exactly. */
class PositionGuard implements SequenceGuard {
  readonly droppedNow = 0;
  private last: bigint | undefined;

  constructor(fields: GuardFields | undefined) {
    // An item written before positions were exact may hold an inexact number: BigInt takes it as is.
    this.last = fields ? BigInt(fields.lastSequence) : undefined;
  }

  has(record: SequencedRecord): boolean {
    return this.last !== undefined && BigInt(record.input.offset) <= this.last;
  }

  add(record: SequencedRecord): void {
    const position = BigInt(record.input.offset);
    if (this.last === undefined || position > this.last) this.last = position;
  }

  toFields(): GuardFields {
    if (this.last === undefined) throw new Error('an empty sequence guard is never stored');
    const asNumber = Number(this.last);
    return { lastSequence: Number.isSafeInteger(asNumber) ? asNumber : this.last.toString() };
  }
}
