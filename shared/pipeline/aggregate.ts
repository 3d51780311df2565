/**
 * The aggregate step, transport-neutral: one call per trigger event, one *batch* per partition
 * slice of it (batch-slice.ts). For each batch it folds the records into the rolling state of their
 * (analysis, run, partition), adds them to time-bucket rollups, stores and publishes a summary, and
 * sends rejected rows to the dead-letter topic.
 *
 * Exactly-once effect without transactions: every state item remembers which record sequence
 * numbers it holds (see core/record-headers.ts; gap-aware, aggregate/sequence-guard.ts: over
 * Kinesis a re-sent record may arrive after later ones), and is written with a version condition. A
 * retried or duplicated batch finds its records already applied and changes nothing; its stored
 * summary is published again under the same batch id. Writes go rollups → batch summary → state, so
 * a crash in between leaves the state unchanged and the retry completes the rest (each rollup has
 * its own sequence guard).
 */
import type { AnyAnalysis } from '../core/analysis.ts';
import { type AccumulatorPayload, accumulatorJson, readAccumulator } from './aggregate/accumulator.ts';
import { batchSummary } from './aggregate/batch-summary.ts';
import { DEAD_LETTER_CHUNK, DeadLetterSink, deadLetter } from './aggregate/dead-letters.ts';
import { type FoldResult, foldBuckets } from './aggregate/fold.ts';
import { groupByOrigin, type OriginGroup, type SequencedRecord } from './aggregate/origin-groups.ts';
import { PhaseTimer } from './aggregate/phase-timer.ts';
import { addToRollup, bucketByTime, readRollups } from './aggregate/rollups.ts';
import { type SequenceGuard, sequenceGuard } from './aggregate/sequence-guard.ts';
import { countUnrouted } from './aggregate/unrouted.ts';
import { writeVersioned } from './aggregate/versioned-write.ts';
import { type BatchSlice, batchIdOf } from './batch-slice.ts';
import type { ItemStore, Publisher, StoredItem } from './ports.ts';
import { batchKey, partitionStateKey } from './state-keys.ts';

export type { BatchSlice, SliceRecord } from './batch-slice.ts';
export { batchIdOf, sliceOf } from './batch-slice.ts';

export interface AggregateDependencies {
  readonly analyses: (id: string) => AnyAnalysis | undefined;
  readonly store: ItemStore;
  readonly publisher: Publisher;
  readonly topics: { readonly clean: string; readonly dead: string };
  readonly bucketSeconds: number;
  readonly batchTtlSeconds: number;
  /** Analysis for records without driftline headers (produced by something else than replay). */
  readonly defaultAnalysis?: string;
  readonly now: () => number;
}

/** What one batch did, for logs and tests. */
export interface BatchOutcome {
  readonly batchId: string;
  readonly analysis: string | undefined;
  readonly run: string | undefined;
  readonly inputRows: number;
  readonly rejectedRows: number;
  /** True when every record had been applied before (a retry or a duplicate): nothing changed. */
  readonly duplicate: boolean;
  /** Gaps of the sequence guard this batch gave up (more than MAX_GAPS open): rows may be lost. */
  readonly droppedGaps?: number;
  /**
   * Ms per phase, the summary's `durationMs` and the phases after the summary was built (its put,
   * the state write, the publish): where an applied batch's time went (the latency bench).
   */
  readonly durationMs?: Readonly<Record<string, number>>;
}

/** One (analysis, run) group of a slice, as one batch. */
interface GroupBatch {
  readonly slice: BatchSlice;
  readonly group: OriginGroup;
  readonly batchId: string;
  readonly receivedAt: number;
}

/**
 * The records the guard does not hold yet, each added to it as it is taken, so that a second copy in
 * this very batch (a resumed replay sends records twice) is a duplicate too.
 */
function freshRecords(records: readonly SequencedRecord[], guard: SequenceGuard): SequencedRecord[] {
  return records.filter((record) => {
    if (guard.has(record)) return false;
    guard.add(record);
    return true;
  });
}

/**
 * Everything was applied before. If this very batch was the last one applied (the trigger retrying
 * after a failure late in the previous attempt), publish its stored summary again, same id.
 */
