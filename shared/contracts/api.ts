/**
 * The answers of the read-only HTTP API under /api/v1 (shared/pipeline/http-api.ts, query.ts), as
 * its clients read them (the dashboard) and its tests check them. Every summary is the analysis'
 * own: open here (`jsonValue`), exact with `summaryAnswerOf` / `bucketsAnswerOf` / `batchesAnswerOf`
 * and the analysis' schema (shared/analyses/<id>/summary-schema.ts).
 *
 * Zod objects strip unknown keys, so a reader ignores fields a newer API adds; `.default` marks a
 * field an older API did not send. The back end is held to the exact shapes by the contract tests,
 * which compare each parsed answer with the answer itself (test/unit/contracts).
 */
import { z } from 'zod';
import { cleanMessage, cleanMessageOf } from './clean-message.ts';
import { jsonValue } from './json.ts';
import { rejectionCounts } from './summary-body.ts';

const count = z.number().int().min(0);
const nullableNumber = z.number().nullable();

/** GET /api/v1/analyses */
export const analysesAnswer = z.object({
  analyses: z.array(z.object({ id: z.string(), title: z.string() })),
});
export type AnalysesAnswer = z.infer<typeof analysesAnswer>;
export type AnalysisInfo = AnalysesAnswer['analyses'][number];

/** Rows, batches and rejected rows behind a summary (from the state or rollup items). */
const counters = { rows: count, batches: count, rejectedRows: count };

/** GET /api/v1/analyses/{id}/summary: the cumulative summary over all partitions (and runs, or one). */
export const summaryAnswer = z.object({
  analysis: z.string(),
  runs: z.array(z.string()),
  partitions: count,
  ...counters,
  summary: jsonValue,
});
export type SummaryAnswer = z.infer<typeof summaryAnswer>;

/** One time bucket, merged across partitions. */
export const bucketView = z.object({ bucketStartMs: z.number(), ...counters, summary: jsonValue });
export type BucketView = z.infer<typeof bucketView>;

/** GET /api/v1/analyses/{id}/buckets: one page of the range's buckets, oldest first. */
export const bucketsAnswer = z.object({
  analysis: z.string(),
  fromMs: z.number(),
  toMs: z.number(),
  buckets: z.array(bucketView),
  /**
   * The range held more than one answer does (1 MiB of buckets): the next page is
   * `from=nextFromMs&to=toMs`. Null on the last page, and from an API older than paging.
   */
  nextFromMs: nullableNumber.default(null),
});
export type BucketsAnswer = z.infer<typeof bucketsAnswer>;

/** GET /api/v1/analyses/{id}/batches: stored `data_clean` messages in write order, and the next cursor. */
export const batchesAnswer = z.object({
  analysis: z.string(),
  items: z.array(cleanMessage),
  cursor: z.string().nullable(),
});
export type BatchesAnswer = z.infer<typeof batchesAnswer>;

/** One replay's progress as the API shows it (from the checkpoint item, `ReplayProgress`). */
export const replayView = z.object({
  bucket: z.string(),
  key: z.string(),
  analysis: z.string(),
  run: z.string(),
  status: z.enum(['running', 'done', 'refused']),
  /** Why the object was refused; null otherwise. */
  message: z.string().nullable(),
  rowsSent: count,
  recordsSent: count,
  /** Rows per second asked for (0: full speed). */
  rate: z.number().min(0),
  /** 0 for an object refused before its settings were read. */
  rowsPerRecord: count,
  /** More than 1: continued (the 15-minute limit) or retried. */
  invocations: z.number().int().min(1),
  fraction: z.number().min(0).max(1),
  rowsPerSecond: z.number(),
  etaSeconds: nullableNumber,
  startedAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  /** Running, but no checkpoint for 2 minutes: its retries failed. */
  stale: z.boolean(),
  /**
   * The last `driftline reconcile` of this run: its live state compared with an offline run of the
   * object. Absent when none was written for this run (or from an API older than reconcile).
   */
  reconciled: z
    .object({
      checkedAt: z.iso.datetime(),
      /** Every quantity compared was equal. */
      equal: z.boolean(),
      rows: count,
      quantities: count,
      /** Names of the quantities that differed (at most 20). */
      differences: z.array(z.string()),
    })
    .optional(),
});
export type ReplayView = z.infer<typeof replayView>;

/**
 * The replays an answer lists: running first, then the most recently updated, at most 100;
 * `replaysTruncated` when some were left out (more objects than that, or than one answer reads).
 */
const replayList = {
  replays: z.array(replayView),
  replaysTruncated: z.boolean().default(false),
};

/** GET /api/v1/replays */
export const replaysAnswer = z.object(replayList);
export type ReplaysAnswer = z.infer<typeof replaysAnswer>;

/** GET /api/v1/health: over the last `windowSeconds`, from the batch summaries and replay progress. */
export const healthAnswer = z.object({
  windowSeconds: z.number(),
  /**
   * The window held more batch summaries than one answer reads (the newest 200 of each analysis):
   * the batch figures (rows out, batches, rejections, latency) are those of the last
   * `coveredSeconds` only. Absent from an API older than sampling: the whole window.
   */
  sampled: z.boolean().default(false),
  coveredSeconds: z.number().min(0).optional(),
  rowsInPerSecond: z.number(),
  rowsOutPerSecond: z.number(),
  batches: count,
  /** The window's batch summaries' `rows_rejected`, summed (and `rejected_by_reason`). */
  rejectedRows: count,
  rejectedByReason: rejectionCounts,
  latencyMs: z.object({ p50: nullableNumber, p99: nullableNumber, max: nullableNumber }),
  lastBatchAtMs: nullableNumber,
  // Since the start, not per window; absent from an API older than the counter.
  unroutedRows: count.default(0),
  unroutedByReason: rejectionCounts.default({}),
  ...replayList,
});
export type HealthAnswer = z.infer<typeof healthAnswer>;

/** Everything the API answers with 200. */
export type ApiAnswer =
  | AnalysesAnswer
  | SummaryAnswer
  | BucketsAnswer
  | BatchesAnswer
  | ReplaysAnswer
  | HealthAnswer;

/** The summary answer of one analysis, exact. */
export function summaryAnswerOf<Shape extends z.ZodRawShape>(summary: z.ZodObject<Shape>) {
  return summaryAnswer.extend({ summary });
}

/** The buckets answer of one analysis, exact. */
export function bucketsAnswerOf<Shape extends z.ZodRawShape>(summary: z.ZodObject<Shape>) {
  return bucketsAnswer.extend({ buckets: z.array(bucketView.extend({ summary })) });
}

/** The batches answer of one analysis, exact. */
export function batchesAnswerOf<Shape extends z.ZodRawShape>(summary: z.ZodObject<Shape>) {
  return batchesAnswer.extend({ items: z.array(cleanMessageOf(summary)) });
}
