import { describe, expect, it } from 'vitest';
import { ApiClient } from '../../lib/api/client.ts';
import { FakeApi } from '../../test-support/fake-api.ts';
import { sfSummary, sfSummaryResponse } from '../../test-support/sf-fixtures.ts';
import { SfSource } from './source.svelte.ts';

const signal = () => new AbortController().signal;

function withWindows(final: boolean[]) {
  const summary = sfSummary();
  // Newest first, as the analysis lists them: 23:55, 23:50, 23:45.
  summary.windows.recent = summary.windows.recent.map((window, index) => ({
    ...window,
    final: final[index] ?? false,
  }));
  return summary;
}

describe('SfSource', () => {
  it('reads the cumulative summary of its analysis id, and keeps it on 304', async () => {
    const api = new FakeApi().route('/api/v1/analyses/sfb/summary', () =>
      sfSummaryResponse(sfSummary(), 'sfb'),
    );
    const source = new SfSource(new ApiClient({ fetch: api.fetch }), 'sfb');
    await source.refresh(signal());
    const first = source.cumulative;
    await source.refresh(signal());
    expect(source.cumulative).toBe(first);
    expect(api.requests.at(-1)?.ifNoneMatch).not.toBeNull();
    expect(first).toMatchObject({ partitions: 4, batches: 4, counts: { rowsRead: 2000 } });
    expect(source.lineTypes).toEqual([
      'Passing Call',
      'Traffic Stop',
      'Audible Alarm',
      'Suspicious Person',
      'Traf Violation Cite',
    ]);
    expect(source.dispositions[0]).toMatchObject({ code: 'HAN', description: 'Handled', count: 564 });
  });

  it('reports a body that is not an sf summary and keeps the last good one', async () => {
    let body: unknown = sfSummary();
    const api = new FakeApi().route('/api/v1/analyses/sf/summary', () => sfSummaryResponse(body));
    const source = new SfSource(new ApiClient({ fetch: api.fetch }));
    await source.refresh(signal());
    body = { hit_count: 1 };
    await source.refresh(signal());
    expect(source.problem).toMatch(/^the summary is not an sf summary \(rows_read: /);
    expect(source.cumulative?.counts.rowsRead).toBe(2000);
  });

  it('shows the top 15 cumulative, or the top of the last (or a chosen) event-time window', async () => {
    let body = withWindows([false, true, true]);
    const api = new FakeApi().route('/api/v1/analyses/sf/summary', () => sfSummaryResponse(body));
    const source = new SfSource(new ApiClient({ fetch: api.fetch }));
    await source.refresh(signal());

    expect(source.typesView.top.items).toHaveLength(15);
    expect(source.typesView.top.otherTypes).toBe(199);

    source.setView('window');
    // The newest closed window (23:50), not the open one after it.
    expect(source.typesView.window?.startMs).toBe(Date.UTC(2018, 11, 31, 23, 50));
    expect(source.typesView.caption).toBe('event-time window 23:50–00:00 (SF local, closed)');
    expect(source.typesView.top.items.map((item) => item.name)).toEqual([
      'Traf Violation Cite',
      'Traffic Stop',
    ]);

    source.chooseWindow(Date.UTC(2018, 11, 31, 23, 45));
    expect(source.typesView.top.items).toEqual([{ name: 'Traf Violation Cite', count: 1 }]);

    // The chosen window leaves the summary's recent list: the last window again.
    body = withWindows([true, true]);
    body.windows.recent = body.windows.recent.slice(0, 2);
    await source.refresh(signal());
    expect(source.typesView.window?.startMs).toBe(Date.UTC(2018, 11, 31, 23, 55));
  });
});
