/**
 * What one API request may read from the state table and answer, per route. Lambda refuses a
 * response over 6 MB, and a read that grows with the data grows the latency and the bill of every
 * poll; so each route reads a bounded number of items and answers a bounded number of bytes,
 * whatever the table holds (the worst cases are tested in test/unit/pipeline/http-api.test.ts).
 *
 *   route               reads at most                                answers at most
 *   /analyses           nothing                                      the registry (< 1 KB)
 *   /{id}/summary       every state item of the analysis (*)         one summary and the run names
 *   /{id}/buckets       2,001 rollup items                           1 MiB of buckets, or 1 bucket
 *   /{id}/batches       2 × limit (≤ 500) batch items (†)            1 MiB of batches, or 1 batch
 *   /replays            1,001 replay checkpoints, 1,000 reconcile    100 replays in 256 KiB
 *                       records (§)
 *   /health             201 batch items per analysis, 1,001 replay   fixed figures, reason counts,
 *                       checkpoints, the unrouted counters (‡),      100 replays in 256 KiB
 *                       1,000 reconcile records (§)
 *
 * A summary, bucket or batch is as large as its analysis makes it: dt ≈ 16 KB, sf at most ≈ 0.7 MB
 * (shared/analyses/sf/limits.ts); "or 1" is for one larger than the budget, answered alone (else a
 * reader could not move on). Items read are at most a DynamoDB item (400 KB) each, or a blob.
 * (*) A cumulative summary merges every (run, partition) state, so its read grows with the runs:
 *     not bounded here (it would take a pre-merged state); with `run=` only that run's states are
 *     read (one per partition). Its answer grows only with the run names
 *     (≤ ~2 KB each): thousands of runs before 1 MB, long after reading their states (≈ 15 KB
 *     each for dt) has outgrown the function's timeout.
 * (†) Twice only when the re-read overlap behind the cursor fills a page (query.ts, batchesSince).
 * (‡) One per topic-partition: bounded by the deployment. Reason counts: one per rejection reason.
 * (§) `driftline reconcile`'s last result per object (reconcile-record.ts), a few hundred bytes each,
 *     keyed like the checkpoints: shown with its replay when it checked that replay's run.
 *
 * Buckets and batches are paged rather than refused with a 400: the bucket width is the
 * aggregate's setting (and may change between deployments) and a bucket's or batch's size is the
 * analysis', so no limit on the requested range or count bounds the bytes; a byte budget does, and
 * a client still gets any range by following the page links (`nextFromMs`, `cursor`).
 */

/** Rollup items one buckets answer merges: 10 partitions × 200 buckets, or 2,000 (run, partition). */
export const MAX_ROLLUP_ITEMS_READ = 2_000;
/** The newest batch summaries of each analysis one health answer reads. */
export const MAX_HEALTH_BATCHES = 200;
/**
 * Replay checkpoints one answer reads. There is one per object ever replayed (no TTL) and nothing
 * orders them by time, so past this many (in key order) a running replay may go unlisted and
 * uncounted in rows/s in; the answers then say `replaysTruncated`.
 */
export const MAX_REPLAY_ITEMS_READ = 1_000;
/** Replays one answer lists: running first, then the most recently updated. */
export const MAX_REPLAYS_LISTED = 100;

/** The JSON of the buckets or batches of one answer, at most (1 MiB: a sixth of Lambda's limit). */
export const MAX_PAGE_BYTES = 1024 * 1024;
export const MAX_REPLAYS_BYTES = 256 * 1024;

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** How many of `items`, from the first, fit in `maxBytes` of JSON; at least one (when there is one). */
export function countWithin<T>(items: readonly T[], maxBytes: number): number {
  let bytes = 0;
  for (let index = 0; index < items.length; index++) {
    // +1: the comma between array elements.
    bytes += jsonBytes(items[index]) + 1;
    if (bytes > maxBytes) return Math.max(1, index);
  }
  return items.length;
}