async function republishIfLast(
  batch: GroupBatch,
  lastBatch: { readonly id?: string; readonly summarySk?: string },
  deps: AggregateDependencies,
): Promise<BatchOutcome> {
  const { batchId, group } = batch;
  if (lastBatch.id === batchId && lastBatch.summarySk !== undefined) {
    const summaryPk = batchKey(group.analysis.id, batch.receivedAt, batchId).pk;
    const stored = await deps.store.get({ pk: summaryPk, sk: lastBatch.summarySk });
    if (stored) {
      await deps.publisher.publish(deps.topics.clean, [
        { key: batchId, value: JSON.stringify(stored.payload) },
      ]);
    }
  }
  return {
    batchId,
    analysis: group.analysis.id,
    run: group.run,
    inputRows: 0,
    rejectedRows: 0,
    duplicate: true,
  };
}

/** A group's batch folded in memory, ready to be written. */
interface FoldedBatch {
  readonly batch: GroupBatch;
  readonly stateItem: StoredItem | undefined;
  readonly current: AccumulatorPayload | undefined;
  readonly fresh: readonly SequencedRecord[];
  /** The state's guard with the fresh records added. */
  readonly guard: SequenceGuard;
  readonly folded: FoldResult;
  readonly timer: PhaseTimer;
}

async function processGroup(batch: GroupBatch, deps: AggregateDependencies): Promise<BatchOutcome> {
  const { slice } = batch;
  const { analysis, run } = batch.group;
  const timer = new PhaseTimer(deps.now);
  const where = { analysis: analysis.id, run, source: slice.source, partition: slice.partition };
  // The state and the rollups are independent items, so they are read in one round trip rather
  // than two (each round trip to DynamoDB is what a batch's latency is made of). Which records are
  // fresh depends on the state, so the rollups read are those of all the group's buckets: the same
  // set unless the batch is a retry, where a few reads go unused.
  const [stateItem, rollups] = await Promise.all([
    deps.store.get(partitionStateKey(analysis.id, run, slice.source, slice.partition)),
    readRollups(deps.store, where, [...bucketByTime(batch.group.records, deps.bucketSeconds).keys()]),
  ]);
  timer.lap('stateRead');
  // Read together with the state: its time is in stateRead (the key stays, for the summary's shape).
  timer.lap('rollupRead');
  const current = readAccumulator(stateItem);
  const guard = sequenceGuard(batch.group.numbering, current?.guard);
  const fresh = freshRecords(batch.group.records, guard);
  if (fresh.length === 0) {
    return republishIfLast(batch, { id: current?.lastBatchId, summarySk: current?.lastSummarySk }, deps);
  }
  const buckets = bucketByTime(fresh, deps.bucketSeconds);
  const initial = current ? analysis.stateCodec.decode(current.data) : analysis.emptyState();
  const context = { source: slice.source, batchId: batch.batchId, analysis: analysis.id, run };
  const deadLetters = new DeadLetterSink(deps.publisher, deps.topics.dead, context, deps.now);
  const folded = await foldBuckets(analysis, batch.group.numbering, initial, buckets, rollups, deadLetters);
  timer.lap('apply');
  timer.reassign('apply', 'deadLetters', deadLetters.publishMs);
  return commitBatch({ batch, stateItem, current, fresh, guard, folded, timer }, deps);
}

/**
 * Writes a folded batch in the order that makes a crash anywhere harmless (its dead letters went
 * out during the fold, under keys that a retry repeats): rollups (each with its own guard), the
 * summary (put-if-absent), the state (versioned: the commit point), then the summary to data_clean.
 */
