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
 */
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

type Range = [bigint, bigint];

function jsonNumber(value: bigint): number | string {
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value.toString();
}

export class SequenceGuard {
  /** Applied sequences: ascending, disjoint, never adjacent. */
  private ranges: Range[];
  /** Gaps given up by this guard's item, and by this guard since it was read. */
  private droppedBefore: number;
  droppedNow = 0;

  private constructor(
    readonly numbering: Numbering,
    ranges: Range[],
    dropped: number,
  ) {
    this.ranges = ranges;
    this.droppedBefore = dropped;
  }

  /** The guard of an item (undefined: nothing applied yet). */
  static of(numbering: Numbering, fields: GuardFields | undefined): SequenceGuard {
    if (!fields) return new SequenceGuard(numbering, [], 0);
    const last = BigInt(fields.lastSequence);
    let from = BigInt(fields.firstSequence ?? 0);
    const ranges: Range[] = [];
    for (const [gapFrom, gapTo] of fields.missingSequences ?? []) {
      if (BigInt(gapFrom) > from) ranges.push([from, BigInt(gapFrom) - 1n]);
      from = BigInt(gapTo) + 1n;
    }
    if (from <= last) ranges.push([from, last]);
    return new SequenceGuard(numbering, ranges, fields.droppedGaps ?? 0);
  }

  /** The highest sequence applied, if any. */
  get last(): bigint | undefined {
    return this.ranges[this.ranges.length - 1]?.[1];
  }

  /** True when the record was applied before (a duplicate). */
  has(sequence: bigint): boolean {
    if (this.numbering === 'position') {
      const last = this.last;
      return last !== undefined && sequence <= last;
    }
    return this.indexOf(sequence) !== undefined;
  }

  /** Records `sequence` as applied (it must not be: ask `has` first). */
  add(sequence: bigint): void {
    if (this.numbering === 'position') {
      const last = this.last;
      this.ranges = [[0n, last === undefined || sequence > last ? sequence : last]];
      return;
    }
    this.insert(sequence);
    if (this.ranges.length - 1 > MAX_GAPS) {
      // Give up the lowest gap: the oldest one, since gaps open only above everything applied.
      const [lowest, next] = this.ranges;
      if (lowest && next) this.ranges.splice(0, 2, [lowest[0], next[1]]);
      this.droppedNow += 1;
    }
  }

  /** The item fields of the guard (only lastSequence while there are no gaps). */
  toFields(): GuardFields {
    const first = this.ranges[0];
    const last = this.last;
    if (!first || last === undefined) throw new Error('an empty sequence guard is never stored');
    const missing: [number, number][] = [];
    for (let index = 1; index < this.ranges.length; index++) {
      const below = this.ranges[index - 1];
      const range = this.ranges[index];
      if (below && range) missing.push([Number(below[1] + 1n), Number(range[0] - 1n)]);
    }
    const dropped = this.droppedBefore + this.droppedNow;
    return {
      lastSequence: jsonNumber(last),
      ...(this.numbering === 'replay' && first[0] !== 0n ? { firstSequence: Number(first[0]) } : {}),
      ...(missing.length > 0 ? { missingSequences: missing } : {}),
      ...(dropped > 0 ? { droppedGaps: dropped } : {}),
    };
  }

  private indexOf(sequence: bigint): number | undefined {
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

  private insert(sequence: bigint): void {
    // Usually the record extends the highest range: check that first.
    const top = this.ranges[this.ranges.length - 1];
    if (top && sequence === top[1] + 1n) {
      top[1] = sequence;
      return;
    }
    let at = this.ranges.findIndex((range) => sequence < range[0]);
    if (at === -1) at = this.ranges.length;
    const below = this.ranges[at - 1];
    const above = this.ranges[at];
    const joinsBelow = below !== undefined && below[1] + 1n === sequence;
    const joinsAbove = above !== undefined && above[0] - 1n === sequence;
    if (below && above && joinsBelow && joinsAbove) this.ranges.splice(at - 1, 2, [below[0], above[1]]);
    else if (below && joinsBelow) below[1] = sequence;
    else if (above && joinsAbove) above[0] = sequence;
    else this.ranges.splice(at, 0, [sequence, sequence]);
  }
}
