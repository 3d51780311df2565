/**
 * `sf`: San Francisco police calls for service (see `sf.md`). Rows are calls as one-line JSON objects,
 * replayed from a JSON array (streamed) or JSON lines, keyed by a hash of the dedup triple.
 *
 * Source semantics, reproduced exactly (same numbers for the same records): keep call_date_time,
 * disposition and original_crime_type_name; drop rows where one is null/missing/empty
 * (`rows_dropped_empty`); deduplicate on that triple over the whole stream; count per
 * original_crime_type_name, complete and ordered by count descending (then name). The 5-minute
 * watermark bounds nothing in that count, as in the source. Counts never depend on where batches are
 * cut (reducer.ts), and the triple-hash partition key puts all copies of a call in one partition, so
 * summing partitions is exact (replay.ts).
 *
 * Added, as the source meant to:
 * - event-time windows: counts per crime type in 10-minute windows sliding every 5 minutes; watermark
 *   = max event time − 5 min, per partition, advancing row by row; rows behind it are `rows_late`
 *   (still counted per crime type, in no window); windows the watermark has passed are evicted from
 *   state. Event time is call_date_time, a local time without zone, read as UTC (event-time.ts). The
 *   real file is sorted newest first, so replayed in file order nearly every row is late: the
 *   summaries say so (`rows_late`, `rows_out_of_order`, `notes`) — a finding about the input.
 * - dispositions with descriptions, a LEFT join with the radio-code table. Reference data is not state:
 *   summaries carry disposition codes and counts (`description: null`), and the side that can read the
 *   bucket fills descriptions with the pure `describeDispositions(summary, parseRadioCodes(bytes))`
 *   (radio-codes.ts; `sfReference` bundles the key and both functions). The analysis stays pure, the
 *   table can change without a replay, and replay refuses `radio_code.json` as calls.
 * - bounded deduplication: `createSfAnalysis({ dedup: 'bounded', horizonMinutes })` evicts keys older
 *   than watermark − horizon (config.ts). The seam has no per-run options, so a mode is an analysis
 *   instance chosen at registration: `sf` is exact (the source); registering e.g.
 *   `createSfAnalysis({ id: 'sfb', dedup: 'bounded' })` makes objects under `sfb/…` run bounded.
 *
 * State per partition: counts, the dedup keys (8 bytes per distinct call, base64 in JSON: ~213 KB for
 * 20,000 keys), open windows and the last 12 closed ones (codec.ts).
 *
 * Sizes are bounded whatever the input (limits.ts): rows over 64 KiB refuse their object at replay, a
 * field longer than its limit rejects its row (`field-too-long`), and names beyond the caps on distinct
 * crime types (5,000), dispositions (200) and crime types per window (100) are counted under
 * `*_other`. A summary body is then at most ~630 KiB, a state item ~560 KiB plus its dedup keys.
 */
import type { Analysis, ReferenceData } from '../../core/analysis.ts';
import { batchCodec, stateCodecFor } from './codec.ts';
import { type SfOptions, sfConfig } from './config.ts';
import {
  describeDispositions,
  parseRadioCodes,
  RADIO_CODES_OBJECT_KEY,
  type RadioCodes,
} from './radio-codes.ts';
import { createApplyBatch } from './reducer.ts';
import { sfReplay } from './replay.ts';
import { emptyBatch, emptyState, mergeBatches, mergeStates, type SfBatch, type SfState } from './state.ts';
import { summarizeBatch, summarizeState } from './summary.ts';

export type { SfBatch, SfState } from './state.ts';

/** Radio codes are reference data: read from the bucket by the API, joined into summaries (LEFT join). */
const radioCodesReference: ReferenceData<RadioCodes> = {
  objectKey: RADIO_CODES_OBJECT_KEY,
  parse: parseRadioCodes,
  enrich: describeDispositions,
};

/**
 * What depends on the order of rows within a partition, hence on how they are spread over partitions
 * (reconcile compares a replay's merged partitions with one stream of the same rows, and says why).
 * Everything else — rows read, dropped, duplicate and distinct, the counts per crime type and per
 * disposition — is the same however the rows are spread: every copy of a call meets in one partition.
 */
