import { describe, expect, it } from 'vitest';
import { dtAnalysis } from '../../../shared/analyses/dt/index.ts';
import {
  bytes,
  generatedRows,
  histogramOf,
  packRecords,
  referenceParse,
  rowLevel,
  splitBySizes,
  summaryAsReference,
  testRandom,
} from './fixtures.ts';
import { REFERENCE_DRIFT_EDGES, type ReferenceParse, referenceBatch } from './reference-model.ts';

/** Rows that are not DAQ words, slipped between generated ones. */
const CORRUPT_ROWS = [
  '2,0,5,3387200947',
  '2,0,x,3387200947,1,2',
  '2,0,5,3387200947,4000,2',
  '2,0,5,1,2,3.5.1',
];

describe('dt applyBatch against a naive reference', () => {
  it('uses the binning the reference assumes', () => {
    // Act
    const summary = dtAnalysis.summarizeBatch(dtAnalysis.emptyBatch());

    // Assert
    const edges = histogramOf(summary, 0, 'drift_time_ns').edges;
    expect(edges).toHaveLength(REFERENCE_DRIFT_EDGES.length);
    for (const [index, edge] of edges.entries()) {
      expect(edge).toBeCloseTo(REFERENCE_DRIFT_EDGES[index] ?? Number.NaN, 9);
    }
  });

  it.each([
    { seed: 1, format: 'csv', rowsPerRecord: 1, rowCount: 4_000, maxBatchRows: 900 },
    { seed: 2, format: 'csv', rowsPerRecord: 37, rowCount: 4_000, maxBatchRows: 900 },
    { seed: 3, format: 'bin', rowsPerRecord: 1, rowCount: 4_000, maxBatchRows: 900 },
    { seed: 4, format: 'bin', rowsPerRecord: 50, rowCount: 4_000, maxBatchRows: 900 },
    { seed: 5, format: 'csv', rowsPerRecord: 1000, rowCount: 4_000, maxBatchRows: 900 },
    // Large batches among small ones: the reducer's scratch space grows, then is reused.
    { seed: 6, format: 'bin', rowsPerRecord: 10, rowCount: 60_000, maxBatchRows: 25_000 },
  ] as const)(
    'per batch: the rows it read; cumulative: every quantity of all rows so far (seed $seed, $format, $rowsPerRecord rows/record, $rowCount rows)',
    ({ seed, format, rowsPerRecord, rowCount, maxBatchRows }) => {
      // Arrange: generated rows (text ones with a few corrupt rows), cut into batches of random sizes.
      const random = testRandom(seed);
      const generated = generatedRows({ rows: rowCount, seed, format });
      const rows = [...generated.rows];
      if (generated.wireFormat === 'text') {
        for (const corrupt of CORRUPT_ROWS)
          rows.splice(Math.floor(random() * rows.length), 0, bytes(corrupt));
      }
      const batchSizes = Array.from({ length: 12 }, () => 1 + Math.floor(random() * maxBatchRows));
      const batches = splitBySizes(rows, batchSizes);
      let state = dtAnalysis.emptyState();
      const seen: ReferenceParse[] = [];

      for (const batchRows of batches) {
        // Act
        const step = dtAnalysis.applyBatch(
          state,
          packRecords(batchRows, generated.wireFormat, rowsPerRecord),
        );
        state = step.state;

        // Assert: per-row quantities belong to the batch that read the row …
        const parsed = batchRows.map((row) => referenceParse(row, generated.wireFormat));
        const expected = referenceBatch(parsed, REFERENCE_DRIFT_EDGES);
        expect(rowLevel(summaryAsReference(dtAnalysis.summarizeBatch(step.batch)))).toEqual(
          rowLevel(expected),
        );
        expect(step.inputRows).toBe(batchRows.length);
        expect(step.rejections).toHaveLength(Object.values(expected.rejected).reduce((a, b) => a + b, 0));
        // … and the cumulative view is the whole prefix read as one, orbits cut by batches included.
        seen.push(...parsed);
        const cumulative = dtAnalysis.summarizeState(state);
        expect(summaryAsReference(cumulative)).toEqual(referenceBatch(seen, REFERENCE_DRIFT_EDGES));
        expect(cumulative.late_hits).toBe(0);
      }
      // Not a vacuous comparison: the run had gated hits, drift times and multi-channel orbits.
      const final = summaryAsReference(dtAnalysis.summarizeState(state));
      expect(final.rowsRead).toBe(rows.length);
      expect(final.drift.flat().reduce((a, b) => a + b, 0)).toBeGreaterThan(100);
      expect(final.multiplicity.flat().filter((count) => count > 0).length).toBeGreaterThan(8);
    },
  );
});
