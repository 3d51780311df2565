import { describe, expect, it } from 'vitest';
import { sfSummary } from '../../test-support/sf-fixtures.ts';
import { barScale } from './bars.ts';
import {
  dispositionRows,
  formatEventTime,
  lastWindow,
  lateRowsDominate,
  parseSfSummary,
  rankCounts,
  type SfCounts,
  type SfWindow,
  topN,
} from './summary.ts';

function parsed(value: unknown = sfSummary()): SfCounts {
  const result = parseSfSummary(value);
  if ('error' in result) throw new Error(result.error);
  return result.counts;
}

function window(startMinute: number, final: boolean): SfWindow {
  const startMs = Date.UTC(2018, 11, 31, 23, startMinute);
  return { startMs, endMs: startMs + 600_000, final, rows: 1, crimeTypes: 1, top: [] };
}

describe('parseSfSummary', () => {
  it('reads a real cumulative summary as the API serves it (radio codes joined)', () => {
    const counts = parsed();
    expect(counts).toMatchObject({
      rowsRead: 2000,
      rowsDistinct: 1944,
      duplicates: 56,
      droppedEmpty: 0,
      rejected: 0,
      late: 1942,
      outOfOrder: 1069,
      dedupMode: 'exact',
      dedupKeys: 1944,
      crimeTypeCount: 214,
      windowSizeMinutes: 10,
      windowSlideMinutes: 5,
      windowCount: 3,
    });
    expect(counts.eventTime).toEqual({
      minMs: Date.UTC(2018, 11, 30, 21, 44),
      maxMs: Date.UTC(2018, 11, 31, 23, 57),
      watermarkMs: Date.UTC(2018, 11, 31, 23, 52),
    });
    expect(counts.crimeTypes[0]).toEqual({ name: 'Passing Call', count: 382 });
    expect(counts.dispositions.find((entry) => entry.code === 'Not recorded')).toEqual({
      code: 'Not recorded',
      description: null,
      count: 234,
    });
    expect(counts.dispositions.find((entry) => entry.code === 'HAN')?.description).toBe('Handled');
    expect(counts.descriptions).toEqual({
      source: 'radio_code.json',
      codesInTable: 19,
      rowsDescribed: 1705,
      rowsWithoutDescription: 239,
      codesWithoutDescription: ['Not recorded', 'GEN', 'INC'],
    });
    // Listed newest first, kept oldest first.
    expect(counts.windows.map((entry) => formatEventTime(entry.startMs))).toEqual([
      '2018-12-31 23:45',
      '2018-12-31 23:50',
      '2018-12-31 23:55',
    ]);
    expect(counts.notes[0]).toMatch(/^1942 of 1944 distinct rows/);
  });

  it('reads a summary without the join (no radio-code table) and before any row', () => {
    const { disposition_descriptions: _coverage, ...bare } = sfSummary();
    const counts = parsed({
      ...bare,
      dispositions: bare.dispositions.map(({ description: _description, ...entry }) => entry),
    });
    expect(counts.descriptions).toBeNull();
    expect(counts.dispositions.every((entry) => entry.description === null)).toBe(true);

    const empty = parsed({
      ...bare,
      event_time: { min: null, max: null, watermark: null },
      windows: { size_minutes: 10, slide_minutes: 5, count: 0, recent: [] },
      notes: [],
    });
    expect(empty.eventTime).toEqual({ minMs: null, maxMs: null, watermarkMs: null });
    expect(empty.windows).toEqual([]);
  });

  it('says what is wrong with a body that is not an sf summary', () => {
    const result = parseSfSummary({ hit_count: 3, chambers: [] });
    expect(result).toEqual({ error: expect.stringMatching(/^rows_read: /) });
    const badWindow = sfSummary();
    badWindow.windows.recent[0] = { ...badWindow.windows.recent[0], rows: 'one' } as never;
    expect(parseSfSummary(badWindow)).toEqual({
      error: expect.stringMatching(/^windows\.recent\.0\.rows: /),
    });
  });
});

