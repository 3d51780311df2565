/**
 * The dt summary JSON (its schema: shared/analyses/dt/summary-schema.ts; the same shape for the
 * cumulative state, a time bucket and a batch) as a compact model for the panels, and sums of
 * several of them (the "last N minutes" view). Bin edges are interned, so a few hundred buckets
 * share one edge array.
 */
import { dtSummarySchema } from '../../../../shared/analyses/dt/summary-schema.ts';

export const CHAMBERS = [0, 1, 2, 3] as const;

export interface Histogram {
  readonly edges: readonly number[];
  readonly counts: readonly number[];
}

export interface ChamberCounts {
  readonly hits: number;
  /** Hits per chamber-local channel 0–63. */
  readonly occupancy: Histogram;
  /** Orbits by number of distinct active channels. */
  readonly multiplicity: Histogram;
  /** Occupancy in orbits with a scintillator hit. */
  readonly gatedOccupancy: Histogram;
  readonly driftTime: Histogram;
}

export interface DtCounts {
  readonly hitCount: number;
  readonly rowsRead: number;
  readonly rowsRejected: number;
  readonly scintillatorHits: number;
  readonly orbitsWithHits: number;
  readonly rejectedByReason: Readonly<Record<string, number>>;
  /** Always 4, chamber 0–3 (zeros when a summary lacks one). */
  readonly chambers: readonly ChamberCounts[];
}

const internedEdges = new Map<string, readonly number[]>();

/** One shared array per distinct binning (a handful exist). */
function intern(edges: readonly number[]): readonly number[] {
  const key = `${edges.length}:${edges[0]}:${edges[1]}:${edges.at(-1)}`;
  const known = internedEdges.get(key);
  if (known) return known;
  if (internedEdges.size < 64) internedEdges.set(key, edges);
  return edges;
}

const EMPTY_HISTOGRAM: Histogram = { edges: [], counts: [] };

function toHistogram(value: { bin_edges: number[]; bin_counts: number[] }): Histogram {
  return { edges: intern(value.bin_edges), counts: value.bin_counts };
}

export function emptyChamber(): ChamberCounts {
  return {
    hits: 0,
    occupancy: EMPTY_HISTOGRAM,
    multiplicity: EMPTY_HISTOGRAM,
    gatedOccupancy: EMPTY_HISTOGRAM,
    driftTime: EMPTY_HISTOGRAM,
  };
}

/** Validates a dt summary: its counts, or why it is not one. */
export function parseDtSummary(value: unknown): { counts: DtCounts } | { error: string } {
  const parsed = dtSummarySchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { error: issue ? `${issue.path.join('.') || 'summary'}: ${issue.message}` : 'invalid dt summary' };
  }
  const summary = parsed.data;
  const chambers = CHAMBERS.map((index): ChamberCounts => {
    const entry = summary.chambers.find((candidate) => candidate.chamber === index);
    if (!entry) return emptyChamber();
    return {
      hits: summary.hit_count_chamber[index] ?? entry.hit_count,
      occupancy: toHistogram(entry.occupancy),
      multiplicity: toHistogram(entry.multiplicity),
      gatedOccupancy: toHistogram(entry.gated_occupancy),
      driftTime: toHistogram(entry.drift_time_ns),
    };
  });
  return {
    counts: {
      hitCount: summary.hit_count,
      rowsRead: summary.rows_read,
      rowsRejected: summary.rows_rejected,
      scintillatorHits: summary.scintillator_hits,
      orbitsWithHits: summary.orbits_with_hits,
      rejectedByReason: summary.rejected_by_reason,
      chambers,
    },
  };
}

function addHistograms(a: Histogram, b: Histogram): Histogram {
  if (a.counts.length === 0) return b;
  if (b.counts.length === 0) return a;
  // Different binnings cannot be added bin by bin: keep the newer one (the API changed under us).
  if (a.counts.length !== b.counts.length) return b;
  return { edges: a.edges, counts: a.counts.map((count, index) => count + (b.counts[index] ?? 0)) };
}

function addReasons(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
): Record<string, number> {
  const out: Record<string, number> = { ...a };
  for (const [reason, count] of Object.entries(b)) out[reason] = (out[reason] ?? 0) + count;
  return out;
}

export const EMPTY_COUNTS: DtCounts = {
  hitCount: 0,
  rowsRead: 0,
  rowsRejected: 0,
  scintillatorHits: 0,
  orbitsWithHits: 0,
  rejectedByReason: {},
  chambers: CHAMBERS.map(() => emptyChamber()),
};

/** The sum of several summaries (all counts add up, histograms bin by bin). */
export function sumCounts(items: readonly DtCounts[]): DtCounts {
  return items.reduce<DtCounts>(
    (total, item) => ({
      hitCount: total.hitCount + item.hitCount,
      rowsRead: total.rowsRead + item.rowsRead,
      rowsRejected: total.rowsRejected + item.rowsRejected,
      scintillatorHits: total.scintillatorHits + item.scintillatorHits,
      orbitsWithHits: total.orbitsWithHits + item.orbitsWithHits,
      rejectedByReason: addReasons(total.rejectedByReason, item.rejectedByReason),
      chambers: CHAMBERS.map((index) => {
        const a = total.chambers[index] ?? emptyChamber();
        const b = item.chambers[index] ?? emptyChamber();
        return {
          hits: a.hits + b.hits,
          occupancy: addHistograms(a.occupancy, b.occupancy),
          multiplicity: addHistograms(a.multiplicity, b.multiplicity),
          gatedOccupancy: addHistograms(a.gatedOccupancy, b.gatedOccupancy),
          driftTime: addHistograms(a.driftTime, b.driftTime),
        };
      }),
    }),
    EMPTY_COUNTS,
  );
}

/** Bin centres, the x values of a histogram plot. */
export function binCentres(histogram: Histogram): number[] {
  return histogram.counts.map((_, index) => {
    const low = histogram.edges[index] ?? index;
    const high = histogram.edges[index + 1] ?? low + 1;
    return (low + high) / 2;
  });
}
