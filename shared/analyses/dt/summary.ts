/**
 * The JSON body of a `data_clean` message (one batch) and of the cumulative summary (a state): the
 * same shape. A batch's body holds the hit-level counts of its rows and the orbit-level counts of the
 * orbits that closed in it; the cumulative body holds every batch plus the still-open orbits
 * (reducer.ts). Source field names are kept where they exist (`hit_count`, `hit_count_chamber`); the
 * handler adds `msg_ID` (the batch id) and progress figures. The shape: summary-schema.ts.
 */
import { CHAMBER_COUNT, CHANNELS_PER_CHAMBER } from './detector.ts';
import {
  DRIFT_BINS,
  DRIFT_EDGES_NS,
  encodeHistogram,
  MULTIPLICITY_BINS,
  MULTIPLICITY_EDGES,
  OCCUPANCY_BINS,
  OCCUPANCY_EDGES,
} from './histogram.ts';
import type { DtSummary } from './summary-schema.ts';
import { type DtTotals, hitCount, rejectedCount } from './totals.ts';

export function summarize(totals: DtTotals): DtSummary {
  const chambers = Array.from({ length: CHAMBER_COUNT }, (_, chamber) => ({
    chamber,
    hit_count: totals.chamberHits[chamber] ?? 0,
    /** Hits per chamber-local channel 0–63 (chamber 1 and 3: TDC_CHANNEL − 64). */
    occupancy: encodeHistogram(OCCUPANCY_EDGES, totals.occupancy, chamber * OCCUPANCY_BINS, OCCUPANCY_BINS),
    /** Orbits by number of distinct active channels, 1–64. */
    multiplicity: encodeHistogram(
      MULTIPLICITY_EDGES,
      totals.multiplicity,
      chamber * MULTIPLICITY_BINS,
      MULTIPLICITY_BINS,
    ),
    /** Occupancy restricted to orbits with a scintillator hit. */
    gated_occupancy: encodeHistogram(
      OCCUPANCY_EDGES,
      totals.gatedOccupancy,
      chamber * CHANNELS_PER_CHAMBER,
      OCCUPANCY_BINS,
    ),
    drift_time_ns: {
      ...encodeHistogram(DRIFT_EDGES_NS, totals.driftTime, chamber * DRIFT_BINS, DRIFT_BINS),
      underflow: totals.driftUnderflow[chamber] ?? 0,
      overflow: totals.driftOverflow[chamber] ?? 0,
    },
  }));
  return {
    hit_count: hitCount(totals),
    hit_count_chamber: Array.from(totals.chamberHits),
    rows_read: totals.rowsRead,
    rows_filtered: totals.rowsFiltered,
    rows_rejected: rejectedCount(totals),
    rejected_by_reason: { ...totals.rejectedByReason },
    auxiliary_hits: totals.auxiliaryHits,
    scintillator_hits: totals.scintillatorHits,
    /** Hits that arrived after their orbit had closed (each reopened it): 0 unless the input is badly out of order. */
    late_hits: totals.lateHits,
    orbits_with_hits: totals.orbitsWithHits,
    orbits_with_scintillator: totals.orbitsWithScintillator,
    chambers,
  };
}
