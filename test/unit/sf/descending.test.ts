/**
 * The real file is sorted by call_date_time DESCENDING. Replayed in file order, event time runs
 * backwards: after the first 5 minutes every row is behind the watermark. The source-semantics counts
 * must not care; the windows can only hold the first minutes; the summaries must say why.
 */
import { describe, expect, it } from 'vitest';
import { sfAnalysis } from '../../../shared/analyses/sf/index.ts';
import { type Arrival, asArray, clockOf, records, rowsOf, slices, windowTimeline } from './fixtures.ts';

/** Two calls a minute from 02:00 back to 00:00, newest first, as in the file. */
const descending: Arrival[] = Array.from({ length: 240 }, (_, index) => {
  const minute = 120 - Math.floor(index / 2);
  return {
    time: `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`,
    value: index % 2 === 0 ? 'Traffic Stop' : 'Passing Call',
  };
});

describe('sf on descending event time (the real file order)', () => {
  it('counts exactly what ascending order counts: the source semantics ignore the watermark', () => {
    // Arrange
    const rows = rowsOf(descending);
    const ascending = [...rows].reverse();

    // Act
    const backwards = sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(rows)).state;
    const forwards = sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(ascending)).state;

    // Assert
    expect(sfAnalysis.summarizeState(backwards).crime_types).toEqual(
      sfAnalysis.summarizeState(forwards).crime_types,
    );
    expect(backwards.counters.uniqueRows).toBe(240);
  });

  it('holds the watermark at the first row − 5 min while event time falls: nearly every row is late', () => {
    // Arrange
    let state = sfAnalysis.emptyState();
    const timeline: { time: string; value: { min: string; max: string; watermark: string; late: number } }[] =
      [];

    // Act: batches of 40 rows (20 minutes of calls each).
    for (const batchRows of slices(rowsOf(descending), 40)) {
      const step = sfAnalysis.applyBatch(state, records(batchRows));
      state = step.state;
      const eventTime = step.eventTime;
      if (!eventTime) throw new Error('no event time');
      timeline.push({
        time: clockOf(eventTime.maxMs),
        value: {
          min: clockOf(eventTime.minMs),
          max: clockOf(eventTime.maxMs),
          watermark: clockOf(eventTime.watermarkMs),
          late: step.batch.counters.lateRows,
        },
      });
    }

    // Assert
    expect(timeline).toEqual([
      { time: '02:00', value: { min: '01:41', max: '02:00', watermark: '01:55', late: 28 } },
      { time: '01:40', value: { min: '01:21', max: '01:40', watermark: '01:55', late: 40 } },
      { time: '01:20', value: { min: '01:01', max: '01:20', watermark: '01:55', late: 40 } },
      { time: '01:00', value: { min: '00:41', max: '01:00', watermark: '01:55', late: 40 } },
      { time: '00:40', value: { min: '00:21', max: '00:40', watermark: '01:55', late: 40 } },
      { time: '00:20', value: { min: '00:01', max: '00:20', watermark: '01:55', late: 40 } },
    ]);
    expect(state.counters).toMatchObject({ uniqueRows: 240, lateRows: 228, outOfOrderRows: 119 });
  });

  it('keeps windows only for the first minutes, and says why in the summary', () => {
    // Act
    const state = sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(rowsOf(descending))).state;
    const summary = sfAnalysis.summarizeState(state);

    // Assert
    expect(windowTimeline(state.openWindows)).toEqual([
      { time: '01:50', value: { 'Passing Call': 5, 'Traffic Stop': 5 } }, // 01:55–01:59
      { time: '01:55', value: { 'Passing Call': 6, 'Traffic Stop': 6 } }, // 01:55–02:00
      { time: '02:00', value: { 'Passing Call': 1, 'Traffic Stop': 1 } },
    ]);
    expect(summary).toMatchObject({
      rows_late: 228,
      rows_out_of_order: 119,
      event_time: {
        min: '2018-12-31T00:01:00.000Z',
        max: '2018-12-31T02:00:00.000Z',
        watermark: '2018-12-31T01:55:00.000Z',
      },
    });
    expect(asArray(summary.notes).join(' ')).toMatch(
      /228 of 240 distinct rows \(95\.0 %\) arrived behind the watermark.*Event time runs backwards in this input \(119 rows earlier than the row before\)/,
    );
  });
});