describe('top crime types', () => {
  it('takes the top 15 by count, ties by name, and says what is left', () => {
    const counts = parsed();
    const top = topN(counts.crimeTypes, 15, { totalTypes: counts.crimeTypeCount });
    expect(top.items).toHaveLength(15);
    expect(top.items[0]).toEqual({ name: 'Passing Call', count: 382 });
    // 'Homeless Complaint' and 'Well Being Check' tie at 55; 'Mentally Disturbed' (25) makes the cut, 'Poss' (25) not.
    expect(top.items.slice(8, 10).map((item) => item.name)).toEqual([
      'Homeless Complaint',
      'Well Being Check',
    ]);
    expect(top.items.at(-1)).toEqual({ name: 'Mentally Disturbed', count: 25 });
    expect(top.otherTypes).toBe(214 - 15);
    expect(top.otherCalls).toBe(25 + 24 + 23);
  });

  it('ranks unordered input, and uses the totals of a window that lists only its top', () => {
    expect(
      rankCounts([
        { name: 'b', count: 1 },
        { name: 'c', count: 5 },
        { name: 'a', count: 1 },
      ]).map((item) => item.name),
    ).toEqual(['c', 'a', 'b']);
    const top = topN([{ name: 'x', count: 4 }], 15, { totalTypes: 12, totalCalls: 20 });
    expect(top).toEqual({ items: [{ name: 'x', count: 4 }], otherTypes: 11, otherCalls: 16 });
    expect(topN([], 15)).toEqual({ items: [], otherTypes: 0, otherCalls: 0 });
  });
});

describe('dispositionRows', () => {
  it('sorts by count then code and gives each its share of all rows', () => {
    const rows = dispositionRows([...parsed().dispositions].reverse());
    expect(rows.map((row) => row.code).slice(0, 6)).toEqual([
      'HAN',
      'Not recorded',
      'ADV',
      'GOA',
      'CIT',
      'REP',
    ]);
    expect(rows.map((row) => row.code).slice(14, 16)).toEqual(['22', 'ADM']);
    expect(rows[0]?.share).toBeCloseTo(564 / 1944, 10);
    expect(rows.reduce((sum, row) => sum + row.share, 0)).toBeCloseTo(1, 10);
    expect(dispositionRows([{ code: 'X', description: null, count: 0 }])[0]?.share).toBe(0);
  });
});

describe('helpers', () => {
  it('tells when late rows dominate', () => {
    expect(lateRowsDominate({ late: 1942, rowsDistinct: 1944 })).toBe(true);
    expect(lateRowsDominate({ late: 5, rowsDistinct: 10 })).toBe(false);
    expect(lateRowsDominate({ late: 0, rowsDistinct: 0 })).toBe(false);
  });

  it('picks the newest closed window, or the newest when none has closed', () => {
    expect(lastWindow([window(30, true), window(35, true), window(40, false)])?.startMs).toBe(
      Date.UTC(2018, 11, 31, 23, 35),
    );
    expect(lastWindow([window(30, false), window(35, false)])?.startMs).toBe(Date.UTC(2018, 11, 31, 23, 35));
    expect(lastWindow([])).toBeUndefined();
  });

  it('prints event time as the SF wall clock it is, whatever the viewer zone', () => {
    expect(formatEventTime(Date.parse('2018-12-31T23:57:00.000Z'))).toBe('2018-12-31 23:57');
    expect(formatEventTime(null)).toBe('–');
  });

  it('makes a round bar scale', () => {
    expect(barScale(382)).toEqual({ max: 400, ticks: [0, 100, 200, 300, 400] });
    expect(barScale(3)).toEqual({ max: 3, ticks: [0, 1, 2, 3] });
    expect(barScale(0)).toEqual({ max: 1, ticks: [0, 1] });
  });
});
