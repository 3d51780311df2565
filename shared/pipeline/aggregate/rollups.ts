/**
 * Time-bucket rollups: what each (run, partition) added to each bucket of producer time, the
 * dashboard's "per batch" view of the source job and its longer history. Each rollup item has its
 * own sequence guard, so a batch redelivered after a crash between the rollup and the state write
 * adds to each rollup only what it lacks.
 */
import type { AnyAnalysis } from '../../core/analysis.ts';
import type { ItemKey, ItemStore, StoredItem } from '../ports.ts';
import { rollupKey } from '../state-keys.ts';
import { type AccumulatorPayload, accumulatorJson, readAccumulator } from './accumulator.ts';
import type { SequencedRecord } from './origin-groups.ts';
import type { GuardFields } from './sequence-guard.ts';
import { writeVersioned } from './versioned-write.ts';

/** A rollup item as read before the batch was applied. */
export interface RollupRead {
  readonly key: ItemKey;
  readonly item: StoredItem | undefined;
  readonly current: AccumulatorPayload | undefined;
}

/** What a batch adds to one bucket's rollup. */
export interface RollupContribution {
  readonly start: number;
  readonly batch: unknown;
  readonly rows: number;
  readonly rejected: number;
  /** The rollup's guard with this contribution's records added. */
  readonly guard: GuardFields;
  readonly rollup: RollupRead;
}

/** Records by the start of their time bucket (producer timestamp), in first-seen order. */
export function bucketByTime(
  records: readonly SequencedRecord[],
  bucketSeconds: number,
): Map<number, SequencedRecord[]> {
  const bucketMs = bucketSeconds * 1000;
  const buckets = new Map<number, SequencedRecord[]>();
  for (const record of records) {
    const start = Math.floor(record.input.timestampMs / bucketMs) * bucketMs;
    const bucket = buckets.get(start);
    if (bucket) bucket.push(record);
    else buckets.set(start, [record]);
  }
  return buckets;
}

/** Reads the rollup item of every bucket, concurrently. */
export async function readRollups(
  store: ItemStore,
  where: {
    readonly analysis: string;
    readonly run: string;
    readonly source: string;
    readonly partition: number;
  },
  starts: readonly number[],
): Promise<Map<number, RollupRead>> {
  const reads = await Promise.all(
    starts.map(async (start) => {
      const key = rollupKey(where.analysis, start, where.run, where.source, where.partition);
      const item = await store.get(key);
      return [start, { key, item, current: readAccumulator(item) }] as const;
    }),
  );
  return new Map(reads);
}

/** Adds one bucket's contribution to its rollup item. */
export async function addToRollup(
  store: ItemStore,
  analysis: AnyAnalysis,
  contribution: RollupContribution,
  expiresAt: number,
): Promise<void> {
  const { key, item, current } = contribution.rollup;
  const merged = current
    ? analysis.mergeBatches(analysis.batchCodec.decode(current.data), contribution.batch)
    : contribution.batch;
  const payload: AccumulatorPayload = {
    guard: contribution.guard,
    data: analysis.batchCodec.encode(merged),
    rows: (current?.rows ?? 0) + contribution.rows,
    batches: (current?.batches ?? 0) + 1,
    rejectedRows: (current?.rejectedRows ?? 0) + contribution.rejected,
  };
  await writeVersioned(store, key, item, accumulatorJson(payload), expiresAt);
}
