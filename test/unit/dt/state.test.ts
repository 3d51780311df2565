import { describe, expect, it } from 'vitest';
import { dtAnalysis } from '../../../shared/analyses/dt/index.ts';
import type { Json } from '../../../shared/core/analysis.ts';
import {
  asObject,
  generatedRows,
  histogramOf,
  packRecords,
  splitBySizes,
  textRecords,
  throughJsonText,
} from './fixtures.ts';

describe('dt state: merging', () => {
  it('mergeStates of per-partition states equals one batch over everything (orbits never split)', () => {
    // Arrange: key rows as replay does, three partitions, each applied as one batch.
    const { rows, wireFormat } = generatedRows({ rows: 20_000, seed: 11, format: 'csv' });
    const partitions: Uint8Array[][] = [[], [], []];
    for (const row of rows) {
      const key = dtAnalysis.replay.partitionKey(row, wireFormat);
      partitions[Number(key) % 3]?.push(row);
    }

    // Act
    const partitionStates = partitions.map(
      (partitionRows, partition) =>
        dtAnalysis.applyBatch(dtAnalysis.emptyState(), packRecords(partitionRows, wireFormat, 10, partition))
          .state,
    );
    const merged = dtAnalysis.mergeStates(partitionStates);
    const whole = dtAnalysis.applyBatch(dtAnalysis.emptyState(), packRecords(rows, wireFormat, 10)).state;

    // Assert
    expect(merged).toEqual(whole);
    expect(dtAnalysis.summarizeState(merged)).toEqual(dtAnalysis.summarizeState(whole));
  });

  it('the state after several batches is the mergeBatches of their batches', () => {
    // Arrange
    const { rows, wireFormat } = generatedRows({ rows: 5_000, seed: 12, format: 'bin' });
    let state = dtAnalysis.emptyState();
    let batches = dtAnalysis.emptyBatch();

    // Act
    for (const batchRows of splitBySizes(rows, [1000, 1, 2500, 499])) {
      const step = dtAnalysis.applyBatch(state, packRecords(batchRows, wireFormat, 3));
      state = step.state;
      batches = dtAnalysis.mergeBatches(batches, step.batch);
    }

    // Assert
    expect(state).toEqual(batches);
    expect(dtAnalysis.mergeStates([])).toEqual(dtAnalysis.emptyState());
  });

  it('never modifies the state it is given', () => {
    // Arrange
    const { rows, wireFormat } = generatedRows({ rows: 2_000, seed: 13, format: 'csv' });
    const before = dtAnalysis.applyBatch(dtAnalysis.emptyState(), packRecords(rows, wireFormat, 5)).state;
    const snapshot = dtAnalysis.stateCodec.encode(before);

    // Act
    dtAnalysis.applyBatch(before, packRecords(rows, wireFormat, 5));

    // Assert
    expect(dtAnalysis.stateCodec.encode(before)).toEqual(snapshot);
  });

  it('an orbit split across two batches: multiplicity counts two partial orbits, gating needs its scintillator', () => {
    // Arrange: one orbit, scintillator + 4 chamber-0 channels, cut after the second hit.
    const orbitRows = ['2,1,128,3387200947,100,0', '2,0,1,3387200947,104,0', '2,0,2,3387200947,104,5'];
    const rest = ['2,0,3,3387200947,105,0', '2,0,4,3387200947,106,0'];

    // Act
    const whole = dtAnalysis.applyBatch(dtAnalysis.emptyState(), textRecords([...orbitRows, ...rest])).batch;
    const first = dtAnalysis.applyBatch(dtAnalysis.emptyState(), textRecords(orbitRows));
    const second = dtAnalysis.applyBatch(first.state, textRecords(rest));

    // Assert: one orbit with 4 channels vs two orbits with 2; per-hit counts unchanged; gating lost.
    expect(whole.multiplicity[3]).toBe(1);
    expect(second.state.multiplicity[1]).toBe(2);
    expect(second.state.orbitsWithHits).toBe(2);
    expect(Array.from(second.state.occupancy)).toEqual(Array.from(whole.occupancy));
    expect(whole.gatedOccupancy.reduce((a, b) => a + b, 0)).toBe(4);
    expect(second.state.gatedOccupancy.reduce((a, b) => a + b, 0)).toBe(2);
  });
});

