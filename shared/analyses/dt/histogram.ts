/**
 * Binning of the per-chamber histograms and their `{ bin_edges, bin_counts }` encoding.
 *
 * Integer quantities (channel, number of active channels) get one bin per value with edges at
 * half-integers, so each bin's centre is the value itself.
 *
 * The drift time covers [-100, 500] ns in 144 bins of 5 TDC counts (25/6 ≈ 4.17 ns). Why not 4 ns:
 * drift times are differences of TDC counts (5/6 ns) plus a fixed offset, so they sit on a 5/6 ns
 * lattice; a 4 ns bin holds 4 or 5 lattice points depending on its phase, which prints a 20 % comb
 * into a flat distribution. A bin of exactly 5 counts always holds 5 points, whatever the offset.
 * As in numpy, bins are half-open except the last, which includes 500 ns. Values outside the range
 * are counted in underflow/overflow rather than dropped, so every gated hit is accounted for.
 */
import { CHANNELS_PER_CHAMBER, TIME_UNITS_PER_NS, TIME_UNITS_PER_TDC } from './detector.ts';

/** A type, not an interface, so it is assignable to the core's `Json`. */
export type EncodedHistogram = {
  bin_edges: number[];
  bin_counts: number[];
};

/** Occupancy: chamber-local channel 0–63. */
export const OCCUPANCY_BINS = CHANNELS_PER_CHAMBER;
/** Orbit multiplicity: 1–64 distinct active channels (an orbit with none is never seen). */
export const MULTIPLICITY_BINS = CHANNELS_PER_CHAMBER;
export const MULTIPLICITY_MIN = 1;

export const DRIFT_MIN_NS = -100;
export const DRIFT_MAX_NS = 500;
export const DRIFT_BIN_TDC_COUNTS = 5;

const DRIFT_MIN_UNITS = DRIFT_MIN_NS * TIME_UNITS_PER_NS;
const DRIFT_MAX_UNITS = DRIFT_MAX_NS * TIME_UNITS_PER_NS;
const DRIFT_BIN_UNITS = DRIFT_BIN_TDC_COUNTS * TIME_UNITS_PER_TDC;

/** 25/6 ns. */
export const DRIFT_BIN_NS = DRIFT_BIN_UNITS / TIME_UNITS_PER_NS;
/** 144. */
export const DRIFT_BINS = (DRIFT_MAX_UNITS - DRIFT_MIN_UNITS) / DRIFT_BIN_UNITS;

/** Sentinels returned by `driftBinOf` for values outside the histogram range. */
export const DRIFT_UNDERFLOW = -1;
export const DRIFT_OVERFLOW = DRIFT_BINS;

/** Bin of a drift time given in thirtieths of a ns (exact integers for integer TDC counts). */
export function driftBinOf(driftUnits: number): number {
  if (driftUnits < DRIFT_MIN_UNITS) return DRIFT_UNDERFLOW;
  if (driftUnits > DRIFT_MAX_UNITS) return DRIFT_OVERFLOW;
  if (driftUnits === DRIFT_MAX_UNITS) return DRIFT_BINS - 1;
  return Math.floor((driftUnits - DRIFT_MIN_UNITS) / DRIFT_BIN_UNITS);
}

function edges(count: number, first: number, width: number): number[] {
  return Array.from({ length: count + 1 }, (_, index) => first + index * width);
}

export const OCCUPANCY_EDGES: readonly number[] = edges(OCCUPANCY_BINS, -0.5, 1);
export const MULTIPLICITY_EDGES: readonly number[] = edges(MULTIPLICITY_BINS, MULTIPLICITY_MIN - 0.5, 1);
/** Computed in exact time units, then converted once, so the last edge is exactly 500. */
export const DRIFT_EDGES_NS: readonly number[] = Array.from(
  { length: DRIFT_BINS + 1 },
  (_, index) => (DRIFT_MIN_UNITS + index * DRIFT_BIN_UNITS) / TIME_UNITS_PER_NS,
);

/** `counts[offset, offset + binCount)` as the summary encoding. */
export function encodeHistogram(
  edgesOfBins: readonly number[],
  counts: Float64Array,
  offset: number,
  binCount: number,
): EncodedHistogram {
  return {
    bin_edges: [...edgesOfBins],
    bin_counts: Array.from(counts.subarray(offset, offset + binCount)),
  };
}
