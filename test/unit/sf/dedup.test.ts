import { describe, expect, it } from 'vitest';
import { createSfAnalysis, type SfState, sfAnalysis } from '../../../shared/analyses/sf/index.ts';
import type { SfBatch } from '../../../shared/analyses/sf/state.ts';
import type { Analysis } from '../../../shared/core/analysis.ts';
import { partitionForKey } from '../../../shared/core/kafka-partitioner.ts';
import { asArray, asObject, bytes, call, records, slices } from './fixtures.ts';

type Sf = Analysis<SfState, SfBatch>;

function applyInBatches(analysis: Sf, rows: readonly string[], size: number, partition = 0): SfState {
  let state = analysis.emptyState();
  for (const batchRows of slices(rows, size))
    state = analysis.applyBatch(state, records(batchRows, partition)).state;
  return state;
}

/** A stream with duplicates: calls a minute apart, each repeated 1–3 times shortly after. */
function callsWithDuplicates(count: number): string[] {
  const rows: string[] = [];
  for (let index = 0; index < count; index++) {
    const minute = Date.UTC(2018, 11, 1) + index * 60_000;
    const time = new Date(minute).toISOString().slice(0, 23);
    const row = call({
      time,
      type: `Type ${index % 13}`,
      disposition: ['HAN', 'GOA', 'Not recorded'][index % 3],
      crimeId: String(index),
    });
    rows.push(row);
    for (let copy = 0; copy < index % 3; copy++)
      rows.push(
        call({
          time,
          type: `Type ${index % 13}`,
          disposition: ['HAN', 'GOA', 'Not recorded'][index % 3],
          crimeId: `${index}-${copy}`,
        }),
      );
  }
  return rows;
}

/** The crime-type counts of distinct triples, computed plainly. */
function distinctCounts(rows: readonly string[]): Map<string, number> {
  const seen = new Set<string>();
  const counts = new Map<string, number>();
  for (const row of rows) {
    const parsed: { call_date_time: string; disposition: string; original_crime_type_name: string } =
      JSON.parse(row);
    const triple = JSON.stringify([
      parsed.call_date_time,
      parsed.disposition,
      parsed.original_crime_type_name,
    ]);
    if (seen.has(triple)) continue;
    seen.add(triple);
    counts.set(parsed.original_crime_type_name, (counts.get(parsed.original_crime_type_name) ?? 0) + 1);
  }
  return counts;
}

describe('sf deduplication on (call_date_time, disposition, original_crime_type_name)', () => {
  it('counts a triple once across batches, whatever its other fields', () => {
    // Arrange
    const rows = [
      call({ time: '00:01', crimeId: '1' }),
      call({ time: '00:02', crimeId: '2' }),
      call({ time: '00:01', crimeId: '3', extra: { address: 'elsewhere' } }), // duplicate of the first
      call({ time: '00:01', disposition: 'GOA' }), // another triple
    ];

    // Act
    const first = sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(rows.slice(0, 2)));
    const second = sfAnalysis.applyBatch(first.state, records(rows.slice(2)));

    // Assert
    expect(second.batch.counters).toMatchObject({ rowsRead: 2, duplicates: 1, uniqueRows: 1 });
    expect(second.state.crimeTypes).toEqual(new Map([['Passing Call', 3]]));
    expect(second.state.dispositions).toEqual(
      new Map([
        ['HAN', 2],
        ['GOA', 1],
      ]),
    );
    expect(sfAnalysis.summarizeState(second.state)).toMatchObject({
      rows_duplicate: 1,
      rows_distinct: 3,
      dedup: { mode: 'exact', keys: 3 },
    });
  });

  it('is exact over 10 partitions: replay keys put duplicates together, and merged states add up', () => {
    // Arrange
    const rows = callsWithDuplicates(3000);
    const partitions: string[][] = Array.from({ length: 10 }, () => []);
    for (const row of rows) {
      const key = sfAnalysis.replay.partitionKey(bytes(row), 'text');
      if (key === undefined) throw new Error('no key');
      partitions[partitionForKey(key, 10)]?.push(row);
    }

    // Act
    const states = partitions.map((partitionRows, partition) =>
      applyInBatches(sfAnalysis, partitionRows, 37, partition),
    );
    const merged = sfAnalysis.mergeStates(states);
    const single = applyInBatches(sfAnalysis, rows, 200);

    // Assert
    expect(merged.crimeTypes).toEqual(distinctCounts(rows));
    expect(merged.counters).toEqual(single.counters);
    expect(merged.dedup.size).toBe(3000);
    expect(sfAnalysis.summarizeState(merged).crime_types).toEqual(
      sfAnalysis.summarizeState(single).crime_types,
    );
    expect(sfAnalysis.summarizeState(merged).dispositions).toEqual(
      sfAnalysis.summarizeState(single).dispositions,
    );
    for (const state of states) expect(state.dedup.size).toBeLessThan(400);
  });

  it('orders the complete crime-type list by count descending, then name', () => {
    // Arrange
    const rows = [
      call({ time: '00:01', type: 'b' }),
      call({ time: '00:02', type: 'a' }),
      call({ time: '00:03', type: 'c' }),
      call({ time: '00:04', type: 'c' }),
    ];

    // Act
    const summary = sfAnalysis.summarizeState(
      sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(rows)).state,
    );

    // Assert
    expect(summary.crime_types).toEqual([
      { original_crime_type_name: 'c', count: 2 },
      { original_crime_type_name: 'a', count: 1 },
      { original_crime_type_name: 'b', count: 1 },
    ]);
    expect(summary.crime_type_count).toBe(3);
  });
});

