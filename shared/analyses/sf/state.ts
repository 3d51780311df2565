/**
 * `sf` state of one partition and the contribution of one batch.
 *
 * Both carry the same counters and counts, so a batch is what it *added*: the cumulative counts equal
 * the mergeBatches of every batch applied. The state also holds what later batches need: the dedup
 * keys, the event-time clock (max event time → watermark) and the windows still open.
 */
import {
  addCounts,
  addWindows,
  type Counts,
  capCounts,
  capWindows,
  copyWindows,
  sumCounts,
  type WindowCounts,
} from './counts.ts';
import { DedupTable, unionTables } from './dedup-table.ts';
import { CLOSED_WINDOWS_KEPT, WINDOW_SIZE_MS } from './fields.ts';
import { MAX_CRIME_TYPES, MAX_DISPOSITIONS, MAX_WINDOW_CRIME_TYPES } from './limits.ts';

export interface SfCounters {
  /** Every row read, whatever became of it. */
  readonly rowsRead: number;
  /** Rows with call_date_time, disposition or original_crime_type_name null, missing or empty. */
  readonly droppedEmpty: number;
  /** Rows whose triple was seen before (in this partition: replay keys by the triple). */
  readonly duplicates: number;
  /** New distinct triples counted (= the sum of the crime-type counts). */
  readonly uniqueRows: number;
  /** Distinct rows whose event time was behind the watermark on arrival: counted, but in no window. */
  readonly lateRows: number;
  /** Bounded mode: distinct rows older than watermark − horizon, counted without a duplicate check. */
  readonly beyondDedupHorizon: number;
  /** Rows whose event time is earlier than the previous row's in the partition (time running backwards). */
  readonly outOfOrderRows: number;
}

export const COUNTER_NAMES = [
  'rowsRead',
  'droppedEmpty',
  'duplicates',
  'uniqueRows',
  'lateRows',
  'beyondDedupHorizon',
  'outOfOrderRows',
] as const satisfies readonly (keyof SfCounters)[];

export function zeroCounters(): SfCounters {
  return {
    rowsRead: 0,
    droppedEmpty: 0,
    duplicates: 0,
    uniqueRows: 0,
    lateRows: 0,
    beyondDedupHorizon: 0,
    outOfOrderRows: 0,
  };
}

export type MutableCounters = { -readonly [Name in keyof SfCounters]: SfCounters[Name] };

export function addCounters(a: SfCounters, b: SfCounters): SfCounters {
  const sum: MutableCounters = { ...a };
  for (const name of COUNTER_NAMES) sum[name] = a[name] + b[name];
  return sum;
}

export interface EventTimeRange {
  readonly minMs: number;
  readonly maxMs: number;
  readonly watermarkMs: number;
}

/** One batch's contribution (additive across batches, partitions and time buckets). */
export interface SfBatch {
  readonly counters: SfCounters;
  readonly rejectedByReason: Readonly<Record<string, number>>;
  /** New distinct rows per original_crime_type_name. */
  readonly crimeTypes: Counts;
  /** New distinct rows per disposition code. */
  readonly dispositions: Counts;
  /** Window start → crime type → rows added (on-time distinct rows only). */
  readonly windows: WindowCounts;
  /** Event times of the batch's rows and the watermark after it; null when no row had one. */
  readonly eventTime: EventTimeRange | null;
}

export interface SfState {
  readonly counters: SfCounters;
  readonly rejectedByReason: Readonly<Record<string, number>>;
  readonly crimeTypes: Counts;
  readonly dispositions: Counts;
  readonly dedup: DedupTable;
  /** Windows that on-time rows can still enter (end > watermark). */
  readonly openWindows: WindowCounts;
  /** The last CLOSED_WINDOWS_KEPT finalized windows, for the cumulative view (history: rollups). */
  readonly closedWindows: WindowCounts;
  /** Smallest and largest event time seen (±∞ before the first row); the watermark follows the max. */
  readonly minEventMs: number;
  readonly maxEventMs: number;
  /** Event time of the last row read (NaN before the first), to count rows running backwards. */
  readonly lastEventMs: number;
}

export function emptyBatch(): SfBatch {
  return {
    counters: zeroCounters(),
    rejectedByReason: {},
    crimeTypes: new Map(),
    dispositions: new Map(),
    windows: new Map(),
    eventTime: null,
  };
}

export function emptyState(keepsTimes: boolean): SfState {
  return {
    counters: zeroCounters(),
    rejectedByReason: {},
    crimeTypes: new Map(),
    dispositions: new Map(),
    dedup: DedupTable.empty(keepsTimes),
    openWindows: new Map(),
    closedWindows: new Map(),
    minEventMs: Number.POSITIVE_INFINITY,
    maxEventMs: Number.NEGATIVE_INFINITY,
    lastEventMs: Number.NaN,
  };
}