async function commitBatch(folded: FoldedBatch, deps: AggregateDependencies): Promise<BatchOutcome> {
  const { batch, fresh, guard, timer, current } = folded;
  const { slice, batchId, receivedAt } = batch;
  const { analysis, run } = batch.group;
  const { contributions, rejectedRows, inputRows } = folded.folded;
  const expiresAt = Math.floor(receivedAt / 1000) + deps.batchTtlSeconds;
  // Each bucket's rollup is its own item with its own sequence guard: written concurrently. All of
  // them land before the summary and the state (the commit point), so the crash-safe order holds.
  await Promise.all(
    contributions.map((contribution) => addToRollup(deps.store, analysis, contribution, expiresAt)),
  );
  timer.lap('rollupWrite');

  const summaryKey = batchKey(analysis.id, receivedAt, batchId);
  const summary = batchSummary({
    analysis,
    run,
    source: slice.source,
    partition: slice.partition,
    batchId,
    total: folded.folded.total,
    inputRows,
    fresh,
    bucketStarts: contributions.map((contribution) => contribution.start),
    eventTime: folded.folded.eventTime,
    durationMs: timer.durations(),
    receivedAtMs: receivedAt,
    nowMs: deps.now(),
  });
  await deps.store.put({ ...summaryKey, version: 1, payload: summary, expiresAt }, { kind: 'absent' });
  timer.lap('summaryWrite');

  const next = accumulatorJson({
    guard: guard.toFields(),
    data: analysis.stateCodec.encode(folded.folded.state),
    rows: (current?.rows ?? 0) + inputRows,
    batches: (current?.batches ?? 0) + 1,
    rejectedRows: (current?.rejectedRows ?? 0) + rejectedRows,
    lastBatchId: batchId,
    lastSummarySk: summaryKey.sk,
  });
  const stateKey = partitionStateKey(analysis.id, run, slice.source, slice.partition);
  await writeVersioned(deps.store, stateKey, folded.stateItem, next);
  timer.lap('stateWrite');

  await deps.publisher.publish(deps.topics.clean, [{ key: batchId, value: JSON.stringify(summary) }]);
  timer.lap('publish');
  const dropped = guard.droppedNow;
  return {
    batchId,
    analysis: analysis.id,
    run,
    inputRows,
    rejectedRows,
    duplicate: false,
    ...(dropped > 0 ? { droppedGaps: dropped } : {}),
    durationMs: timer.durations(),
  };
}

/** Records no analysis can take: dead letters, counted per partition, reported as one outcome. */
async function rejectUnrouted(
  slice: BatchSlice,
  batchId: string,
  rejections: ReturnType<typeof groupByOrigin>['rejections'],
  deps: AggregateDependencies,
): Promise<BatchOutcome> {
  for (let start = 0; start < rejections.length; start += DEAD_LETTER_CHUNK) {
    const letters = rejections.slice(start, start + DEAD_LETTER_CHUNK).map((rejection) =>
      deadLetter(rejection, {
        source: slice.source,
        batchId,
        analysis: rejection.analysis,
        run: undefined,
      }),
    );
    await deps.publisher.publish(deps.topics.dead, letters);
  }
  await countUnrouted(slice, rejections, deps.store, deps.now());
  const rows = rejections.length;
  return {
    batchId,
    analysis: undefined,
    run: undefined,
    inputRows: rows,
    rejectedRows: rows,
    duplicate: false,
  };
}

async function aggregateSlice(slice: BatchSlice, deps: AggregateDependencies): Promise<BatchOutcome[]> {
  const outcomes: BatchOutcome[] = [];
  if (slice.records.length === 0) return outcomes;
  const receivedAt = deps.now();
  const batchId = batchIdOf(slice);
  const { groups, rejections } = groupByOrigin(slice, deps.analyses, deps.defaultAnalysis);
  if (rejections.length > 0) outcomes.push(await rejectUnrouted(slice, batchId, rejections, deps));
  for (const group of groups) {
    // Several (analysis, run) groups in one slice share its positions: suffix the id to keep it unique.
    const id = groups.length > 1 ? `${batchId}~${group.analysis.id}~${group.run}` : batchId;
    outcomes.push(await processGroup({ slice, group, batchId: id, receivedAt }, deps));
  }
  return outcomes;
}

/**
 * Processes every slice of one trigger event. Throws only on infrastructure faults (the trigger then
 * delivers the whole event again, which the sequence guards make harmless).
 */
export async function aggregateSlices(
  slices: readonly BatchSlice[],
  deps: AggregateDependencies,
): Promise<BatchOutcome[]> {
  // Different partitions have independent state items: processed concurrently. Slices of one
  // partition (a trigger sends one per partition, a caller may send more) in order.
  const byPartition = new Map<string, BatchSlice[]>();
  for (const slice of slices) {
    const key = `${slice.source}\u0000${slice.partition}`;
    const list = byPartition.get(key);
    if (list) list.push(slice);
    else byPartition.set(key, [slice]);
  }
  const perPartition = await Promise.all(
    [...byPartition.values()].map(async (partitionSlices) => {
      const outcomes: BatchOutcome[] = [];
      for (const slice of partitionSlices) outcomes.push(...(await aggregateSlice(slice, deps)));
      return outcomes;
    }),
  );
  return perPartition.flat();
}
