/**
 * The `sf` record and the constants of its event-time processing, in one place.
 *
 * A record is one call for service as a JSON object of 14 string fields (DataSF). The source job keeps
 * three of them: `call_date_time` (also the event time), `disposition` and `original_crime_type_name`.
 */

export const CALL_DATE_TIME = 'call_date_time';
export const DISPOSITION = 'disposition';
export const CRIME_TYPE = 'original_crime_type_name';

/** The deduplication key of the source job, in this order. */
export const TRIPLE_FIELDS: readonly string[] = [CALL_DATE_TIME, DISPOSITION, CRIME_TYPE];

const MINUTE_MS = 60_000;

/** `withWatermark("call_date_time", "5 minutes")`: watermark = max event time seen − this. */
export const WATERMARK_DELAY_MS = 5 * MINUTE_MS;
/** Sliding event-time windows: 10 minutes long, a new one every 5 (each event is in two). */
export const WINDOW_SIZE_MS = 10 * MINUTE_MS;
export const WINDOW_SLIDE_MS = 5 * MINUTE_MS;
/** Bounded deduplication keeps keys this long behind the watermark unless told otherwise. */
export const DEFAULT_DEDUP_HORIZON_MINUTES = 60;

/** Finalized windows kept in a partition's state for the cumulative view (12 = one hour of slides). */
export const CLOSED_WINDOWS_KEPT = 12;
/** Summaries list this many most recent windows, each with its top crime types. */
export const SUMMARY_RECENT_WINDOWS = 12;
export const SUMMARY_TOP_TYPES_PER_WINDOW = 10;

export { MINUTE_MS };
