/**
 * Event-time windows and the watermark, written as most.js-style timelines: arrivals
 * `[{ time: event time 'HH:MM', value: crime type }]` in arrival order, windows as
 * `[{ time: window start, value: counts per type }]`.
 */
import { describe, expect, it } from 'vitest';
import type { WindowCounts } from '../../../shared/analyses/sf/counts.ts';
import { type SfBatch, type SfState, sfAnalysis } from '../../../shared/analyses/sf/index.ts';
import {
  type Arrival,
  asArray,
  asObject,
  clockOf,
  records,
  rowsOf,
  slices,
  windowTimeline,
} from './fixtures.ts';

/** Applies the arrivals one row per batch; returns the state and every batch. */
function replayRowByRow(arrivals: readonly Arrival[]): { state: SfState; batches: SfBatch[] } {
  let state = sfAnalysis.emptyState();
  const batches: SfBatch[] = [];
  for (const row of rowsOf(arrivals)) {
    const step = sfAnalysis.applyBatch(state, records([row]));
    state = step.state;
    batches.push(step.batch);
  }
  return { state, batches };
}

/** Every window increment of the batches, added up: the complete window history (rollups see this). */
function allWindows(batches: readonly SfBatch[]): WindowCounts {
  return batches.reduce((sum, batch) => sfAnalysis.mergeBatches(sum, batch), sfAnalysis.emptyBatch()).windows;
}

