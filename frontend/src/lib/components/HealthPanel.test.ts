import { render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import App from '../../App.svelte';
import { FakeApi } from '../../test-support/fake-api.ts';
import { formatClock } from '../format.ts';

const CHECKED_AT = '2026-12-01T10:42:05.000Z';

function replay(key: string, reconciled?: Record<string, unknown>) {
  return {
    bucket: 'datasets',
    key,
    analysis: 'sf',
    run: `${key}@abc`,
    status: 'done',
    message: null,
    rowsSent: 199_999,
    recordsSent: 199_999,
    rate: 0,
    rowsPerRecord: 1,
    invocations: 1,
    fraction: 1,
    rowsPerSecond: 7000,
    etaSeconds: null,
    startedAt: CHECKED_AT,
    updatedAt: CHECKED_AT,
    stale: false,
    ...(reconciled ? { reconciled } : {}),
  };
}

function fakeApi() {
  return new FakeApi()
    .route('/api/v1/analyses', () => ({ analyses: [] }))
    .route('/api/v1/health', () => ({
      windowSeconds: 30,
      rowsInPerSecond: 0,
      rowsOutPerSecond: 0,
      batches: 0,
      rejectedRows: 0,
      rejectedByReason: {},
      latencyMs: { p50: null, p99: null, max: null },
      lastBatchAtMs: null,
      replays: [
        replay('sf/replay/verified.json', {
          checkedAt: CHECKED_AT,
          equal: true,
          rows: 199_999,
          quantities: 20,
          differences: [],
        }),
        replay('sf/replay/tampered.json', {
          checkedAt: CHECKED_AT,
          equal: false,
          rows: 199_999,
          quantities: 20,
          differences: ['rows', 'crime_types'],
        }),
        replay('sf/replay/unchecked.json'),
      ],
    }));
}

describe('HealthPanel: the last reconcile of each replay', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('shows "verified ✓ at …" for an equal result, the number of differences otherwise, nothing without one', async () => {
    vi.stubGlobal('fetch', fakeApi().fetch);
    render(App);

    await waitFor(() => expect(screen.getAllByTestId('reconciled')).toHaveLength(2));
    const [verified, differs] = screen.getAllByTestId('reconciled');
    const at = formatClock(Date.parse(CHECKED_AT));
    expect(verified?.textContent?.trim()).toBe(`verified ✓ at ${at}`);
    expect(verified?.dataset.equal).toBe('true');
    expect(differs?.textContent?.trim()).toBe(`differs ✗ (2) at ${at}`);
    expect(differs?.getAttribute('title')).toMatch(/differing: rows, crime_types/);
    const unchecked = screen.getByText('sf/replay/unchecked.json').closest('li');
    expect(unchecked?.querySelector('[data-testid="reconciled"]')).toBeNull();
  });
});
