/**
 * The `data_clean` message: one per batch, also stored as the batch item the API serves under
 * `/batches` (README "data_clean message"). aggregate writes it (shared/pipeline/aggregate/
 * batch-summary.ts); the dashboard and the tests read it.
 *
 * The pipeline part is fixed here. The analysis' own body (dt: hit counts and histograms; sf: crime
 * types, windows…) sits at the top level beside it: open in `cleanMessage`, exact in
 * `cleanMessageOf(analysisSchema)`. One name per fact: `msg_ID` is the batch id (the source system's
 * name for it), `rows_rejected` / `rejected_by_reason` the rejection counts.
 */
import { z } from 'zod';
import { jsonValue } from './json.ts';
import { rejectionCountsShape } from './summary-body.ts';

const count = z.number().int().min(0);
/** A Kafka offset (a number) or a Kinesis sequence number (a decimal string, beyond 2^53). */
const position = z.union([count, z.string().regex(/^\d+$/)]);

/** Spark StreamingQueryProgress-style figures of one batch. */
export const batchProgress = z.object({
  numInputRows: count,
  numInputRecords: count,
  /** Rows over the span of their producer timestamps (how fast data arrived). */
  inputRowsPerSecond: z.number(),
  /** Rows over the processing time. */
  processedRowsPerSecond: z.number(),
  startOffset: position,
  endOffset: position,
  firstRecordTimestampMs: z.number(),
  lastRecordTimestampMs: z.number(),
  receivedAtMs: z.number(),
  /** Received − producer timestamp, over the batch's records. */
  lagMs: z.object({ min: z.number(), max: z.number(), avg: z.number() }),
  /** Starts of the time buckets the batch added to. */
  buckets: z.array(z.number()),
  /** Event-time analyses only (sf): ISO times. */
  eventTime: z.object({ min: z.string(), max: z.string(), watermark: z.string() }).optional(),
  /** Milliseconds per phase, for the phases done before the summary is written. */
  durationMs: z.record(z.string(), z.number()),
});

export const cleanMessageShape = {
  /** The batch id: `topic-partition-firstOffset-lastOffset` (`~analysis~run` appended when a slice held several). */
  msg_ID: z.string().min(1),
  analysis: z.string(),
  run: z.string(),
  topic: z.string(),
  partition: count,
  ...rejectionCountsShape,
  progress: batchProgress,
};

/** A `data_clean` message of any analysis: the pipeline part checked, the body's fields any JSON. */
export const cleanMessage = z.object(cleanMessageShape).catchall(jsonValue);
export type CleanMessage = z.infer<typeof cleanMessage>;

/**
 * The message of one analysis, exact: its body schema and the pipeline part. Unknown keys are
 * stripped by zod objects, so a writer is held to it by comparing the parsed value with the input
 * (test/unit/contracts).
 */
export function cleanMessageOf<Shape extends z.ZodRawShape>(body: z.ZodObject<Shape>) {
  return body.extend(cleanMessageShape);
}
