import { describe, expect, it } from 'vitest';
import { type DtBatch, dtAnalysis } from '../../../shared/analyses/dt/index.ts';
import type { WireFormat } from '../../../shared/core/analysis.ts';
import {
  bytes,
  generatedRows,
  histogramOf,
  packRecords,
  splitBySizes,
  testRandom,
  text,
} from './fixtures.ts';
import {
  decodeReferenceWord,
  parseReferenceTextRow,
  REFERENCE_DRIFT_EDGES,
  type ReferenceParse,
  type ReferenceResult,
  referenceBatch,
} from './reference-model.ts';

function referenceParse(row: Uint8Array, wireFormat: WireFormat): ReferenceParse {
  return wireFormat === 'binary'
    ? { ok: true, row: decodeReferenceWord(row) }
    : parseReferenceTextRow(text(row));
}

function slices(counts: Float64Array, width: number): number[][] {
  return [0, 1, 2, 3].map((chamber) => Array.from(counts.subarray(chamber * width, (chamber + 1) * width)));
}

/** The batch in the reference's shape, so a failure diff names the quantity that differs. */
function asReference(batch: DtBatch): ReferenceResult {
  return {
    rowsRead: batch.rowsRead,
    rejected: { ...batch.rejectedByReason },
    filtered: batch.rowsFiltered,
    auxiliary: batch.auxiliaryHits,
    scintillator: batch.scintillatorHits,
    orbitsWithHits: batch.orbitsWithHits,
    orbitsWithScintillator: batch.orbitsWithScintillator,
    hitCountChamber: Array.from(batch.chamberHits),
    occupancy: slices(batch.occupancy, 64),
    multiplicity: slices(batch.multiplicity, 64),
    gatedOccupancy: slices(batch.gatedOccupancy, 64),
    drift: slices(batch.driftTime, REFERENCE_DRIFT_EDGES.length - 1),
    driftUnderflow: Array.from(batch.driftUnderflow),
    driftOverflow: Array.from(batch.driftOverflow),
  };
}

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
    'agrees on every quantity of every batch (seed $seed, $format, $rowsPerRecord rows/record, $rowCount rows)',
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

      for (const batchRows of batches) {
        // Act
        const step = dtAnalysis.applyBatch(
          state,
          packRecords(batchRows, generated.wireFormat, rowsPerRecord),
        );
        state = step.state;

        // Assert
        const expected = referenceBatch(
          batchRows.map((row) => referenceParse(row, generated.wireFormat)),
          REFERENCE_DRIFT_EDGES,
        );
        expect(asReference(step.batch)).toEqual(expected);
        expect(step.inputRows).toBe(batchRows.length);
        expect(step.rejections).toHaveLength(Object.values(expected.rejected).reduce((a, b) => a + b, 0));
      }
      // Not a vacuous comparison: the run had gated hits, drift times and multi-channel orbits.
      expect(state.rowsRead).toBe(rows.length);
      expect(state.driftTime.reduce((a, b) => a + b, 0)).toBeGreaterThan(100);
      expect(state.multiplicity.filter((count) => count > 0).length).toBeGreaterThan(8);
    },
  );
});
