/**
 * The API's responses as far as the dashboard reads them (shared/pipeline/http-api.ts, query.ts).
 * Loose objects: fields the API adds later are ignored, fields we read are checked.
 */
import { z } from 'zod';

export const analysesResponse = z.looseObject({
  analyses: z.array(z.looseObject({ id: z.string(), title: z.string() })),
});
export type AnalysesResponse = z.infer<typeof analysesResponse>;
export type AnalysisInfo = AnalysesResponse['analyses'][number];

/** GET /analyses/{id}/summary: the analysis' own summary is validated by the analysis. */
export const summaryEnvelope = z.looseObject({
  analysis: z.string(),
  runs: z.array(z.string()),
  partitions: z.number(),
  rows: z.number(),
  batches: z.number(),
  rejectedRows: z.number(),
  summary: z.unknown(),
});

export type SummaryEnvelope = z.infer<typeof summaryEnvelope>;

export const bucketsEnvelope = z.looseObject({
  analysis: z.string(),
  fromMs: z.number(),
  toMs: z.number(),
  buckets: z.array(
    z.looseObject({
      bucketStartMs: z.number(),
      rows: z.number(),
      batches: z.number(),
      rejectedRows: z.number(),
      summary: z.unknown(),
    }),
  ),
});

export type BucketsEnvelope = z.infer<typeof bucketsEnvelope>;

export const batchesEnvelope = z.looseObject({
  analysis: z.string(),
  items: z.array(z.unknown()),
  cursor: z.string().nullable(),
});

export type BatchesEnvelope = z.infer<typeof batchesEnvelope>;

/** The pipeline fields every batch summary carries (aggregate.ts); the rest is the analysis'. */
export const batchProgress = z.looseObject({
  batchId: z.string(),
  run: z.string(),
  partition: z.number(),
  rejectedRows: z.number(),
  progress: z.looseObject({
    numInputRows: z.number(),
    processedRowsPerSecond: z.number(),
    receivedAtMs: z.number(),
    lagMs: z.looseObject({ max: z.number() }),
  }),
});

const nullableNumber = z.number().nullable();

export const replayView = z.looseObject({
  bucket: z.string(),
  key: z.string(),
  analysis: z.string().nullable().optional(),
  status: z.string(),
  message: z.string().nullable(),
  rowsSent: z.number(),
  rate: z.number(),
  fraction: z.number(),
  rowsPerSecond: z.number(),
  etaSeconds: nullableNumber,
  updatedAt: z.string(),
  stale: z.boolean(),
});
export type ReplayView = z.infer<typeof replayView>;

export const healthResponse = z.looseObject({
  windowSeconds: z.number(),
  rowsInPerSecond: z.number(),
  rowsOutPerSecond: z.number(),
  batches: z.number(),
  rejectedRows: z.number(),
  rejectedByReason: z.record(z.string(), z.number()),
  latencyMs: z.looseObject({ p50: nullableNumber, p99: nullableNumber, max: nullableNumber }),
  lastBatchAtMs: nullableNumber,
  // Since the start, not per window; absent from an API older than the counter.
  unroutedRows: z.number().default(0),
  unroutedByReason: z.record(z.string(), z.number()).default({}),
  replays: z.array(replayView),
});
export type Health = z.infer<typeof healthResponse>;
