import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { describe, expect, it } from 'vitest';
import { ApiClient } from '../../lib/api/client.ts';
import { FakeApi } from '../../test-support/fake-api.ts';
import { sfSummary, sfSummaryResponse } from '../../test-support/sf-fixtures.ts';
import SfView from './SfView.svelte';
import { SfSource } from './source.svelte.ts';

async function loadedSource() {
  let body: unknown = sfSummary();
  const api = new FakeApi().route('/api/v1/analyses/sf/summary', () => sfSummaryResponse(body));
  const source = new SfSource(new ApiClient({ fetch: api.fetch }), 'sf');
  await source.refresh(new AbortController().signal);
  return {
    source,
    async next(summary: unknown) {
      body = summary;
      await source.refresh(new AbortController().signal);
      flushSync();
    },
  };
}

function tile(testid: string) {
  return screen.getByTestId(testid);
}

describe('SfView', () => {
  it('renders the counter tiles, the late-row note, the bars, the dispositions and the progress', async () => {
    const { source } = await loadedSource();
    const { container } = render(SfView, { props: { source, title: 'SF police calls' } });
    flushSync();

    expect(screen.getByRole('heading', { name: 'SF police calls' })).toBeTruthy();
    const tiles: [string, number, string][] = [
      ['sf-rows-read', 2000, '2,000'],
      ['sf-unique', 1944, '1,944'],
      ['sf-duplicates', 56, '56'],
      ['sf-dropped', 0, '0'],
      ['sf-late', 1942, '1,942'],
      ['sf-rejected', 0, '0'],
    ];
    for (const [testid, raw, text] of tiles) {
      expect(tile(testid).dataset.value).toBe(String(raw));
      expect(tile(testid).textContent).toContain(text);
    }
    expect(tile('sf-late').textContent).toContain('99.9% of unique');
    expect(screen.queryByTestId('sf-beyond-horizon')).toBeNull();

    const note = screen.getByTestId('sf-notes');
    expect(within(note).getByRole('heading', { name: 'Why nearly every row is late' })).toBeTruthy();
    expect(note.textContent).toContain('the SF file is sorted newest first');

    const bars = screen.getByTestId('crime-type-bars').querySelectorAll('li');
    expect(bars).toHaveLength(15);
    expect(bars[0]?.textContent).toContain('Passing Call');
    expect(bars[0]?.textContent).toContain('382');
    expect(screen.getByText(/\+ 199 more types/)).toBeTruthy();

    const table = screen.getByTestId('dispositions');
    const rows = table.querySelectorAll('tbody tr');
    expect(rows).toHaveLength(19);
    const cells = (code: string) =>
      [...(table.querySelector(`tr[data-code="${code}"]`)?.querySelectorAll('td') ?? [])].map((cell) =>
        cell.textContent?.trim(),
      );
    expect(cells('HAN')).toEqual(['HAN', 'Handled', '564', '29.0%']);
    expect(cells('Not recorded')).toEqual(['Not recorded', '—', '234', '12.0%']);
    expect(cells('GEN')[1]).toBe('—');
    expect(rows[1]?.getAttribute('data-code')).toBe('Not recorded');
    expect(screen.getByTestId('description-coverage').textContent).toMatch(
      /1,705 rows described by radio_code.json \(19 codes\) · 239 without description \(Not recorded, GEN, INC\): a left join keeps them\.$/,
    );

    const progress = screen.getByTestId('sf-progress');
    expect(progress.textContent).toContain('2018-12-30 21:44');
    expect(progress.textContent).toContain('2018-12-31 23:57');
    expect(progress.textContent).toContain('2018-12-31 23:52');

    expect(container.querySelectorAll('.uplot')).toHaveLength(1);
    expect(screen.getByText(/Top 5 crime types per event-time window \(10 min, sliding by 5\)/)).toBeTruthy();
  });

  it('switches to the last window with real buttons, and updates in place when a new summary arrives', async () => {
    const { source, next } = await loadedSource();
    const { container } = render(SfView, { props: { source, title: 'SF police calls' } });
    flushSync();
    const chart = container.querySelector('.uplot');

    const lastWindow = screen.getByRole('button', { name: 'Last window' });
    await fireEvent.click(lastWindow);
    expect(lastWindow.getAttribute('aria-pressed')).toBe('true');
    // No window has closed: the newest one, 23:55–00:05, with its one call.
    const windowBars = screen.getByTestId('crime-type-bars').querySelectorAll('li');
    expect([...windowBars].map((bar) => bar.dataset.name)).toEqual(['Traffic Stop']);
    expect(screen.getByText(/event-time window 23:55–00:05 \(SF local, still open\)/)).toBeTruthy();

    const select = screen.getByRole('combobox', { name: 'Event-time window of the crime types chart' });
    expect(within(select).getAllByRole('option')).toHaveLength(4);
    await fireEvent.change(select, { target: { value: String(Date.UTC(2018, 11, 31, 23, 50)) } });
    expect(lastWindow.getAttribute('aria-pressed')).toBe('false');
    expect(
      [...screen.getByTestId('crime-type-bars').querySelectorAll('li')].map((bar) => bar.dataset.name),
    ).toEqual(['Traf Violation Cite', 'Traffic Stop']);

    await fireEvent.click(screen.getByRole('button', { name: 'Cumulative' }));
    const firstBar = screen.getByTestId('crime-type-bars').querySelector('li[data-name="Passing Call"]');
    const summary = sfSummary();
    summary.rows_read = 2500;
    summary.rows_late = 100;
    summary.notes = [];
    summary.crime_types[0] = { original_crime_type_name: 'Passing Call', count: 480 };
    summary.dispositions[1] = { disposition: 'Not recorded', count: 300, description: null };
    await next(summary);

    expect(tile('sf-rows-read').dataset.value).toBe('2500');
    expect(screen.queryByTestId('sf-notes')).toBeNull();
    const updatedBar = screen.getByTestId('crime-type-bars').querySelector('li[data-name="Passing Call"]');
    expect(updatedBar?.textContent).toContain('480');
    expect(
      screen.getByTestId('dispositions').querySelector('tr[data-code="Not recorded"]')?.textContent,
    ).toContain('300');
    // The same elements, updated: the chart with setData (the top 5 did not change), the bar by its key.
    expect(container.querySelector('.uplot')).toBe(chart);
    expect(updatedBar).toBe(firstBar);
  });

  it('shows the bounded-dedup counter and its note for sfb', async () => {
    const { source, next } = await loadedSource();
    render(SfView, { props: { source, title: 'SF (bounded dedup)' } });
    const summary = sfSummary();
    summary.dedup = { mode: 'bounded', horizon_minutes: 60 } as never;
    summary.rows_beyond_dedup_horizon = 12;
    summary.rows_late = 10;
    summary.notes = [
      '12 distinct rows were more than 60 min behind the watermark and were counted without a duplicate check (bounded dedup): their duplicates, if any, are counted twice.',
    ];
    await next(summary);
    expect(tile('sf-beyond-horizon').dataset.value).toBe('12');
    expect(screen.getByTestId('dedup-mode').textContent).toContain('bounded dedup · 60 min horizon');
    const note = screen.getByTestId('sf-notes');
    expect(within(note).getByRole('heading', { name: 'Notes' })).toBeTruthy();
    expect(note.textContent).toContain('counted twice');
  });
});
