/**
 * The sf summary JSON (its schema: shared/analyses/sf/summary-schema.ts; the same shape for the
 * cumulative state, a time bucket and a batch), as the API serves it: with `dispositions[].description` and
 * `disposition_descriptions` joined in from the radio-code table (radio-codes.ts, a LEFT join, so a
 * code the table lacks keeps `description: null`; both are absent when the API has no table). Parsed
 * into a compact model for the panels, plus the pure computations they show: top N, shares, the
 * late-row finding.
 *
 * Event times are ISO strings ending in `Z` that mean San Francisco wall-clock time (event-time.ts:
 * the data has no zone and is read as UTC), so they are parsed and printed in UTC, never converted.
 */
import { sfSummarySchema } from '../../../../shared/analyses/sf/summary-schema.ts';

export interface NamedCount {
  readonly name: string;
  readonly count: number;
}

export interface SfWindow {
  /** Event time (SF wall clock read as UTC), ms. */
  readonly startMs: number;
  readonly endMs: number;
  readonly final: boolean;
  readonly rows: number;
  /** Distinct crime types in the window; `top` lists at most 10 of them. */
  readonly crimeTypes: number;
  readonly top: readonly NamedCount[];
}

export interface Disposition {
  readonly code: string;
  /** null: the radio-code table has no such code (or the API has no table). */
  readonly description: string | null;
  readonly count: number;
}

export interface DescriptionCoverage {
  readonly source: string;
  readonly codesInTable: number;
  readonly rowsDescribed: number;
  readonly rowsWithoutDescription: number;
  readonly codesWithoutDescription: readonly string[];
}

export interface SfCounts {
  readonly rowsRead: number;
  readonly rowsDistinct: number;
  readonly duplicates: number;
  readonly droppedEmpty: number;
  readonly rejected: number;
  readonly rejectedByReason: Readonly<Record<string, number>>;
  readonly late: number;
  readonly outOfOrder: number;
  readonly beyondDedupHorizon: number;
  readonly dedupMode: string;
  readonly dedupHorizonMinutes: number | null;
  readonly dedupKeys: number | null;
  readonly watermarkDelayMinutes: number | null;
  readonly eventTime: {
    readonly minMs: number | null;
    readonly maxMs: number | null;
    readonly watermarkMs: number | null;
  };
  /** Every crime type, count descending then name (the source job's output). */
  readonly crimeTypes: readonly NamedCount[];
  readonly crimeTypeCount: number;
  readonly dispositions: readonly Disposition[];
  /** Absent when the API served the summary without the radio-code table. */
  readonly descriptions: DescriptionCoverage | null;
  readonly windowSizeMinutes: number;
  readonly windowSlideMinutes: number;
  /** Windows in event-time state (the summary lists the most recent ones). */
  readonly windowCount: number;
  /** The most recent windows, oldest first. */
  readonly windows: readonly SfWindow[];
  readonly notes: readonly string[];
}

/** ISO text → ms, or null (none yet, or unreadable). */
function timeMs(text: string | null): number | null {
  if (text === null) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : null;
}

function named(list: readonly { original_crime_type_name: string; count: number }[]): NamedCount[] {
  return list.map((entry) => ({ name: entry.original_crime_type_name, count: entry.count }));
}

