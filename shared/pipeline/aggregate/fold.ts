/**
 * Folds a group's fresh records into the partition state, bucket by bucket, so that the same step
 * yields both the new state and what each time bucket's rollup must add.
 *
 * Memory stays bounded whatever the records hold: the analysis is applied to at most
 * APPLY_CHUNK_BYTES of record values at a time, and each call's rejections go to the dead-letter
 * sink (sent and let go) before the next call. Cutting a bucket into several calls is allowed by
 * the analysis contract (core/analysis.ts: the cumulative result does not depend on the cut), and
 * their contributions are merged as the buckets' are.
 */
import type { AnyAnalysis, Rejection } from '../../core/analysis.ts';
import type { SequencedRecord } from './origin-groups.ts';
import type { RollupContribution, RollupRead } from './rollups.ts';
import { type Numbering, sequenceGuard } from './sequence-guard.ts';

/**
 * Record bytes per call of the analysis. 256 KiB of the worst input (a bad row per two bytes) is
 * ~130,000 rejections held at once, tens of MB; typical records (one to a thousand rows of ~30
 * bytes) give tens to thousands of records per call, so the per-call cost stays invisible.
 */
export const APPLY_CHUNK_BYTES = 256 * 1024;

export interface EventTimeRange {
  readonly minMs: number;
  readonly maxMs: number;
  readonly watermarkMs: number;
}

/** Where a fold's rejections go as they are found. */
export interface RejectionSink {
  add(rejections: readonly Rejection[]): Promise<void>;
}

export interface FoldResult {
  readonly state: unknown;
  /** The whole batch's contribution (all buckets), for its summary. */
  readonly total: unknown;
  readonly inputRows: number;
  readonly rejectedRows: number;
  /** Only buckets whose rollup still lacks some of the records. */
  readonly contributions: readonly RollupContribution[];
  readonly eventTime: EventTimeRange | undefined;
}

function widen(
  range: EventTimeRange | undefined,
  step: EventTimeRange | undefined,
): EventTimeRange | undefined {
  if (!step) return range;
  if (!range) return step;
  return {
    minMs: Math.min(range.minMs, step.minMs),
    maxMs: Math.max(range.maxMs, step.maxMs),
    watermarkMs: Math.max(range.watermarkMs, step.watermarkMs),
  };
}

/** Consecutive runs of records of at most `maxBytes` of values each (at least one record a run). */
export function* byteChunks(
  records: readonly SequencedRecord[],
  maxBytes: number,
): Generator<SequencedRecord[]> {
  let chunk: SequencedRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = record.input.value.length;
    if (chunk.length > 0 && bytes + size > maxBytes) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(record);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}

/** What applying some records added: their contribution, rows and rejections. */
interface Applied {
  readonly batch: unknown;
  readonly rows: number;
  readonly rejected: number;
}

class Fold {
  state: unknown;
  total: unknown;
  inputRows = 0;
  rejectedRows = 0;
  eventTime: EventTimeRange | undefined;

  constructor(
    private readonly analysis: AnyAnalysis,
    initialState: unknown,
    private readonly sink: RejectionSink,
  ) {
    this.state = initialState;
    this.total = analysis.emptyBatch();
  }

  /** Applies records in byte-bounded calls; returns what they added together. */
  async apply(records: readonly SequencedRecord[]): Promise<Applied> {
    let batch = this.analysis.emptyBatch();
    let rows = 0;
    let rejected = 0;
    for (const chunk of byteChunks(records, APPLY_CHUNK_BYTES)) {
      const step = this.analysis.applyBatch(
        this.state,
        chunk.map((record) => record.input),
      );
      this.state = step.state;
      batch = this.analysis.mergeBatches(batch, step.batch);
      rows += step.inputRows;
      rejected += step.rejections.length;
      this.eventTime = widen(this.eventTime, step.eventTime);
      await this.sink.add(step.rejections);
    }
    this.total = this.analysis.mergeBatches(this.total, batch);
    this.inputRows += rows;
    this.rejectedRows += rejected;
    return { batch, rows, rejected };
  }
}

export async function foldBuckets(
  analysis: AnyAnalysis,
  numbering: Numbering,
  initialState: unknown,
  buckets: ReadonlyMap<number, readonly SequencedRecord[]>,
  rollups: ReadonlyMap<number, RollupRead>,
  sink: RejectionSink,
): Promise<FoldResult> {
  const fold = new Fold(analysis, initialState, sink);
  const contributions: RollupContribution[] = [];
  for (const [start, records] of buckets) {
    const rollup = rollups.get(start);
    if (!rollup) throw new Error(`no rollup read for bucket ${start}`);
    // A rollup may already hold some of its bucket's records (a crash after the rollup write and
    // before the state write, then a redelivery): those go into the state, not again into the rollup.
    // Each rollup has its own guard, as gap-aware as the state's (sequence-guard.ts).
    const guard = sequenceGuard(numbering, rollup.current?.guard);
    const already: SequencedRecord[] = [];
    const notYet: SequencedRecord[] = [];
    for (const record of records) {
      if (guard.has(record)) already.push(record);
      else {
        guard.add(record);
        notYet.push(record);
      }
    }
    if (already.length > 0) await fold.apply(already);
    if (notYet.length === 0) continue;
    const applied = await fold.apply(notYet);
    contributions.push({ start, ...applied, guard: guard.toFields(), rollup });
  }
  const { state, total, inputRows, rejectedRows, eventTime } = fold;
  return { state, total, inputRows, rejectedRows, contributions, eventTime };
}
