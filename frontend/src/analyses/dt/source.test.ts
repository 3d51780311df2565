import { describe, expect, it } from 'vitest';
import { ApiClient } from '../../lib/api/client.ts';
import { FakeApi } from '../../test-support/fake-api.ts';
import { batchItem, dtSummary, summaryResponse } from '../../test-support/fixtures.ts';
import { DtSource } from './source.svelte.ts';

const signal = () => new AbortController().signal;
const T0 = 1_700_000_000_000;

function bucket(startMs: number, hits: number) {
  return {
    bucketStartMs: startMs,
    rows: hits * 2,
    batches: 1,
    rejectedRows: 0,
    summary: dtSummary({ hits: [[2, 7, hits]], rowsRead: hits * 2 }),
  };
}

describe('DtSource', () => {
  it('reads the cumulative summary, and keeps it on 304', async () => {
    const api = new FakeApi().route('/api/v1/analyses/dt/summary', () =>
      summaryResponse({
        hits: [
          [0, 3, 40],
          [1, 10, 2],
        ],
        rowsRead: 100,
      }),
    );
    const source = new DtSource(new ApiClient({ fetch: api.fetch }));
    await source.refreshSummary(signal());
    const first = source.cumulative;
    await source.refreshSummary(signal());
    expect(source.cumulative).toBe(first);
    expect(first?.counts.hitCount).toBe(42);
    expect(first?.counts.chambers.map((chamber) => chamber.hits)).toEqual([40, 2, 0, 0]);
    expect(first?.counts.chambers[0]?.occupancy.counts[3]).toBe(40);
    expect(api.requests.at(-1)?.ifNoneMatch).not.toBeNull();
  });

  it('follows the batch cursor and drops batches the API sends again', async () => {
    const pages: Record<string, { items: unknown[]; cursor: string | null }> = {
      latest: { items: [batchItem('data_raw-0-0-9', T0), batchItem('data_raw-1-0-9', T0 + 1)], cursor: 'c1' },
      // The API re-reads a little behind the cursor: the second batch comes again.
      c1: { items: [batchItem('data_raw-1-0-9', T0 + 1), batchItem('data_raw-2-0-9', T0 + 2)], cursor: 'c2' },
      c2: { items: [batchItem('data_raw-2-0-9', T0 + 2)], cursor: 'c2' },
    };
    const api = new FakeApi().route('/api/v1/analyses/dt/batches', (request) => ({
      analysis: 'dt',
      ...pages[request.query.get('since') ?? 'none'],
    }));
    const source = new DtSource(new ApiClient({ fetch: api.fetch }), 'dt', { batchPageSize: 100 });

    await source.refreshBatches(signal());
    await source.refreshBatches(signal());
    await source.refreshBatches(signal());
    await source.refreshBatches(signal());

    expect(source.recentBatches.map((batch) => batch.batchId)).toEqual([
      'data_raw-0-0-9',
      'data_raw-1-0-9',
      'data_raw-2-0-9',
    ]);
    expect(source.batchesReceived).toBe(3);
    const requests = api.requestsTo('/api/v1/analyses/dt/batches');
    // The first read is of the newest batches (since=latest), then on from the cursor.
    expect(requests.map((request) => request.query.get('since'))).toEqual(['latest', 'c1', 'c2', 'c2']);
    // Nothing new: the same answer, so the last poll was a 304.
    expect(requests[3]?.ifNoneMatch).not.toBeNull();
    expect(source.recentBatches[0]).toMatchObject({ rows: 100, hits: 50, lagMs: 120, partition: 0 });
  });

  it('reads on at once after a full page of batches, up to a few pages per tick', async () => {
    const api = new FakeApi().route('/api/v1/analyses/dt/batches', (request) => {
      const since = request.query.get('since');
      const page = since === 'latest' ? 0 : Number(since);
      return {
        analysis: 'dt',
        items: [0, 1].map((index) =>
          batchItem(`data_raw-0-${page * 2 + index}-${page * 2 + index}`, T0 + page),
        ),
        cursor: String(page + 1),
      };
    });
    const source = new DtSource(new ApiClient({ fetch: api.fetch }), 'dt', {
      batchPageSize: 2,
      maxBatchPages: 3,
    });
    await source.refreshBatches(signal());
    expect(api.requests).toHaveLength(3);
    expect(source.batchesReceived).toBe(6);
  });

  it('keeps batches in a bounded ring and remembers a bounded number of ids', async () => {
    let page = 0;
    const api = new FakeApi().route('/api/v1/analyses/dt/batches', () => {
      page += 1;
      return {
        analysis: 'dt',
        items: Array.from({ length: 10 }, (_, index) => batchItem(`data_raw-0-${page}-${index}`, T0 + page)),
        cursor: `p${page}`,
      };
    });
    const source = new DtSource(new ApiClient({ fetch: api.fetch }), 'dt', {
      batchCapacity: 25,
      seenBatchIds: 30,
      maxBatchPages: 1,
    });
    for (let tick = 0; tick < 20; tick++) await source.refreshBatches(signal());
    expect(source.batchesReceived).toBe(200);
    expect(source.recentBatches).toHaveLength(25);
    expect(source.recentBatches.at(-1)?.batchId).toBe('data_raw-0-20-9');
  });

  it('fetches the whole history once, then only a recent window that repeats (304) while idle', async () => {
    let now = T0;
    const buckets = [bucket(T0 - 20_000, 5), bucket(T0 - 15_000, 7), bucket(T0 - 10_000, 9)];
    const api = new FakeApi().route('/api/v1/analyses/dt/buckets', (request) => {
      const from = Number(request.query.get('from'));
      const to = Number(request.query.get('to'));
      return {
        analysis: 'dt',
        fromMs: from,
        toMs: to,
        buckets: buckets.filter((b) => b.bucketStartMs >= from && b.bucketStartMs <= to),
      };
    });
    const source = new DtSource(new ApiClient({ fetch: api.fetch }), 'dt', {
      historySeconds: 600,
      now: () => now,
    });

    await source.refreshBuckets(signal());
    now += 2_000;
    await source.refreshBuckets(signal());
    now += 2_000;
    await source.refreshBuckets(signal());
    buckets.push(bucket(T0, 11));
    now += 2_000;
    await source.refreshBuckets(signal());

    const requests = api.requestsTo('/api/v1/analyses/dt/buckets');
    const windows = requests.map((request) => (now - Number(request.query.get('from'))) / 1000);
    expect(windows[0]).toBeGreaterThanOrEqual(600);
    expect(windows.slice(1).every((seconds) => seconds <= 50)).toBe(true);
    expect(requests[2]?.query.toString()).toBe(requests[1]?.query.toString());
    expect(source.buckets.map((b) => b.counts.hitCount)).toEqual([5, 7, 9, 11]);
    expect(source.bucketMs).toBe(5_000);
  });

  it('follows the pages of a long range, and goes on where it stopped on the next tick', async () => {
    // Arrange: 7 buckets, the API answering 2 per page.
    let now = T0;
    const buckets = Array.from({ length: 7 }, (_, index) => bucket(T0 - 300_000 + index * 40_000, index + 1));
    const api = new FakeApi().route('/api/v1/analyses/dt/buckets', (request) => {
      const from = Number(request.query.get('from'));
      const to = Number(request.query.get('to'));
      const inRange = buckets.filter((b) => b.bucketStartMs >= from && b.bucketStartMs <= to);
      return {
        analysis: 'dt',
        fromMs: from,
        toMs: to,
        buckets: inRange.slice(0, 2),
        nextFromMs: inRange[2]?.bucketStartMs ?? null,
      };
    });
    const source = new DtSource(new ApiClient({ fetch: api.fetch }), 'dt', {
      historySeconds: 600,
      maxBucketPages: 2,
      now: () => now,
    });

    // Act
    await source.refreshBuckets(signal());
    const afterFirstTick = source.buckets.map((b) => b.counts.hitCount);
    now += 2_000;
    await source.refreshBuckets(signal());

    // Assert
    expect(afterFirstTick).toEqual([1, 2, 3, 4]);
    expect(source.buckets.map((b) => b.counts.hitCount)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const froms = api.requestsTo('/api/v1/analyses/dt/buckets').map((request) => request.query.get('from'));
    expect(froms.slice(1)).toEqual([
      String(buckets[2]?.bucketStartMs),
      String(buckets[4]?.bucketStartMs),
      String(buckets[6]?.bucketStartMs),
    ]);
  });

  it('sums the buckets of the last N minutes, and shows the last complete bucket', async () => {
    const now = T0;
    const api = new FakeApi()
      .route('/api/v1/analyses/dt/buckets', () => ({
        analysis: 'dt',
        fromMs: 0,
        toMs: now,
        buckets: [
          bucket(T0 - 400_000, 100),
          bucket(T0 - 100_000, 3),
          bucket(T0 - 10_000, 4),
          bucket(T0 - 2_000, 1),
        ],
      }))
      .route('/api/v1/analyses/dt/summary', () => summaryResponse({ hits: [[2, 7, 108]] }))
      .route('/api/v1/analyses/dt/batches', () => ({ analysis: 'dt', items: [], cursor: null }));
    const source = new DtSource(new ApiClient({ fetch: api.fetch }), 'dt', { now: () => now });
    await source.refresh(signal());

    expect(source.viewCounts.counts.hitCount).toBe(108);
    source.setMinutes(5);
    expect(source.view).toBe('last-minutes');
    expect(source.viewCounts.counts.hitCount).toBe(3 + 4 + 1);
    expect(source.viewCounts.counts.chambers[2]?.occupancy.counts[7]).toBe(8);
    source.setView('last-bucket');
    // The bucket that started 2 s ago is still filling: the one before it is shown.
    expect(source.viewCounts.counts.hitCount).toBe(4);
  });
});