describe('sf event-time windows: 10 minutes, sliding every 5', () => {
  it('counts each on-time distinct row in its two windows', () => {
    // Arrange
    const arrivals: Arrival[] = [
      { time: '00:01', value: 'A' },
      { time: '00:04', value: 'B' },
      { time: '00:06', value: 'A' },
      { time: '00:12', value: 'A' },
    ];

    // Act
    const { batches } = replayRowByRow(arrivals);

    // Assert
    expect(windowTimeline(allWindows(batches))).toEqual([
      { time: '23:55', value: { A: 1, B: 1 } },
      { time: '00:00', value: { A: 2, B: 1 } },
      { time: '00:05', value: { A: 2 } },
      { time: '00:10', value: { A: 1 } },
    ]);
  });

  it('moves the watermark to max event time − 5 min, row by row, and counts rows behind it as late', () => {
    // Arrange
    const arrivals: Arrival[] = [
      { time: '00:10', value: 'A' },
      { time: '00:06', value: 'B' }, // behind the max, ahead of the watermark 00:05: on time
      { time: '00:04', value: 'C' }, // behind 00:05: late
      { time: '00:20', value: 'A' },
      { time: '00:15', value: 'B' }, // exactly at the watermark: on time
      { time: '00:14', value: 'C' }, // late
    ];

    // Act
    const { state, batches } = replayRowByRow(arrivals);

    // Assert
    const timeline = batches.map((batch, index) => ({
      time: arrivals[index]?.time,
      value: {
        watermark: clockOf(batch.eventTime?.watermarkMs ?? Number.NaN),
        late: batch.counters.lateRows,
      },
    }));
    expect(timeline).toEqual([
      { time: '00:10', value: { watermark: '00:05', late: 0 } },
      { time: '00:06', value: { watermark: '00:05', late: 0 } },
      { time: '00:04', value: { watermark: '00:05', late: 1 } },
      { time: '00:20', value: { watermark: '00:15', late: 0 } },
      { time: '00:15', value: { watermark: '00:15', late: 0 } },
      { time: '00:14', value: { watermark: '00:15', late: 1 } },
    ]);
    // Late rows are counted per crime type (the source's watermark bounds nothing) but in no window.
    expect(state.crimeTypes).toEqual(
      new Map([
        ['A', 2],
        ['B', 2],
        ['C', 2],
      ]),
    );
    expect(windowTimeline(allWindows(batches))).toEqual([
      { time: '00:00', value: { B: 1 } },
      { time: '00:05', value: { A: 1, B: 1 } },
      { time: '00:10', value: { A: 1, B: 1 } },
      { time: '00:15', value: { A: 1, B: 1 } },
      { time: '00:20', value: { A: 1 } },
    ]);
    expect(sfAnalysis.summarizeState(state)).toMatchObject({ rows_late: 2, rows_distinct: 6 });
  });

  it('evicts a window from state once the watermark reaches its end (final), keeping memory bounded', () => {
    // Arrange
    const arrivals: Arrival[] = [
      { time: '00:00', value: 'A' },
      { time: '00:07', value: 'A' },
      { time: '00:12', value: 'A' },
      { time: '00:21', value: 'A' },
    ];
    let state = sfAnalysis.emptyState();
    const open: { time: string; value: string[] }[] = [];

    // Act
    for (const [index, row] of rowsOf(arrivals).entries()) {
      state = sfAnalysis.applyBatch(state, records([row])).state;
      open.push({
        time: arrivals[index]?.time ?? '',
        value: [...state.openWindows.keys()].sort().map(clockOf),
      });
    }

    // Assert
    expect(open).toEqual([
      { time: '00:00', value: ['23:55', '00:00'] }, // watermark 23:55
      { time: '00:07', value: ['23:55', '00:00', '00:05'] }, // watermark 00:02
      { time: '00:12', value: ['00:00', '00:05', '00:10'] }, // watermark 00:07 ≥ end of 23:55
      { time: '00:21', value: ['00:10', '00:15', '00:20'] }, // watermark 00:16 ≥ ends 00:10, 00:15
    ]);
    expect([...state.closedWindows.keys()].sort().map(clockOf)).toEqual(['23:55', '00:00', '00:05']);
  });

  it('keeps at most 3 open and 12 closed windows per partition over a day of calls, history in the batches', () => {
    // Arrange: one call a minute for 24 h, ascending.
    const arrivals: Arrival[] = Array.from({ length: 24 * 60 }, (_, minute) => ({
      time: `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`,
      value: minute % 3 === 0 ? 'A' : 'B',
    }));

    // Act
    let state = sfAnalysis.emptyState();
    let history = sfAnalysis.emptyBatch();
    for (const batchRows of slices(rowsOf(arrivals), 100)) {
      const step = sfAnalysis.applyBatch(state, records(batchRows));
      state = step.state;
      history = sfAnalysis.mergeBatches(history, step.batch);
    }

    // Assert
    expect(state.openWindows.size).toBeLessThanOrEqual(3);
    expect(state.closedWindows.size).toBe(12);
    expect(history.windows.size).toBe(24 * 12 + 1);
    for (const [start, counts] of history.windows) {
      const full = start >= Date.parse('2018-12-31T00:00:00Z') && start <= Date.parse('2018-12-31T23:50:00Z');
      if (full) expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(10);
    }
  });

  it('summarizes the most recent windows with their top crime types and whether they are final', () => {
    // Arrange
    const arrivals: Arrival[] = [
      { time: '00:01', value: 'A' },
      { time: '00:02', value: 'B' },
      { time: '00:03', value: 'A' },
      { time: '00:16', value: 'C' },
    ];

    // Act
    const { state } = replayRowByRow(arrivals);
    const windows = asObject(sfAnalysis.summarizeState(state).windows);

    // Assert
    expect(windows).toMatchObject({ size_minutes: 10, slide_minutes: 5, count: 4 });
    expect(asArray(windows.recent)).toEqual([
      {
        start: '2018-12-31T00:15:00.000Z',
        end: '2018-12-31T00:25:00.000Z',
        final: false,
        rows: 1,
        crime_types: 1,
        top: [{ original_crime_type_name: 'C', count: 1 }],
      },
      {
        start: '2018-12-31T00:10:00.000Z',
        end: '2018-12-31T00:20:00.000Z',
        final: false,
        rows: 1,
        crime_types: 1,
        top: [{ original_crime_type_name: 'C', count: 1 }],
      },
      {
        start: '2018-12-31T00:00:00.000Z',
        end: '2018-12-31T00:10:00.000Z',
        final: true, // watermark 00:11
        rows: 3,
        crime_types: 2,
        top: [
          { original_crime_type_name: 'A', count: 2 },
          { original_crime_type_name: 'B', count: 1 },
        ],
      },
      {
        start: '2018-12-30T23:55:00.000Z',
        end: '2018-12-31T00:05:00.000Z',
        final: true,
        rows: 3,
        crime_types: 2,
        top: [
          { original_crime_type_name: 'A', count: 2 },
          { original_crime_type_name: 'B', count: 1 },
        ],
      },
    ]);
  });

  it('gives the same windows, late rows and watermark however the rows are cut into batches', () => {
    // Arrange: out of order by up to 8 minutes, so some rows are late.
    const arrivals: Arrival[] = Array.from({ length: 300 }, (_, index) => {
      const minute = 60 + index - ((index * 7919) % 9);
      return {
        time: `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`,
        value: `T${index % 4}`,
      };
    });
    const rows = rowsOf(arrivals);
    const oneBatch = sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(rows));

    for (const size of [1, 7, 200]) {
      // Act
      let state = sfAnalysis.emptyState();
      let history = sfAnalysis.emptyBatch();
      for (const batchRows of slices(rows, size)) {
        const step = sfAnalysis.applyBatch(state, records(batchRows));
        state = step.state;
        history = sfAnalysis.mergeBatches(history, step.batch);
      }

      // Assert
      expect(oneBatch.batch.counters.lateRows).toBeGreaterThan(0);
      expect(sfAnalysis.summarizeState(state), `batches of ${size}`).toEqual(
        sfAnalysis.summarizeState(oneBatch.state),
      );
      expect(windowTimeline(history.windows)).toEqual(windowTimeline(oneBatch.batch.windows));
      expect(history.eventTime).toEqual(oneBatch.eventTime);
    }
  });
});
