/**
 * Folds a group's fresh records into the partition state, bucket by bucket, so that the same step
 * yields both the new state and what each time bucket's rollup must add.
 */
import type { AnyAnalysis, BatchStep, Rejection } from '../../core/analysis.ts';
import type { SequencedRecord } from './origin-groups.ts';
import type { RollupContribution, RollupRead } from './rollups.ts';

export interface EventTimeRange {
  readonly minMs: number;
  readonly maxMs: number;
  readonly watermarkMs: number;
}

export interface FoldResult {
  readonly state: unknown;
  /** The whole batch's contribution (all buckets), for its summary. */
  readonly total: unknown;
  readonly inputRows: number;
  readonly rejections: readonly Rejection[];
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

export function foldBuckets(
  analysis: AnyAnalysis,
  initialState: unknown,
  buckets: ReadonlyMap<number, readonly SequencedRecord[]>,
  rollups: ReadonlyMap<number, RollupRead>,
): FoldResult {
  let state = initialState;
  let total = analysis.emptyBatch();
  let inputRows = 0;
  let eventTime: EventTimeRange | undefined;
  const rejections: Rejection[] = [];
  const contributions: RollupContribution[] = [];
  const apply = (records: readonly SequencedRecord[]): BatchStep<unknown, unknown> => {
    const step = analysis.applyBatch(
      state,
      records.map((record) => record.input),
    );
    state = step.state;
    total = analysis.mergeBatches(total, step.batch);
    inputRows += step.inputRows;
    rejections.push(...step.rejections);
    eventTime = widen(eventTime, step.eventTime);
    return step;
  };
  for (const [start, records] of buckets) {
    const rollup = rollups.get(start);
    if (!rollup) throw new Error(`no rollup read for bucket ${start}`);
    // A rollup may already hold a prefix of its bucket's records (a crash after the rollup write and
    // before the state write, then a redelivery): those go into the state, not again into the rollup.
    const inRollup = rollup.current?.lastSequence ?? -1;
    const already = records.filter((record) => record.sequence <= inRollup);
    const notYet = records.filter((record) => record.sequence > inRollup);
    if (already.length > 0) apply(already);
    if (notYet.length === 0) continue;
    const step = apply(notYet);
    contributions.push({
      start,
      batch: step.batch,
      rows: step.inputRows,
      rejected: step.rejections.length,
      lastSequence: Math.max(...notYet.map((record) => record.sequence)),
      rollup,
    });
  }
  return { state, total, inputRows, rejections, contributions, eventTime };
}
