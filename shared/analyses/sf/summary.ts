/**
 * The JSON bodies of `sf` summaries: one batch's contribution (`data_clean`, rollups) and the
 * cumulative state (the API), in the same shape.
 *
 * - `crime_types`: the source job's output — distinct (call_date_time, disposition,
 *   original_crime_type_name) triples counted per original_crime_type_name, complete, ordered by count
 *   descending then name; in a batch summary, what the batch added.
 * - `dispositions`: the same rows counted per disposition code, `description: null` until the radio-code
 *   join fills it (radio-codes.ts).
 * - `crime_types_other` / `dispositions_other` (only when not 0): distinct rows whose name is beyond the
 *   caps on distinct names (limits.ts: more than real data has), counted but not by name; a note says so.
 * - `windows`: 10-minute windows sliding by 5 on event time, the most recent ones, each with its top
 *   crime types; `final` once the watermark has passed its end (a batch's: increments it added).
 * - counters: rows read / dropped_empty / duplicate / rejected, distinct rows, late rows (behind the
 *   watermark: counted, in no window), rows beyond the dedup horizon (bounded mode), rows out of order.
 * - `event_time`: min / max / watermark (ISO, wall clock read as UTC: event-time.ts).
 * - `notes`: plain-language findings, e.g. that the input's event time runs backwards.
 * The shape: summary-schema.ts.
 */
import type { SfConfig } from './config.ts';
import { type Counts, namedSize, OTHER, rankNamed, total, type WindowCounts } from './counts.ts';
import { eventTimeText } from './event-time.ts';
import {
  CRIME_TYPE,
  DISPOSITION,
  MINUTE_MS,
  SUMMARY_RECENT_WINDOWS,
  SUMMARY_TOP_TYPES_PER_WINDOW,
  WATERMARK_DELAY_MS,
  WINDOW_SIZE_MS,
  WINDOW_SLIDE_MS,
} from './fields.ts';
import { MAX_CRIME_TYPES, MAX_DISPOSITIONS } from './limits.ts';
import { type SfBatch, type SfCounters, type SfState, windowIsOpen } from './state.ts';
import type { SfSummary } from './summary-schema.ts';

function crimeTypeList(ranked: readonly [string, number][]): SfSummary['crime_types'] {
  return ranked.map(([name, count]) => ({ [CRIME_TYPE]: name, count }));
}

function dispositionList(ranked: readonly [string, number][]): SfSummary['dispositions'] {
  return ranked.map(([code, count]) => ({ [DISPOSITION]: code, count, description: null }));
}

/** Window bounds are whole slides, always finite: their text is never eventTimeText's null. */
function boundText(ms: number): string {
  return new Date(ms).toISOString();
}

function windowList(windows: WindowCounts, isFinal: (start: number) => boolean): SfSummary['windows'] {
  const starts = [...windows.keys()].sort((a, b) => b - a).slice(0, SUMMARY_RECENT_WINDOWS);
  return {
    size_minutes: WINDOW_SIZE_MS / MINUTE_MS,
    slide_minutes: WINDOW_SLIDE_MS / MINUTE_MS,
    count: windows.size,
    recent: starts.map((start) => {
      const counts = windows.get(start) ?? new Map<string, number>();
      const { ranked } = rankNamed(counts, SUMMARY_TOP_TYPES_PER_WINDOW);
      const other = counts.get(OTHER) ?? 0;
      return {
        start: boundText(start),
        end: boundText(start + WINDOW_SIZE_MS),
        final: isFinal(start),
        rows: total(counts),
        crime_types: namedSize(counts),
        ...(other > 0 ? { crime_types_other: other } : {}),
        top: crimeTypeList(ranked),
      };
    }),
  };
}

function percent(part: number, whole: number): string {
  return `${((100 * part) / whole).toFixed(1)} %`;
}