/** Validates an sf summary: its counts, or why it is not one. */
export function parseSfSummary(value: unknown): { counts: SfCounts } | { error: string } {
  const parsed = sfSummarySchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { error: issue ? `${issue.path.join('.') || 'summary'}: ${issue.message}` : 'invalid sf summary' };
  }
  const summary = parsed.data;
  const windows: SfWindow[] = [];
  for (const entry of summary.windows.recent) {
    const startMs = timeMs(entry.start);
    const endMs = timeMs(entry.end);
    if (startMs === null || endMs === null) continue;
    windows.push({
      startMs,
      endMs,
      final: entry.final,
      rows: entry.rows,
      crimeTypes: entry.crime_types,
      top: rankCounts(named(entry.top)),
    });
  }
  windows.sort((a, b) => a.startMs - b.startMs);
  const coverage = summary.disposition_descriptions;
  return {
    counts: {
      rowsRead: summary.rows_read,
      rowsDistinct: summary.rows_distinct,
      duplicates: summary.rows_duplicate,
      droppedEmpty: summary.rows_dropped_empty,
      rejected: summary.rows_rejected,
      rejectedByReason: summary.rejected_by_reason,
      late: summary.rows_late,
      outOfOrder: summary.rows_out_of_order,
      beyondDedupHorizon: summary.rows_beyond_dedup_horizon,
      dedupMode: summary.dedup.mode,
      dedupHorizonMinutes: summary.dedup.horizon_minutes,
      dedupKeys: summary.dedup.keys ?? null,
      watermarkDelayMinutes: summary.watermark_delay_minutes,
      eventTime: {
        minMs: timeMs(summary.event_time.min),
        maxMs: timeMs(summary.event_time.max),
        watermarkMs: timeMs(summary.event_time.watermark),
      },
      crimeTypes: rankCounts(named(summary.crime_types)),
      crimeTypeCount: summary.crime_type_count,
      dispositions: summary.dispositions.map((entry) => ({
        code: entry.disposition,
        description: entry.description,
        count: entry.count,
      })),
      descriptions: coverage
        ? {
            source: coverage.source,
            codesInTable: coverage.codes_in_table,
            rowsDescribed: coverage.rows_described,
            rowsWithoutDescription: coverage.rows_without_description,
            codesWithoutDescription: coverage.codes_without_description,
          }
        : null,
      windowSizeMinutes: summary.windows.size_minutes,
      windowSlideMinutes: summary.windows.slide_minutes,
      windowCount: summary.windows.count,
      windows,
      notes: summary.notes,
    },
  };
}

/** Count descending, then name ascending (the analysis' own order); a new array. */
export function rankCounts(items: readonly NamedCount[]): NamedCount[] {
  return [...items].sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface TopList {
  /** At most N, ranked. */
  readonly items: readonly NamedCount[];
  /** Types and calls beyond the N shown. */
  readonly otherTypes: number;
  readonly otherCalls: number;
}

/**
 * The N largest of `items` and what is left over. `totalTypes` / `totalCalls` are what the whole
 * population holds when `items` is only part of it (a window lists its top 10 of all its types).
 */
export function topN(
  items: readonly NamedCount[],
  n: number,
  totals: { readonly totalTypes?: number; readonly totalCalls?: number } = {},
): TopList {
  const ranked = rankCounts(items);
  const shown = ranked.slice(0, Math.max(0, n));
  const shownCalls = shown.reduce((sum, item) => sum + item.count, 0);
  const allCalls = totals.totalCalls ?? ranked.reduce((sum, item) => sum + item.count, 0);
  const allTypes = totals.totalTypes ?? ranked.length;
  return {
    items: shown,
    otherTypes: Math.max(0, allTypes - shown.length),
    otherCalls: Math.max(0, allCalls - shownCalls),
  };
}

export interface DispositionRow extends Disposition {
  /** count / all disposition counts, 0–1. */
  readonly share: number;
}

/** The table's rows: count descending, then code; each with its share of all rows. */
export function dispositionRows(dispositions: readonly Disposition[]): DispositionRow[] {
  const total = dispositions.reduce((sum, entry) => sum + entry.count, 0);
  return [...dispositions]
    .sort((a, b) => b.count - a.count || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0))
    .map((entry) => ({ ...entry, share: total > 0 ? entry.count / total : 0 }));
}

/** Late rows dominate: more than half the distinct rows arrived behind the watermark. */
export function lateRowsDominate(counts: Pick<SfCounts, 'late' | 'rowsDistinct'>): boolean {
  return counts.rowsDistinct > 0 && counts.late * 2 > counts.rowsDistinct;
}

/** The window a "last window" view shows: the newest closed one, or the newest if none has closed. */
export function lastWindow(windows: readonly SfWindow[]): SfWindow | undefined {
  for (let index = windows.length - 1; index >= 0; index--) {
    const candidate = windows[index];
    if (candidate?.final) return candidate;
  }
  return windows.at(-1);
}

const eventDateTime = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'UTC',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});
const eventClock = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});
const eventDay = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'short' });

/** "2018-12-31 23:57" (SF local: the wall clock the data holds), or "–". */
export function formatEventTime(ms: number | null): string {
  if (ms === null) return '–';
  const parts = Object.fromEntries(eventDateTime.formatToParts(ms).map((part) => [part.type, part.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

/** "23:57" (SF local). */
export function formatEventClock(ms: number): string {
  return eventClock.format(ms);
}

/** "31 Dec" (SF local). */
export function formatEventDay(ms: number): string {
  return eventDay.format(ms);
}

const percent = new Intl.NumberFormat('en-US', {
  style: 'percent',
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});

/** 0.2901 → "29.0%". */
export function formatShare(share: number): string {
  return percent.format(share);
}
