import { render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import App from './App.svelte';
import { FakeApi } from './test-support/fake-api.ts';
import { summaryResponse } from './test-support/fixtures.ts';
import { sfSummaryResponse } from './test-support/sf-fixtures.ts';

function fakeApi() {
  return new FakeApi()
    .route('/api/v1/analyses', () => ({
      analyses: [
        { id: 'dt', title: 'Drift-tube muon telescope' },
        { id: 'sf', title: 'SF police calls' },
        { id: 'nyc', title: 'NYC taxi trips' },
      ],
    }))
    .route('/api/v1/health', () => ({
      windowSeconds: 30,
      rowsInPerSecond: 1000,
      rowsOutPerSecond: 990,
      batches: 12,
      rejectedRows: 2,
      rejectedByReason: { 'bad-field-count': 2 },
      latencyMs: { p50: 420, p99: 900, max: 950 },
      lastBatchAtMs: Date.now() - 1000,
      unroutedRows: 3,
      unroutedByReason: { 'bad-origin': 3 },
      replays: [
        {
          bucket: 'datasets',
          key: 'dt/run-1/telescope.csv',
          analysis: 'dt',
          run: 'dt/run-1/telescope.csv@abc',
          status: 'running',
          message: null,
          rowsSent: 25_000,
          recordsSent: 25_000,
          rate: 1000,
          rowsPerRecord: 1,
          invocations: 1,
          fraction: 0.25,
          rowsPerSecond: 1000,
          etaSeconds: 75,
          startedAt: new Date().toISOString(),
          updatedAt: new Date().toISOString(),
          stale: false,
        },
      ],
    }))
    .route('/api/v1/analyses/dt/summary', () => summaryResponse({ hits: [[0, 1, 7]], rowsRead: 30 }))
    .route('/api/v1/analyses/dt/buckets', () => ({ analysis: 'dt', fromMs: 0, toMs: 1, buckets: [] }))
    .route('/api/v1/analyses/dt/batches', () => ({ analysis: 'dt', items: [], cursor: null }))
    .route('/api/v1/analyses/sf/summary', () => sfSummaryResponse());
}

describe('App', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('lists the analyses from the API, renders the registered panel, and shows health and replays', async () => {
    const api = fakeApi();
    vi.stubGlobal('fetch', api.fetch);
    render(App);

    await waitFor(() => expect(screen.getByTestId('total-hits').dataset.value).toBe('7'));
    expect(screen.getByTestId('connection').dataset.state).toBe('connected');
    expect(screen.getByRole('heading', { name: 'Drift-tube muon telescope' })).toBeTruthy();
    expect(screen.getByRole('heading', { name: 'SF police calls' })).toBeTruthy();
    await waitFor(() => expect(screen.getByTestId('sf-rows-read').dataset.value).toBe('2000'));
    // An analysis without panels in this dashboard: a note, not a crash.
    expect(screen.getByText(/NYC taxi trips \(nyc\): this dashboard has no panels for it yet/)).toBeTruthy();
    expect(screen.getByText('bad-field-count')).toBeTruthy();
    expect(screen.getByTestId('unrouted-rows').textContent).toMatch(
      /3 records since the start .*bad-origin 3/s,
    );
    const progress = screen.getByRole('progressbar', { name: 'Replay of dt/run-1/telescope.csv' });
    expect(progress.getAttribute('aria-valuenow')).toBe('25');
    expect(screen.getByText(/ETA 01:15/)).toBeTruthy();
    // Same origin, relative URLs: the dashboard is served beside the API.
    expect(api.requests.map((request) => request.path)).toContain('/api/v1/analyses/dt/summary');
  });

  it('says so when the API is unreachable', async () => {
    const api = fakeApi();
    api.mode = 'down';
    vi.stubGlobal('fetch', api.fetch);
    render(App);
    await waitFor(() => expect(screen.getByTestId('connection').dataset.state).toBe('reconnecting'));
    expect(screen.getByTestId('connection').textContent).toMatch(/Reconnecting: API unreachable/);
    expect(screen.getByTestId('updated').textContent).toMatch(/no data yet/);
  });
});
