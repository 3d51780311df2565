/**
 * The `dt` summary body (summary.ts writes it): one shape for a batch (the body of its `data_clean`
 * message), a time bucket and the cumulative state. Pure zod, read by the API's tests and the
 * dashboard (frontend/src/analyses/dt/summary.ts) alike.
 */
import { z } from 'zod';
import { rejectionCountsShape } from '../../contracts/summary-body.ts';
import { CHAMBER_COUNT } from './detector.ts';

const count = z.number().int().min(0);

const histogramShape = { bin_edges: z.array(z.number()), bin_counts: z.array(count) };
const nPlusOneEdges = (histogram: { bin_edges: unknown[]; bin_counts: unknown[] }) =>
  histogram.bin_edges.length === histogram.bin_counts.length + 1;

/** `{bin_edges, bin_counts}`: n + 1 edges for n counts, the last bin closed. */
export const histogramSchema = z.object(histogramShape).refine(nPlusOneEdges, 'n + 1 edges for n counts');

export const chamberSummarySchema = z.object({
  chamber: z
    .number()
    .int()
    .min(0)
    .max(CHAMBER_COUNT - 1),
  hit_count: count,
  /** Hits per chamber-local channel 0–63. */
  occupancy: histogramSchema,
  /** Orbits by number of distinct active channels, 1–64. */
  multiplicity: histogramSchema,
  /** Occupancy in orbits with a scintillator hit. */
  gated_occupancy: histogramSchema,
  drift_time_ns: z
    .object({ ...histogramShape, underflow: count, overflow: count })
    .refine(nPlusOneEdges, 'n + 1 edges for n counts'),
});

export const dtSummarySchema = z.object({
  hit_count: count,
  hit_count_chamber: z.array(count).length(CHAMBER_COUNT),
  rows_read: count,
  rows_filtered: count,
  ...rejectionCountsShape,
  auxiliary_hits: count,
  scintillator_hits: count,
  late_hits: count,
  orbits_with_hits: count,
  orbits_with_scintillator: count,
  chambers: z.array(chamberSummarySchema).length(CHAMBER_COUNT),
});
export type DtSummary = z.infer<typeof dtSummarySchema>;
