/**
 * The last reconcile result of a replayed object, kept in the state table for the dashboard: item
 * pk `reconcile`, sk `<bucket>/<key>` (the replay checkpoint's sort key, so one per object and at most
 * as many as checkpoints), written by `driftline reconcile` (reconcile.ts), served with the object's
 * replay in `/api/v1/replays` and `/health` (query.ts). Small: counts and the names of the quantities
 * that differed, never the values.
 */
import { z } from 'zod';
import type { ItemKey, StoredItem } from './ports.ts';

/** At most this many names of differing quantities are kept. */
export const MAX_RECORDED_DIFFERENCES = 20;

export const reconcileRecord = z.object({
  bucket: z.string(),
  key: z.string(),
  analysis: z.string(),
  /** The run checked; a later run of the same key is not covered by this result. */
  run: z.string(),
  checkedAtMs: z.number(),
  /** Every quantity of the live state equalled the offline run. */
  equal: z.boolean(),
  rows: z.number().int().min(0),
  /** Quantities compared. */
  quantities: z.number().int().min(0),
  /** Names of those that differed (at most MAX_RECORDED_DIFFERENCES). */
  differences: z.array(z.string()),
});
export type ReconcileRecord = z.infer<typeof reconcileRecord>;

export const RECONCILE_PK = 'reconcile';

export function reconcileKey(bucket: string, objectKey: string): ItemKey {
  return { pk: RECONCILE_PK, sk: `${bucket}/${objectKey}` };
}

/** The record in a stored item, or undefined when it is not one (never a fault for a reader). */
export function readReconcileRecord(item: StoredItem): ReconcileRecord | undefined {
  const parsed = reconcileRecord.safeParse(item.payload);
  return parsed.success ? parsed.data : undefined;
}
