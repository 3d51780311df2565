/**
 * The counters of `dt`: a batch's contribution, and the closed part of a partition's state (see
 * state.ts). Every quantity is additive, so merging is elementwise addition:
 * - hit-level counts (rows, hits per chamber, occupancy, auxiliary/scintillator/late hits) count each
 *   row once, in the batch that read it;
 * - orbit-level counts (multiplicity, gated occupancy, drift times, orbits with hits/scintillator)
 *   count each orbit once, in the batch that CLOSED it (reducer.ts explains when an orbit closes).
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
  /**
   * Chamber and scintillator hits that arrived after their orbit had left the open window (reducer.ts):
   * each started a new open orbit, so its orbit is counted more than once. Zero while the input's
   * reordering stays inside the window.
   */
  readonly lateHits: number;
  /** Orbits (distinct ORBIT_CNT values) with at least one chamber hit, counted when they close. */
  readonly orbitsWithHits: number;
  /** Orbits with a scintillator hit, counted when they close. */
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
  | 'lateHits'
  | 'orbitsWithHits'
  | 'orbitsWithScintillator';
export const TOTALS_SCALAR_FIELDS: readonly TotalsScalarField[] = [
  'rowsRead',
  'rowsFiltered',
  'auxiliaryHits',
  'scintillatorHits',
  'lateHits',
  'orbitsWithHits',
  'orbitsWithScintillator',
];

export type TotalsArrays = { [field in TotalsArrayField]: Float64Array };

const TOTALS_ARRAY_ELEMENTS = TOTALS_ARRAY_FIELDS.reduce(
  (sum, field) => sum + TOTALS_ARRAY_LENGTHS[field],
  0,
);

/**
 * The array fields of a DtTotals, zeroed: views of ONE buffer, since applyBatch builds a few totals
 * per batch and an ArrayBuffer allocation costs far more than a view.
 */
export function zeroTotalsArrays(): TotalsArrays {
  const buffer = new ArrayBuffer(TOTALS_ARRAY_ELEMENTS * Float64Array.BYTES_PER_ELEMENT);
  let offset = 0;
  const view = (field: TotalsArrayField): Float64Array => {
    const array = new Float64Array(
      buffer,
      offset * Float64Array.BYTES_PER_ELEMENT,
      TOTALS_ARRAY_LENGTHS[field],
    );
    offset += array.length;
    return array;
  };
  return {
    chamberHits: view('chamberHits'),
    occupancy: view('occupancy'),
    multiplicity: view('multiplicity'),
    gatedOccupancy: view('gatedOccupancy'),
    driftTime: view('driftTime'),
    driftUnderflow: view('driftUnderflow'),
    driftOverflow: view('driftOverflow'),
  };
}

export function emptyTotals(): DtTotals {
  return {
    rowsRead: 0,
    rowsFiltered: 0,
    rejectedByReason: {},
    auxiliaryHits: 0,
    scintillatorHits: 0,
    lateHits: 0,
    orbitsWithHits: 0,
    orbitsWithScintillator: 0,
    ...zeroTotalsArrays(),
  };
}

function addArrays(a: Float64Array, b: Float64Array, sum: Float64Array): Float64Array {
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
  const sum = zeroTotalsArrays();
  return {
    rowsRead: a.rowsRead + b.rowsRead,
    rowsFiltered: a.rowsFiltered + b.rowsFiltered,
    rejectedByReason: addReasons(a.rejectedByReason, b.rejectedByReason),
    auxiliaryHits: a.auxiliaryHits + b.auxiliaryHits,
    scintillatorHits: a.scintillatorHits + b.scintillatorHits,
    lateHits: a.lateHits + b.lateHits,
    orbitsWithHits: a.orbitsWithHits + b.orbitsWithHits,
    orbitsWithScintillator: a.orbitsWithScintillator + b.orbitsWithScintillator,
    chamberHits: addArrays(a.chamberHits, b.chamberHits, sum.chamberHits),
    occupancy: addArrays(a.occupancy, b.occupancy, sum.occupancy),
    multiplicity: addArrays(a.multiplicity, b.multiplicity, sum.multiplicity),
    gatedOccupancy: addArrays(a.gatedOccupancy, b.gatedOccupancy, sum.gatedOccupancy),
    driftTime: addArrays(a.driftTime, b.driftTime, sum.driftTime),
    driftUnderflow: addArrays(a.driftUnderflow, b.driftUnderflow, sum.driftUnderflow),
    driftOverflow: addArrays(a.driftOverflow, b.driftOverflow, sum.driftOverflow),
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
