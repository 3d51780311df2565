/**
 * The counters of `dt`. A batch's contribution and a partition's rolling state have the same shape
 * because every quantity is additive: counts, histograms, and per-orbit figures (each batch counts
 * the orbits it saw). Merging is elementwise addition.
 *
 * Counts are float64 arrays: exact up to 2^53, far beyond what a uint32 cumulative counter would hold.
 * Treat a DtTotals as immutable once returned; every operation here builds a new one.
 */
import { CHAMBER_COUNT, CHANNELS_PER_CHAMBER } from './detector.ts';
import { DRIFT_BINS, MULTIPLICITY_BINS, OCCUPANCY_BINS } from './histogram.ts';

export interface DtTotals {
  /** Rows read, accepted or not. */
  readonly rowsRead: number;
  /** Valid ancillary words (HEAD ≠ 2), dropped by cleansing: not rejections. */
  readonly rowsFiltered: number;
  /** Rejected rows per reason code. */
  readonly rejectedByReason: Readonly<Record<string, number>>;
  /** HEAD = 2 rows on channels ≥ 128 other than the scintillator (e.g. 138, 139). */
  readonly auxiliaryHits: number;
  /** HEAD = 2 rows on FPGA 1, channel 128. */
  readonly scintillatorHits: number;
  /** Distinct ORBIT_CNT values with at least one chamber hit, per batch. */
  readonly orbitsWithHits: number;
  /** Distinct ORBIT_CNT values with a scintillator hit, per batch. */
  readonly orbitsWithScintillator: number;
  /** [chamber]: chamber hits after cleansing. */
  readonly chamberHits: Float64Array;
  /** [chamber × 64 + local channel]: hits per channel. */
  readonly occupancy: Float64Array;
  /** [chamber × 64 + (active channels − 1)]: number of (orbit, chamber) pairs with that many channels. */
  readonly multiplicity: Float64Array;
  /** Like `occupancy`, restricted to orbits that contain a scintillator hit. */
  readonly gatedOccupancy: Float64Array;
  /** [chamber × DRIFT_BINS + bin]: drift times of gated hits. */
  readonly driftTime: Float64Array;
  /** [chamber]: gated hits with a drift time below / above the histogram range. */
  readonly driftUnderflow: Float64Array;
  readonly driftOverflow: Float64Array;
}

/** Lengths of the array fields, shared by construction, merging and the codec's validation. */
export const TOTALS_ARRAY_LENGTHS = {
  chamberHits: CHAMBER_COUNT,
  occupancy: CHAMBER_COUNT * OCCUPANCY_BINS,
  multiplicity: CHAMBER_COUNT * MULTIPLICITY_BINS,
  gatedOccupancy: CHAMBER_COUNT * CHANNELS_PER_CHAMBER,
  driftTime: CHAMBER_COUNT * DRIFT_BINS,
  driftUnderflow: CHAMBER_COUNT,
  driftOverflow: CHAMBER_COUNT,
} as const;

export type TotalsArrayField = keyof typeof TOTALS_ARRAY_LENGTHS;
export const TOTALS_ARRAY_FIELDS: readonly TotalsArrayField[] = [
  'chamberHits',
  'occupancy',
  'multiplicity',
  'gatedOccupancy',
  'driftTime',
  'driftUnderflow',
  'driftOverflow',
];

export type TotalsScalarField =
  | 'rowsRead'
  | 'rowsFiltered'
  | 'auxiliaryHits'
  | 'scintillatorHits'
  | 'orbitsWithHits'
  | 'orbitsWithScintillator';
export const TOTALS_SCALAR_FIELDS: readonly TotalsScalarField[] = [
  'rowsRead',
  'rowsFiltered',
  'auxiliaryHits',
  'scintillatorHits',
  'orbitsWithHits',
  'orbitsWithScintillator',
];

export function emptyTotals(): DtTotals {
  return {
    rowsRead: 0,
    rowsFiltered: 0,
    rejectedByReason: {},
    auxiliaryHits: 0,
    scintillatorHits: 0,
    orbitsWithHits: 0,
    orbitsWithScintillator: 0,
    chamberHits: new Float64Array(TOTALS_ARRAY_LENGTHS.chamberHits),
    occupancy: new Float64Array(TOTALS_ARRAY_LENGTHS.occupancy),
    multiplicity: new Float64Array(TOTALS_ARRAY_LENGTHS.multiplicity),
    gatedOccupancy: new Float64Array(TOTALS_ARRAY_LENGTHS.gatedOccupancy),
    driftTime: new Float64Array(TOTALS_ARRAY_LENGTHS.driftTime),
    driftUnderflow: new Float64Array(TOTALS_ARRAY_LENGTHS.driftUnderflow),
    driftOverflow: new Float64Array(TOTALS_ARRAY_LENGTHS.driftOverflow),
  };
}

function addArrays(a: Float64Array, b: Float64Array): Float64Array {
  const sum = new Float64Array(a.length);
  for (let index = 0; index < sum.length; index++) sum[index] = (a[index] ?? 0) + (b[index] ?? 0);
  return sum;
}

function addReasons(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
): Record<string, number> {
  const sum: Record<string, number> = { ...a };
  for (const [reason, count] of Object.entries(b)) sum[reason] = (sum[reason] ?? 0) + count;
  return sum;
}

export function mergeTotals(a: DtTotals, b: DtTotals): DtTotals {
  return {
    rowsRead: a.rowsRead + b.rowsRead,
    rowsFiltered: a.rowsFiltered + b.rowsFiltered,
    rejectedByReason: addReasons(a.rejectedByReason, b.rejectedByReason),
    auxiliaryHits: a.auxiliaryHits + b.auxiliaryHits,
    scintillatorHits: a.scintillatorHits + b.scintillatorHits,
    orbitsWithHits: a.orbitsWithHits + b.orbitsWithHits,
    orbitsWithScintillator: a.orbitsWithScintillator + b.orbitsWithScintillator,
    chamberHits: addArrays(a.chamberHits, b.chamberHits),
    occupancy: addArrays(a.occupancy, b.occupancy),
    multiplicity: addArrays(a.multiplicity, b.multiplicity),
    gatedOccupancy: addArrays(a.gatedOccupancy, b.gatedOccupancy),
    driftTime: addArrays(a.driftTime, b.driftTime),
    driftUnderflow: addArrays(a.driftUnderflow, b.driftUnderflow),
    driftOverflow: addArrays(a.driftOverflow, b.driftOverflow),
  };
}

export function mergeAllTotals(all: readonly DtTotals[]): DtTotals {
  return all.reduce(mergeTotals, emptyTotals());
}

/** Total hits after cleansing. */
export function hitCount(totals: DtTotals): number {
  let sum = 0;
  for (const hits of totals.chamberHits) sum += hits;
  return sum;
}

export function rejectedCount(totals: DtTotals): number {
  let sum = 0;
  for (const count of Object.values(totals.rejectedByReason)) sum += count;
  return sum;
}
