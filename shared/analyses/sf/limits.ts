/**
 * Size limits of `sf`, and the largest outputs they allow.
 *
 * Without them one hostile object made every output as large as its input: 20 calls with 900 KB
 * crime-type names gave a 54 MB `data_clean` message, state item and API answer, and 100,000 distinct
 * names would grow the state and every summary by as many entries (Kafka's default message limit is
 * 1 MiB, a Lambda response 6 MB). Three kinds of limit bound them:
 *
 * 1. Rows: a framer refuses an object with a row (line, array element) longer than MAX_ROW_BYTES, so
 *    replay never buffers or sends an unbounded row (the object is refused with that message).
 * 2. Field lengths (row-parser.ts): a row with a known field longer than MAX_FIELD_BYTES allows is
 *    rejected as `field-too-long`. Lengths are measured as the UTF-8 bytes of the value's JSON text
 *    without its quotes (jsonTextBytes), because that is what the value costs in every output: for the
 *    real data (plain ASCII) it is the number of characters, and a name of control characters, quotes or
 *    lone surrogates (6 bytes each once escaped) cannot slip past a character count. The limits are
 *    several times the longest value of the real file (199,999 calls, measured: see the comments), so
 *    no real row is rejected.
 * 3. Distinct values: each partition's state keeps at most MAX_CRIME_TYPES crime types, MAX_DISPOSITIONS
 *    dispositions and MAX_WINDOW_CRIME_TYPES crime types per window; a row whose name does not fit is
 *    still counted, under the OTHER bucket (counts.ts), and summaries report that bucket as
 *    `crime_types_other` / `dispositions_other` with a note. Merging partitions or batches keeps the top
 *    names by count and folds the rest into OTHER.
 *    Why fold rather than reject: every distinct row stays counted (rows_distinct = the sum of the
 *    crime-type counts, dispositions and windows alike), dedup stays exact, and whether a row counts
 *    does not depend on which names its partition happened to see first (only the bucket it is counted
 *    under does); rejecting would lose real rows of a partition that is merely full. Why these numbers: the real file
 *    has 3,418 crime types, 28 dispositions and at most 27 crime types in one 10-minute window, so
 *    nothing is folded on it and every count equals the source job's; the source job's complete
 *    per-type output is reproduced exactly for any input with up to 5,000 crime types.
 *    Within a partition the names kept are the first ones seen (that depends only on the row order,
 *    so counts still do not depend on where batches are cut); past the cap, which names are listed is
 *    approximate, the totals are not.
 *
 * The largest outputs (JSON text, UTF-8 bytes; computed below from the limits with every count taken
 * as 2^53 − 1, checked by test/unit/sf/limits.test.ts with hostile rows, which reach 87 % of them):
 * - a summary body (`summarizeBatch`: the body of a `data_clean` message and of a rollup bucket;
 *   `summarizeState`: the cumulative view): MAX_SUMMARY_BYTES = 644,908 (≈ 630 KiB). The `data_clean`
 *   message adds the pipeline's envelope (ids, progress: about 1 KB), leaving it ~400 KB under Kafka's
 *   1 MiB default.
 * - the API's summary answer (that body with the radio-code descriptions joined in):
 *   MAX_DESCRIBED_SUMMARY_BYTES = 691,709 (≈ 676 KiB), far under the 6 MB Lambda response.
 * - a partition's state item (`stateCodec.encode`): MAX_STATE_BYTES_WITHOUT_DEDUP = 573,608
 *   (≈ 560 KiB) plus the dedup keys, 10⅔ bytes per distinct call held (twice that in bounded mode:
 *   maxStateBytes). The keys are the source job's exact dedup and grow with the distinct calls a
 *   partition has seen, whatever the limits (bounded mode evicts them); the state store moves items
 *   over 350 KB to S3 (overflow-store.ts), so they are not bound by DynamoDB's 400 KB item limit.
 *   (State items are never sent on Kafka nor returned by the API: only summaries of them are.)
 */
import type { Json } from '../../core/analysis.ts';
import {
  CLOSED_WINDOWS_KEPT,
  SUMMARY_RECENT_WINDOWS,
  SUMMARY_TOP_TYPES_PER_WINDOW,
  WATERMARK_DELAY_MS,
  WINDOW_SIZE_MS,
  WINDOW_SLIDE_MS,
} from './fields.ts';

/**
 * A row longer than this (bytes; an array element counted without the whitespace between its tokens)
 * makes its object refused: the longest real call is 476 bytes, one with every field at its limit
 * about 1.2 KB, so 64 KiB leaves room for fields DataSF may add and none for a runaway line.
 */
export const MAX_ROW_BYTES = 64 * 1024;

/**
 * The longest value each field of a call may have (UTF-8 bytes of its JSON text, jsonTextBytes), with
 * the longest in the real file beside it. Fields not listed are not checked (the row length bounds them,
 * and the analysis reads only the three it keeps).
 */
export const MAX_FIELD_BYTES: Readonly<Record<string, number>> = {
  crime_id: 32, // real: 9
  original_crime_type_name: 64, // real: 20 ("Wanted Vehicle / Sub": the source truncates at 20)
  report_date: 40, // real: 23 (2018-12-31T00:00:00.000; 40 allows nanoseconds and a zone)
  call_date: 40, // real: 23
  offense_date: 40, // real: 23
  call_time: 16, // real: 5 (23:57)
  call_date_time: 40, // real: 23
  disposition: 32, // real: 12 ("Not recorded")
  address: 200, // real: 46
  city: 64, // real: 13
  state: 16, // real: 2
  agency_id: 16, // real: 1
  address_type: 64, // real: 15
  common_location: 200, // real: 40
};