describe('sf bounded deduplication (createSfAnalysis({ dedup: "bounded" }))', () => {
  const bounded = createSfAnalysis({ id: 'sfb', dedup: 'bounded', horizonMinutes: 30 });

  it('gives the exact counts when duplicates arrive within the horizon, with a bounded number of keys', () => {
    // Arrange: ascending, duplicates right after their call.
    const rows = callsWithDuplicates(3000);

    // Act
    const exact = applyInBatches(sfAnalysis, rows, 200);
    const boundedState = applyInBatches(bounded, rows, 200);

    // Assert
    expect(boundedState.crimeTypes).toEqual(exact.crimeTypes);
    expect(boundedState.counters).toEqual(exact.counters);
    expect(exact.dedup.size).toBe(3000);
    // Keys within watermark − 30 min: 36 minutes of calls at one a minute.
    expect(boundedState.dedup.size).toBeLessThanOrEqual(36);
    expect(asObject(bounded.summarizeState(boundedState).dedup)).toEqual({
      mode: 'bounded',
      horizon_minutes: 30,
      keys: boundedState.dedup.size,
    });
  });

  it('still catches a late duplicate within the horizon, and counts one beyond it without a check, visibly', () => {
    // Arrange
    const rows = [
      call({ time: '00:00', type: 'Old' }),
      call({ time: '00:10', type: 'Mid' }),
      call({ time: '01:00' }), // watermark 00:55, dedup cutoff 00:25
      call({ time: '00:30', type: 'Late', disposition: 'X' }), // late, but within the horizon: checked
      call({ time: '00:30', type: 'Late', disposition: 'X' }), // its duplicate: caught
      call({ time: '00:00', type: 'Old' }), // duplicate beyond the horizon: counted again
    ];

    // Act
    const state = applyInBatches(bounded, rows, 1);
    const summary = bounded.summarizeState(state);

    // Assert
    expect(summary).toMatchObject({
      rows_duplicate: 1,
      rows_distinct: 5,
      rows_late: 2,
      rows_beyond_dedup_horizon: 1,
    });
    expect(state.crimeTypes.get('Old')).toBe(2);
    expect(asArray(summary.notes).join(' ')).toMatch(
      /1 distinct rows were more than 30 min behind the watermark/,
    );
    // The exact analysis catches it.
    expect(applyInBatches(sfAnalysis, rows, 1).crimeTypes.get('Old')).toBe(1);
  });

  it('evicts keys without changing any count, however the rows are batched', () => {
    // Arrange: a shuffled-by-up-to-40-minutes stream with duplicates.
    const rows = callsWithDuplicates(800);
    const shuffled = rows
      .map((row, index) => ({ row, order: index + ((index * 7919) % 50) }))
      .sort((a, b) => a.order - b.order)
      .map(({ row }) => row);

    // Act
    const summaries = [1, 13, 5000].map((size) =>
      bounded.summarizeState(applyInBatches(bounded, shuffled, size)),
    );

    // Assert
    expect(summaries[1]).toEqual(summaries[0]);
    expect(summaries[2]).toEqual(summaries[0]);
  });

  it('rejects bad options at registration', () => {
    expect(() => createSfAnalysis({ dedup: 'bounded', horizonMinutes: -1 })).toThrow(RangeError);
    expect(() => createSfAnalysis({ id: 'Not An Id' })).toThrow(RangeError);
  });
});