const ORDER_DEPENDENT: Readonly<Record<string, string>> = {
  rows_late:
    'each partition keeps its own watermark (its own max event time − 5 min): a row is late against the ' +
    'rows of its partition, not of the whole stream (in event-time order no row is late either way)',
  rows_out_of_order: 'a row is compared with the row before it in its own partition, not in the whole stream',
  windows:
    'a window is final once the watermark of every partition has passed it: merged, a window still open in ' +
    'one partition stays open, so `final` flags and the number of windows kept differ (rows per window ' +
    'do not, as long as no row is late)',
  notes: 'worded from rows_late and rows_out_of_order',
};

/** Bounded dedup evicts keys by each partition's watermark, so which rows are checked depends on it too. */
const ORDER_DEPENDENT_BOUNDED: Readonly<Record<string, string>> = {
  ...ORDER_DEPENDENT,
  ...Object.fromEntries(
    [
      'rows_beyond_dedup_horizon',
      'rows_duplicate',
      'rows_distinct',
      'crime_type_count',
      'crime_types',
      'dispositions',
      'dedup',
    ].map((field) => [
      field,
      'bounded dedup evicts keys older than its partition’s watermark − horizon, so which rows are checked ' +
        'for duplicates depends on each partition’s watermark (in event-time order every duplicate is still ' +
        'caught, and only the number of keys kept differs)',
    ]),
  ),
};

export function createSfAnalysis(options: SfOptions = {}): Analysis<SfState, SfBatch> {
  const config = sfConfig(options);
  const keepsTimes = config.dedup === 'bounded';
  return {
    id: config.id,
    title: config.title,
    replay: sfReplay,
    emptyState: () => emptyState(keepsTimes),
    emptyBatch,
    applyBatch: createApplyBatch(config),
    mergeBatches,
    mergeStates: (states) => mergeStates(states, keepsTimes),
    summarizeBatch: (batch) => summarizeBatch(batch, config),
    summarizeState: (state) => summarizeState(state, config),
    stateCodec: stateCodecFor(keepsTimes),
    batchCodec,
    reference: radioCodesReference,
    orderDependentFields: keepsTimes ? ORDER_DEPENDENT_BOUNDED : ORDER_DEPENDENT,
  };
}

/** The registered `sf`: exact deduplication, the source job's semantics. */
export const sfAnalysis: Analysis<SfState, SfBatch> = createSfAnalysis();

/**
 * The reference data of `sf`, for the I/O side: read `objectKey` from the dataset bucket, `parse` it
 * once per container (throws ReferenceDataError when malformed), and pass every `sf` summary body
 * through `enrich` before serving or publishing it.
 */
export const sfReference = {
  objectKey: RADIO_CODES_OBJECT_KEY,
  parse: parseRadioCodes,
  enrich: describeDispositions,
} as const;

export type { DedupMode, SfOptions } from './config.ts';
export { parseEventTime } from './event-time.ts';
export {
  DEFAULT_DEDUP_HORIZON_MINUTES,
  WATERMARK_DELAY_MS,
  WINDOW_SIZE_MS,
  WINDOW_SLIDE_MS,
} from './fields.ts';
export {
  MAX_CRIME_TYPES,
  MAX_DESCRIBED_SUMMARY_BYTES,
  MAX_DISPOSITIONS,
  MAX_FIELD_BYTES,
  MAX_ROW_BYTES,
  MAX_STATE_BYTES_WITHOUT_DEDUP,
  MAX_SUMMARY_BYTES,
  MAX_WINDOW_CRIME_TYPES,
  maxStateBytes,
} from './limits.ts';
export {
  describeDispositions,
  parseRadioCodes,
  RADIO_CODES_OBJECT_KEY,
  type RadioCodes,
  ReferenceDataError,
} from './radio-codes.ts';
export { SF_REJECTION_REASONS, type SfRejectionReason } from './rejection.ts';
export { hashTriple, tripleKey } from './triple-hash.ts';
