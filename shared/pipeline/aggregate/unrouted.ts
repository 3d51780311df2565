/**
 * Counts the records no analysis could take, per topic-partition and reason, so that they show in
 * the API's health and not only in data_dead. They carry no sequence number, so the guard is the
 * position: partitions are delivered in order, one batch at a time, and a retry repeats positions
 * already counted. Written after the dead letters (which a retry may publish again, same keys).
 */
import { isJsonObject, type Json, type JsonObject, type Rejection } from '../../core/analysis.ts';
import { comparePositions, positionJson } from '../../core/position.ts';
import { type BatchSlice, lastPosition } from '../batch-slice.ts';
import type { ItemStore } from '../ports.ts';
import { unroutedKey } from '../state-keys.ts';
import { countByReason } from './dead-letters.ts';
import { writeVersioned } from './versioned-write.ts';

function countsOf(value: Json | undefined): Record<string, number> {
  const counts: Record<string, number> = {};
  if (!isJsonObject(value)) return counts;
  for (const [reason, count] of Object.entries(value)) if (typeof count === 'number') counts[reason] = count;
  return counts;
}

export async function countUnrouted(
  slice: BatchSlice,
  rejections: readonly Rejection[],
  store: ItemStore,
  nowMs: number,
): Promise<void> {
  const key = unroutedKey(slice.source, slice.partition);
  const item = await store.get(key);
  const current = item && isJsonObject(item.payload) ? item.payload : undefined;
  const stored = current?.lastOffset;
  const lastOffset = typeof stored === 'number' || typeof stored === 'string' ? String(stored) : undefined;
  const fresh = rejections.filter(
    (rejection) => lastOffset === undefined || comparePositions(rejection.offset, lastOffset) > 0,
  );
  if (fresh.length === 0) return;
  const byReason = countsOf(current?.byReason);
  for (const [reason, count] of Object.entries(countByReason(fresh)))
    byReason[reason] = (byReason[reason] ?? 0) + count;
  const payload: JsonObject = {
    topic: slice.source,
    partition: slice.partition,
    lastOffset: positionJson(lastPosition(slice)),
    rows: (typeof current?.rows === 'number' ? current.rows : 0) + fresh.length,
    byReason,
    updatedAtMs: nowMs,
  };
  await writeVersioned(store, key, item, payload);
}