describe('dt codecs', () => {
  const { rows, wireFormat } = generatedRows({ rows: 3_000, seed: 14, format: 'csv' });
  const step = dtAnalysis.applyBatch(dtAnalysis.emptyState(), [
    ...packRecords(rows, wireFormat, 100),
    ...textRecords(['2,0,5,1,2', 'x,0,5,1,2,3']),
  ]);

  it('round-trips a state and a batch through JSON text', () => {
    // Act
    const state = dtAnalysis.stateCodec.decode(throughJsonText(dtAnalysis.stateCodec.encode(step.state)));
    const batch = dtAnalysis.batchCodec.decode(throughJsonText(dtAnalysis.batchCodec.encode(step.batch)));

    // Assert
    expect(state).toEqual(step.state);
    expect(batch).toEqual(step.batch);
    expect(state.rejectedByReason).toEqual({ 'field-count': 1, 'not-a-number': 1 });
  });

  it('encodes compactly: plain arrays of numbers', () => {
    // Act
    const encoded = asObject(dtAnalysis.stateCodec.encode(step.state));

    // Assert
    expect(Array.isArray(encoded.occupancy)).toBe(true);
    expect(JSON.stringify(encoded).length).toBeLessThan(12_000);
  });

  it.each<[string, (encoded: Record<string, Json>) => Json]>([
    ['not an object', () => [1, 2, 3]],
    ['null', () => null],
    ['an unknown version', (encoded) => ({ ...encoded, version: 99 })],
    ['a missing counter', ({ rowsRead: _, ...rest }) => rest],
    ['a negative counter', (encoded) => ({ ...encoded, rowsFiltered: -1 })],
    ['a fractional counter', (encoded) => ({ ...encoded, auxiliaryHits: 0.5 })],
    ['a short histogram', (encoded) => ({ ...encoded, occupancy: [1, 2, 3] })],
    ['a non-number in a histogram', (encoded) => ({ ...encoded, chamberHits: [1, 2, '3', 4] })],
    ['a string for the reasons', (encoded) => ({ ...encoded, rejectedByReason: 'none' })],
    ['a bad reason count', (encoded) => ({ ...encoded, rejectedByReason: { 'field-count': 'x' } })],
  ])('refuses to decode %s with a clear error', (_, corrupt) => {
    // Arrange
    const encoded = asObject(dtAnalysis.stateCodec.encode(step.state));

    // Act + Assert
    expect(() => dtAnalysis.stateCodec.decode(corrupt(encoded))).toThrow(/^dt totals: /);
  });

  it('summarizes with the source field names and one entry per chamber', () => {
    // Act
    const summary = dtAnalysis.summarizeBatch(step.batch);

    // Assert
    expect(Object.keys(summary)).toEqual([
      'hit_count',
      'hit_count_chamber',
      'rows_read',
      'rows_filtered',
      'rows_rejected',
      'rejected_by_reason',
      'auxiliary_hits',
      'scintillator_hits',
      'orbits_with_hits',
      'orbits_with_scintillator',
      'chambers',
    ]);
    expect(summary.rows_rejected).toBe(2);
    const chambers = Array.isArray(summary.chambers) ? summary.chambers : [];
    expect(chambers.map((chamber) => asObject(chamber).chamber)).toEqual([0, 1, 2, 3]);
    for (const chamber of [0, 1, 2, 3]) {
      for (const name of ['occupancy', 'multiplicity', 'gated_occupancy', 'drift_time_ns']) {
        const histogram = histogramOf(summary, chamber, name);
        expect(histogram.edges).toHaveLength(histogram.counts.length + 1);
      }
      expect(histogramOf(summary, chamber, 'occupancy').counts).toHaveLength(64);
      expect(histogramOf(summary, chamber, 'multiplicity').edges[0]).toBe(0.5);
    }
  });
});