function notes(
  counters: SfCounters,
  config: SfConfig,
  crimeTypesOther: number,
  dispositionsOther: number,
): string[] {
  const found: string[] = [];
  const timed = counters.uniqueRows + counters.duplicates;
  if (counters.uniqueRows > 0 && counters.lateRows * 2 > counters.uniqueRows) {
    found.push(
      `${counters.lateRows} of ${counters.uniqueRows} distinct rows (${percent(counters.lateRows, counters.uniqueRows)}) ` +
        'arrived behind the watermark: they are counted per crime type but are in no window. ' +
        (counters.outOfOrderRows * 4 > timed
          ? `Event time runs backwards in this input (${counters.outOfOrderRows} rows earlier than the row before): ` +
            'the SF file is sorted newest first; replay it sorted by call_date_time ascending for meaningful windows.'
          : 'The input arrives far out of event-time order.'),
    );
  }
  if (counters.beyondDedupHorizon > 0) {
    found.push(
      `${counters.beyondDedupHorizon} distinct rows were more than ${config.horizonMinutes} min behind the ` +
        'watermark and were counted without a duplicate check (bounded dedup): their duplicates, if any, are counted twice.',
    );
  }
  if (crimeTypesOther > 0) {
    found.push(
      `${crimeTypesOther} distinct rows are counted in crime_types_other: the input has more than ${MAX_CRIME_TYPES} ` +
        'distinct crime types (far more than real data has), and only that many are kept by name.',
    );
  }
  if (dispositionsOther > 0) {
    found.push(
      `${dispositionsOther} distinct rows are counted in dispositions_other: the input has more than ${MAX_DISPOSITIONS} ` +
        'distinct dispositions, and only that many are kept by name.',
    );
  }
  return found;
}

function body(
  config: SfConfig,
  counters: SfCounters,
  rejectedByReason: Readonly<Record<string, number>>,
  crimeTypes: Counts,
  dispositions: Counts,
  eventTime: { minMs: number; maxMs: number; watermarkMs: number } | null,
  windows: SfSummary['windows'],
  dedupKeys: number | null,
): SfSummary {
  const rejected = Object.values(rejectedByReason).reduce((sum, count) => sum + count, 0);
  // The state and batches are capped already (reducer, mergeStates, mergeBatches); capping here too
  // keeps every summary within MAX_SUMMARY_BYTES whatever it is given (e.g. a state stored before the
  // caps existed).
  const types = rankNamed(crimeTypes, MAX_CRIME_TYPES);
  const codes = rankNamed(dispositions, MAX_DISPOSITIONS);
  return {
    rows_read: counters.rowsRead,
    rows_dropped_empty: counters.droppedEmpty,
    rows_duplicate: counters.duplicates,
    rows_rejected: rejected,
    rejected_by_reason: { ...rejectedByReason },
    rows_distinct: counters.uniqueRows,
    rows_late: counters.lateRows,
    rows_beyond_dedup_horizon: counters.beyondDedupHorizon,
    rows_out_of_order: counters.outOfOrderRows,
    dedup: {
      mode: config.dedup,
      horizon_minutes: config.horizonMinutes,
      ...(dedupKeys === null ? {} : { keys: dedupKeys }),
    },
    watermark_delay_minutes: WATERMARK_DELAY_MS / MINUTE_MS,
    event_time: {
      min: eventTime ? eventTimeText(eventTime.minMs) : null,
      max: eventTime ? eventTimeText(eventTime.maxMs) : null,
      watermark: eventTime ? eventTimeText(eventTime.watermarkMs) : null,
    },
    crime_type_count: types.ranked.length,
    crime_types: crimeTypeList(types.ranked),
    ...(types.other > 0 ? { crime_types_other: types.other } : {}),
    dispositions: dispositionList(codes.ranked),
    ...(codes.other > 0 ? { dispositions_other: codes.other } : {}),
    windows,
    notes: notes(counters, config, types.other, codes.other),
  };
}

export function summarizeBatch(batch: SfBatch, config: SfConfig): SfSummary {
  const watermarkMs = batch.eventTime?.watermarkMs ?? Number.NEGATIVE_INFINITY;
  return body(
    config,
    batch.counters,
    batch.rejectedByReason,
    batch.crimeTypes,
    batch.dispositions,
    batch.eventTime,
    windowList(batch.windows, (start) => !windowIsOpen(start, watermarkMs)),
    null,
  );
}

export function summarizeState(state: SfState, config: SfConfig): SfSummary {
  const windows: WindowCounts = new Map([...state.closedWindows, ...state.openWindows]);
  const hasTime = state.minEventMs <= state.maxEventMs;
  return body(
    config,
    state.counters,
    state.rejectedByReason,
    state.crimeTypes,
    state.dispositions,
    hasTime
      ? {
          minMs: state.minEventMs,
          maxMs: state.maxEventMs,
          watermarkMs: state.maxEventMs - WATERMARK_DELAY_MS,
        }
      : null,
    windowList(windows, (start) => !state.openWindows.has(start)),
    state.dedup.size,
  );
}