/** Distinct crime types a state, a batch or a summary lists (real file: 3,418). */
export const MAX_CRIME_TYPES = 5_000;
/** Distinct dispositions a state, a batch or a summary lists (real file: 28, radio_code.json: 19). */
export const MAX_DISPOSITIONS = 200;
/** Distinct crime types counted per event-time window (real file: at most 27 in a 10-minute window). */
export const MAX_WINDOW_CRIME_TYPES = 100;
/** The longest radio-code description the reference table may hold (real: 26 bytes). */
export const MAX_DESCRIPTION_BYTES = 200;

const encoder = new TextEncoder();
/** Printable ASCII without `"` and `\`: one byte each in JSON text. */
const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** UTF-8 bytes of the JSON text of `value` without its quotes (`"a\"b"` → 4): its cost in any output. */
export function jsonTextBytes(value: string): number {
  if (PLAIN_ASCII.test(value)) return value.length;
  return encoder.encode(JSON.stringify(value)).length - 2;
}

// --- the bounds, from the limits ------------------------------------------------------------------

const LARGEST_COUNT = Number.MAX_SAFE_INTEGER;
/** The longest ISO text of a window bound (a six-digit year): `+275760-09-13T00:00:00.000Z`. */
const LONGEST_ISO = new Date(8.64e15).toISOString();

function nameOf(bytes: number): string {
  return 'x'.repeat(bytes);
}

/** JSON bytes of a list entry: the value and the comma after it. */
function entryBytes(value: Json): number {
  return encoder.encode(JSON.stringify(value)).length + 1;
}

/**
 * Everything in a summary body but its three lists: counters, rejection counts (a fixed set of
 * reasons), dedup, event times, `*_other` counts, notes. The test builds it with every counter at
 * 2^53 − 1, every reason and every note present.
 */
export const SUMMARY_FIXED_BYTES = 4_096;
/** Everything in a state item but its lists and dedup keys: version, counters, reasons, event time. */
export const STATE_FIXED_BYTES = 2_048;

const CRIME_TYPE_LENGTH = MAX_FIELD_BYTES.original_crime_type_name ?? 0;
const DISPOSITION_LENGTH = MAX_FIELD_BYTES.disposition ?? 0;

const summaryCrimeType = entryBytes({
  original_crime_type_name: nameOf(CRIME_TYPE_LENGTH),
  count: LARGEST_COUNT,
});
const summaryDisposition = entryBytes({
  disposition: nameOf(DISPOSITION_LENGTH),
  count: LARGEST_COUNT,
  description: null,
});
const summaryWindow =
  entryBytes({
    start: LONGEST_ISO,
    end: LONGEST_ISO,
    final: false,
    rows: LARGEST_COUNT,
    crime_types: LARGEST_COUNT,
    crime_types_other: LARGEST_COUNT,
    top: [],
  }) +
  SUMMARY_TOP_TYPES_PER_WINDOW * summaryCrimeType;

/** The largest `summarizeBatch` / `summarizeState` body (JSON, UTF-8 bytes). */
export const MAX_SUMMARY_BYTES =
  SUMMARY_FIXED_BYTES +
  MAX_CRIME_TYPES * summaryCrimeType +
  MAX_DISPOSITIONS * summaryDisposition +
  SUMMARY_RECENT_WINDOWS * summaryWindow;

/** What the radio-code join adds: a description per disposition, and the codes it lacks. */
export const MAX_DESCRIBED_SUMMARY_BYTES =
  MAX_SUMMARY_BYTES +
  MAX_DISPOSITIONS * (MAX_DESCRIPTION_BYTES + 2 - 'null'.length) +
  entryBytes({
    disposition_descriptions: {
      source: 'radio_code.json',
      codes_in_table: LARGEST_COUNT,
      rows_described: LARGEST_COUNT,
      rows_without_description: LARGEST_COUNT,
      codes_without_description: [],
    },
  }) +
  MAX_DISPOSITIONS * entryBytes(nameOf(DISPOSITION_LENGTH));

/**
 * Windows a partition's state holds: the open ones — an on-time row's windows start after
 * max event time − watermark delay − window size, and later than the max none can start, so at most
 * (5 + 10) / 5 = 3 — and CLOSED_WINDOWS_KEPT closed ones.
 */
export const STATE_WINDOWS = (WATERMARK_DELAY_MS + WINDOW_SIZE_MS) / WINDOW_SLIDE_MS + CLOSED_WINDOWS_KEPT;

const stateCrimeType = entryBytes([nameOf(CRIME_TYPE_LENGTH), LARGEST_COUNT]);
const stateDisposition = entryBytes([nameOf(DISPOSITION_LENGTH), LARGEST_COUNT]);
const stateWindow = entryBytes([LARGEST_COUNT, []]) + (MAX_WINDOW_CRIME_TYPES + 1) * stateCrimeType;

/** The largest encoded state item but its dedup keys; the OTHER bucket is one entry more per list. */
export const MAX_STATE_BYTES_WITHOUT_DEDUP =
  STATE_FIXED_BYTES +
  (MAX_CRIME_TYPES + 1) * stateCrimeType +
  (MAX_DISPOSITIONS + 1) * stateDisposition +
  STATE_WINDOWS * stateWindow;

/** Base64 JSON text of `count` entries of 8 bytes (a key, or a bounded-mode event time). */
function base64Bytes(count: number): number {
  return 4 * Math.ceil((count * 8) / 3);
}

/** The largest encoded state item holding `dedupKeys` keys (bounded mode also stores their times). */
export function maxStateBytes(dedupKeys: number, keepsTimes: boolean): number {
  return MAX_STATE_BYTES_WITHOUT_DEDUP + base64Bytes(dedupKeys) * (keepsTimes ? 2 : 1);
}
