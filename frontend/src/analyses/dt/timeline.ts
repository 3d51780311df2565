import type { DtBucket } from './source.svelte.ts';

export interface Timeline {
  /** Bucket starts, seconds (uPlot's time unit). */
  readonly x: number[];
  readonly hits: number[];
  /** [chamber][point] */
  readonly chamberHits: number[][];
}

/**
 * The buckets as evenly spaced points: a bucket without data is a 0, not a gap the line jumps over.
 * The bucket still filling at `nowMs` is left out (it would show as a dip on every tick).
 */
export function bucketTimeline(buckets: readonly DtBucket[], bucketMs: number, nowMs: number): Timeline {
  const complete = buckets.filter((bucket) => bucket.startMs + bucketMs <= nowMs);
  const first = complete[0];
  const last = complete.at(-1);
  if (!first || !last || bucketMs <= 0) return { x: [], hits: [], chamberHits: [[], [], [], []] };
  const byStart = new Map(complete.map((bucket) => [bucket.startMs, bucket]));
  const lastStart = Math.max(last.startMs, Math.floor((nowMs - bucketMs) / bucketMs) * bucketMs);
  const x: number[] = [];
  const hits: number[] = [];
  const chamberHits: number[][] = [[], [], [], []];
  // Bounded: the buckets were trimmed to the history window.
  for (let start = first.startMs; start <= lastStart && x.length < 10_000; start += bucketMs) {
    const bucket = byStart.get(start);
    x.push(start / 1000);
    hits.push(bucket?.counts.hitCount ?? 0);
    chamberHits.forEach((series, chamber) => {
      series.push(bucket?.counts.chambers[chamber]?.hits ?? 0);
    });
  }
  return { x, hits, chamberHits };
}
