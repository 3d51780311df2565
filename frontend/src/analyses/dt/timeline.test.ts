import { describe, expect, it } from 'vitest';
import type { DtBucket } from './source.svelte.ts';
import { CHAMBERS, EMPTY_COUNTS, emptyChamber } from './summary.ts';
import { bucketTimeline } from './timeline.ts';

function bucket(startMs: number, hits: number): DtBucket {
  return {
    startMs,
    rows: hits,
    batches: 1,
    counts: {
      ...EMPTY_COUNTS,
      hitCount: hits,
      chambers: CHAMBERS.map((chamber) => ({ ...emptyChamber(), hits: chamber === 2 ? hits : 0 })),
    },
  };
}

describe('bucketTimeline', () => {
  it('spaces points evenly, with zeros for buckets without data, and leaves out the bucket still filling', () => {
    const timeline = bucketTimeline([bucket(10_000, 4), bucket(25_000, 6), bucket(30_000, 9)], 5_000, 34_000);
    expect(timeline.x).toEqual([10, 15, 20, 25]);
    expect(timeline.hits).toEqual([4, 0, 0, 6]);
    expect(timeline.chamberHits[2]).toEqual([4, 0, 0, 6]);
    expect(timeline.chamberHits[0]).toEqual([0, 0, 0, 0]);
  });

  it('runs on with zeros up to now after data stops', () => {
    const timeline = bucketTimeline([bucket(10_000, 4)], 5_000, 31_000);
    expect(timeline.x).toEqual([10, 15, 20, 25]);
    expect(timeline.hits).toEqual([4, 0, 0, 0]);
  });

  it('is empty before the first bucket has ended', () => {
    expect(bucketTimeline([bucket(10_000, 4)], 5_000, 12_000).x).toEqual([]);
  });
});
