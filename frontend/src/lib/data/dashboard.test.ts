import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DtSource } from '../../analyses/dt/source.svelte.ts';
import { FakeApi } from '../../test-support/fake-api.ts';
import { summaryResponse } from '../../test-support/fixtures.ts';
import { ApiClient } from '../api/client.ts';
import { Dashboard } from './dashboard.svelte.ts';

const health = {
  windowSeconds: 30,
  rowsInPerSecond: 0,
  rowsOutPerSecond: 0,
  batches: 0,
  rejectedRows: 0,
  rejectedByReason: {},
  latencyMs: { p50: null, p99: null, max: null },
  lastBatchAtMs: null,
  replays: [],
};

describe('Dashboard polling through the API client', () => {
  let hits = 10;
  let api: FakeApi;
  let dashboard: Dashboard;
  let source: DtSource;

  beforeEach(() => {
    vi.useFakeTimers();
    hits = 10;
    api = new FakeApi()
      .route('/api/v1/analyses', () => ({ analyses: [{ id: 'dt', title: 'dt' }] }))
      .route('/api/v1/health', () => health)
      .route('/api/v1/analyses/dt/summary', () => summaryResponse({ hits: [[0, 0, hits]] }))
      .route('/api/v1/analyses/dt/buckets', (request) => ({
        analysis: 'dt',
        fromMs: Number(request.query.get('from')),
        toMs: Number(request.query.get('to')),
        buckets: [],
      }))
      .route('/api/v1/analyses/dt/batches', () => ({ analysis: 'dt', items: [], cursor: null }));
    const client = new ApiClient({ fetch: api.fetch });
    dashboard = new Dashboard({
      api: client,
      poller: {
        random: () => 0.999999,
        visibility: { isHidden: () => false, subscribe: () => () => {} },
      },
    });
    source = new DtSource(client);
    dashboard.register(source);
  });
  afterEach(() => {
    dashboard.stop();
    vi.useRealTimers();
  });

  it('asks with If-None-Match and gets 304s while nothing changes, then the new total', async () => {
    dashboard.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(source.cumulative?.counts.hitCount).toBe(10);
    await vi.advanceTimersByTimeAsync(2_000);
    const summaries = api.requestsTo('/api/v1/analyses/dt/summary');
    expect(summaries).toHaveLength(2);
    expect(summaries[1]?.ifNoneMatch).not.toBeNull();

    hits = 11;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(source.cumulative?.counts.hitCount).toBe(11);
  });

  it('keeps the last data through an outage, backs off, and recovers when the API is back', async () => {
    dashboard.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(dashboard.poller.connection.kind).toBe('connected');

    api.mode = 'down';
    await vi.advanceTimersByTimeAsync(2_000);
    expect(dashboard.poller.connection).toMatchObject({ kind: 'reconnecting', attempt: 1 });
    await vi.advanceTimersByTimeAsync(1_000 + 2_000 + 4_000);
    expect(dashboard.poller.connection).toMatchObject({ kind: 'reconnecting', attempt: 4 });
    expect(source.cumulative?.counts.hitCount).toBe(10);

    api.mode = 503;
    await vi.advanceTimersByTimeAsync(8_000);
    expect(dashboard.poller.connection).toMatchObject({ kind: 'error', status: 503 });

    api.mode = 'up';
    hits = 25;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(dashboard.poller.connection.kind).toBe('connected');
    expect(source.cumulative?.counts.hitCount).toBe(25);
  });
});
