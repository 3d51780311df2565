/**
 * The single-table layout (pk / sk) of the state table. All keys are built here, so the writers
 * (aggregate, replay) and the readers (api) cannot disagree.
 *
 *   pk                      sk                                    what
 *   state#<analysis>        <run>#<topic>#<partition>             cumulative state of one (run, partition)
 *   rollup#<analysis>       <bucketStartMs:15>#<run>#<topic>#<p>  what one (run, partition) added in a time bucket
 *   batch#<analysis>        <writtenAtMs:15>#<batchId>            recent per-batch summaries (TTL), in write order
 *   replay                  <bucket>/<key>                        replay checkpoint and progress of one object
 *   unrouted                <topic>#<partition>                   records no analysis could take, counted
 */
import type { ItemKey } from './ports.ts';

/**
 * The run of one replay of an object: its key and the first 12 hex digits of its ETag, so that a
 * new version of the same key is a new run, and a replay resumed from its checkpoint the same one.
 */
export function replayRunOf(objectKey: string, etag: string): string {
  return `${objectKey}@${etag.replaceAll('"', '').slice(0, 12)}`;
}

/** One string per item, for maps keyed by item (pk and sk may hold any character but NUL). */
export function itemIdentity(key: ItemKey): string {
  return `${key.pk}\u0000${key.sk}`;
}

/** Fixed-width epoch milliseconds, so that string order is time order. */
export function sortableMs(ms: number): string {
  return Math.max(0, Math.floor(ms)).toString().padStart(15, '0');
}

export function partitionStateKey(analysis: string, run: string, topic: string, partition: number): ItemKey {
  return { pk: `state#${analysis}`, sk: `${run}#${topic}#${partition}` };
}

export function rollupKey(
  analysis: string,
  bucketStartMs: number,
  run: string,
  topic: string,
  partition: number,
): ItemKey {
  return { pk: `rollup#${analysis}`, sk: `${sortableMs(bucketStartMs)}#${run}#${topic}#${partition}` };
}

/** The bucket start encoded at the front of a rollup sort key. */
export function rollupBucketStart(sk: string): number {
  return Number(sk.slice(0, 15));
}

/** Keyed by when it was written, so a reader polling "after my cursor" never misses a late batch. */
export function batchKey(analysis: string, writtenAtMs: number, batchId: string): ItemKey {
  return { pk: `batch#${analysis}`, sk: `${sortableMs(writtenAtMs)}#${batchId}` };
}

/** The API's batch cursor: the last sort key seen, opaque to clients (keys may hold any character). */
export function encodeBatchCursor(sk: string): string {
  return Buffer.from(sk, 'utf8').toString('base64url');
}

export function decodeBatchCursor(cursor: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(cursor)) return undefined;
  const sk = Buffer.from(cursor, 'base64url').toString('utf8');
  return /^\d{15}#/.test(sk) ? sk : undefined;
}

export function replayKey(bucket: string, objectKey: string): ItemKey {
  return { pk: 'replay', sk: `${bucket}/${objectKey}` };
}

/** Records of one topic-partition that no analysis could take (no or unknown driftline headers). */
export function unroutedKey(topic: string, partition: number): ItemKey {
  return { pk: 'unrouted', sk: `${topic}#${partition}` };
}
