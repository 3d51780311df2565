import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { describe, expect, it } from 'vitest';
import { ApiClient } from '../../lib/api/client.ts';
import { EMPTY_CELL_COLOUR } from '../../lib/charts/palette.ts';
import { FakeApi } from '../../test-support/fake-api.ts';
import { batchItem, summaryResponse } from '../../test-support/fixtures.ts';
import DtView from './DtView.svelte';
import { DtSource } from './source.svelte.ts';

const T0 = 1_700_000_000_000;

async function loadedSource() {
  const api = new FakeApi()
    .route('/api/v1/analyses/dt/summary', () =>
      summaryResponse({
        hits: [
          [0, 0, 1200],
          [0, 63, 34],
          [1, 10, 5],
          [3, 20, 9000],
        ],
        rowsRead: 20_000,
      }),
    )
    .route('/api/v1/analyses/dt/buckets', () => ({ analysis: 'dt', fromMs: 0, toMs: T0, buckets: [] }))
    .route('/api/v1/analyses/dt/batches', () => ({
      analysis: 'dt',
      items: [batchItem('data_raw-4-100-199', T0)],
      cursor: 'c',
    }));
  const source = new DtSource(new ApiClient({ fetch: api.fetch }), 'dt', { now: () => T0 });
  await source.refresh(new AbortController().signal);
  return source;
}

describe('DtView', () => {
  it('renders the totals, the telescope cells and the four chamber panels from a summary', async () => {
    const source = await loadedSource();
    const { container } = render(DtView, { props: { source, title: 'Drift tubes' } });
    flushSync();

    const total = screen.getByTestId('total-hits');
    expect(total.dataset.value).toBe(String(1200 + 34 + 5 + 9000));
    expect(total.textContent).toContain('10,239');

    const telescope = screen.getByTestId('telescope');
    const cells = telescope.querySelectorAll<SVGRectElement>('rect[data-channel]');
    expect(cells).toHaveLength(256);
    const occupied = [...cells].filter((cell) => cell.getAttribute('fill') !== EMPTY_CELL_COLOUR);
    expect(occupied.map((cell) => Number(cell.dataset.count))).toEqual([1200, 34, 5, 9000]);
    const busiest = telescope.querySelector('[data-chamber="3"] rect[data-channel="20"]');
    expect(busiest?.getAttribute('fill')).toBe('#fde725'); // the top of viridis
    expect(busiest?.querySelector('title')?.textContent).toContain('9,000 hits');
    expect(within(telescope).getByText(/y–z view \(rotated 90°\)/)).toBeTruthy();

    for (const chamber of [0, 1, 2, 3]) {
      expect(screen.getByRole('heading', { name: `Chamber ${chamber}` })).toBeTruthy();
    }
    expect(container.querySelectorAll('.uplot').length).toBe(2 + 4 * 4);
    expect(container.querySelector('tr[title="data_raw-4-100-199"]')?.textContent).toContain('100');
  });

  // Regression test; the bug it caught was: the page read batches from the oldest kept (a day
  // back) a few pages per tick and listed the last ones read, so "Latest batches" showed batches of
  // minutes ago. Fixed by: reading from the newest (since=latest) and listing newest first.
  it('lists the latest batches newest first, from the newest the API has', async () => {
    const sinceAsked: (string | null)[] = [];
    const api = new FakeApi()
      .route('/api/v1/analyses/dt/summary', () => summaryResponse({ hits: [[0, 0, 1]], rowsRead: 10 }))
      .route('/api/v1/analyses/dt/buckets', () => ({ analysis: 'dt', fromMs: 0, toMs: T0, buckets: [] }))
      .route('/api/v1/analyses/dt/batches', (request) => {
        sinceAsked.push(request.query.get('since'));
        // Write order is not quite receive order: partition 2's batch landed a moment late.
        return {
          analysis: 'dt',
          items: [
            batchItem('data_raw-1-0-99', T0 - 3_000),
            batchItem('data_raw-3-0-99', T0 - 1_000),
            batchItem('data_raw-2-0-99', T0 - 2_000),
          ],
          cursor: 'c',
        };
      });
    const source = new DtSource(new ApiClient({ fetch: api.fetch }), 'dt', { now: () => T0 });
    await source.refresh(new AbortController().signal);
    const { container } = render(DtView, { props: { source, title: 'Drift tubes' } });
    flushSync();

    expect(sinceAsked[0]).toBe('latest');
    const rows = [...container.querySelectorAll('.batches tbody tr')].map((row) => row.getAttribute('title'));
    expect(rows).toEqual(['data_raw-3-0-99', 'data_raw-2-0-99', 'data_raw-1-0-99']);
  });

  it('switches the view with real buttons, and updates in place when new data arrives', async () => {
    const source = await loadedSource();
    const { container } = render(DtView, { props: { source, title: 'Drift tubes' } });
    flushSync();
    const charts = [...container.querySelectorAll('.uplot')];

    const lastBucket = screen.getByRole('button', { name: 'Last bucket' });
    await fireEvent.click(lastBucket);
    expect(lastBucket.getAttribute('aria-pressed')).toBe('true');
    expect(screen.getByTestId('view-hits').dataset.value).toBe('0');
    expect(screen.getByText('no bucket yet', { selector: '.caption' })).toBeTruthy();

    await fireEvent.click(screen.getByRole('button', { name: 'Cumulative' }));
    source.cumulative = source.cumulative && {
      ...source.cumulative,
      counts: { ...source.cumulative.counts, hitCount: 99 },
    };
    flushSync();
    expect(screen.getByTestId('total-hits').dataset.value).toBe('99');
    // The same chart elements: updated with setData, not rebuilt.
    expect([...container.querySelectorAll('.uplot')]).toEqual(charts);
  });
});