export function addReasons(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
): Record<string, number> {
  const sum: Record<string, number> = { ...a };
  for (const [reason, count] of Object.entries(b)) sum[reason] = (sum[reason] ?? 0) + count;
  return sum;
}

function mergeEventTimes(a: EventTimeRange | null, b: EventTimeRange | null): EventTimeRange | null {
  if (!a) return b;
  if (!b) return a;
  return {
    minMs: Math.min(a.minMs, b.minMs),
    maxMs: Math.max(a.maxMs, b.maxMs),
    // Within a partition the watermark only advances, so the later batch's is the max; across
    // partitions this is the most advanced one (as Spark's single watermark of a stream would be).
    watermarkMs: Math.max(a.watermarkMs, b.watermarkMs),
  };
}

/**
 * Sums two contributions. Partitions (and time buckets) may each hold up to the caps of distinct names
 * (limits.ts), so the sum keeps the top names by count and folds the rest into OTHER: below the caps
 * (all real data) it is exact.
 */
export function mergeBatches(a: SfBatch, b: SfBatch): SfBatch {
  const windows = copyWindows(a.windows);
  addWindows(windows, b.windows);
  const crimeTypes = new Map(a.crimeTypes);
  addCounts(crimeTypes, b.crimeTypes);
  const dispositions = new Map(a.dispositions);
  addCounts(dispositions, b.dispositions);
  return {
    counters: addCounters(a.counters, b.counters),
    rejectedByReason: addReasons(a.rejectedByReason, b.rejectedByReason),
    crimeTypes: capCounts(crimeTypes, MAX_CRIME_TYPES),
    dispositions: capCounts(dispositions, MAX_DISPOSITIONS),
    windows: capWindows(windows, MAX_WINDOW_CRIME_TYPES),
    eventTime: mergeEventTimes(a.eventTime, b.eventTime),
  };
}

/** Keeps the `kept` latest window starts. */
export function latestWindows(windows: WindowCounts, kept: number): WindowCounts {
  if (windows.size <= kept) return windows;
  const starts = [...windows.keys()].sort((a, b) => b - a).slice(0, kept);
  return new Map(starts.map((start) => [start, windows.get(start) ?? new Map()]));
}

/**
 * The cumulative view over partitions (for summarizeState): counts add, dedup keys unite (partitions
 * hold disjoint triples), windows add per start — a window still open in any partition stays open —
 * and the event-time clock is the most advanced partition's. Names are capped as in mergeBatches.
 */
export function mergeStates(states: readonly SfState[], keepsTimes: boolean): SfState {
  if (states.length === 1 && states[0]) return states[0];
  const openWindows: WindowCounts = new Map();
  const closedWindows: WindowCounts = new Map();
  let counters = zeroCounters();
  let rejectedByReason: Record<string, number> = {};
  for (const state of states) {
    counters = addCounters(counters, state.counters);
    rejectedByReason = addReasons(rejectedByReason, state.rejectedByReason);
    addWindows(openWindows, state.openWindows);
    addWindows(closedWindows, state.closedWindows);
  }
  for (const [start, counts] of [...closedWindows]) {
    const open = openWindows.get(start);
    if (!open) continue;
    addCounts(open, counts);
    closedWindows.delete(start);
  }
  return {
    counters,
    rejectedByReason,
    crimeTypes: capCounts(sumCounts(states.map((state) => state.crimeTypes)), MAX_CRIME_TYPES),
    dispositions: capCounts(sumCounts(states.map((state) => state.dispositions)), MAX_DISPOSITIONS),
    dedup: unionTables(
      states.map((state) => state.dedup),
      keepsTimes,
    ),
    openWindows: capWindows(openWindows, MAX_WINDOW_CRIME_TYPES),
    closedWindows: capWindows(latestWindows(closedWindows, CLOSED_WINDOWS_KEPT), MAX_WINDOW_CRIME_TYPES),
    minEventMs: Math.min(...states.map((state) => state.minEventMs), Number.POSITIVE_INFINITY),
    maxEventMs: Math.max(...states.map((state) => state.maxEventMs), Number.NEGATIVE_INFINITY),
    lastEventMs: Number.NaN,
  };
}

/** Whether a window starting at `start` can still receive on-time rows under `watermarkMs`. */
export function windowIsOpen(start: number, watermarkMs: number): boolean {
  return start + WINDOW_SIZE_MS > watermarkMs;
}
