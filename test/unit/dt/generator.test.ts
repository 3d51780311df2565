import { describe, expect, it } from 'vitest';
import { createDtTruth, generateDt } from '../../../shared/analyses/dt/generator.ts';
import { dtAnalysis } from '../../../shared/analyses/dt/index.ts';
import { concat, generatedRows, packRecords, text } from './fixtures.ts';

describe('dt generator', () => {
  it('is deterministic: same seed, same bytes, whatever the chunk size', () => {
    // Act
    const first = concat([...generateDt({ rows: 5_000, seed: 42, format: 'csv' })]);
    const again = concat([...generateDt({ rows: 5_000, seed: 42, format: 'csv', chunkRows: 333 })]);
    const binary = concat([...generateDt({ rows: 5_000, seed: 42, format: 'bin' })]);
    const binaryAgain = concat([...generateDt({ rows: 5_000, seed: 42, format: 'bin', chunkRows: 1 })]);

    // Assert
    expect(again).toEqual(first);
    expect(binaryAgain).toEqual(binary);
  });

  it('gives different data for a different seed', () => {
    // Act
    const one = concat([...generateDt({ rows: 2_000, seed: 1, format: 'csv' })]);
    const other = concat([...generateDt({ rows: 2_000, seed: 2, format: 'csv' })]);

    // Assert
    expect(text(one)).not.toBe(text(other));
  });

  it('writes the DAQ CSV layout: header, six fields, %f TDC_MEAS, exactly the requested rows', () => {
    // Act
    const lines = text(
      concat([...generateDt({ rows: 3_000, seed: 5, format: 'csv', chunkRows: 1000 })]),
    ).split('\n');

    // Assert
    expect(lines[0]).toBe('HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS');
    expect(lines.at(-1)).toBe(''); // the last row ends with a newline
    const rows = lines.slice(1, -1);
    expect(rows).toHaveLength(3_000);
    for (const row of rows) expect(row).toMatch(/^[0-7],[01],\d{1,3},\d{10},\d{1,5},-?\d+\.\d{6}$/);
  });

  it('yields chunks of the requested number of rows and 8 bytes per binary row', () => {
    // Act
    const chunks = [...generateDt({ rows: 2_500, seed: 5, format: 'bin', chunkRows: 1000 })];

    // Assert
    expect(chunks.map((chunk) => chunk.length)).toEqual([8000, 8000, 4000]);
  });

  it('looks like the real DAQ: about half ancillary rows, ORBIT_CNT above 2^31 and not sorted', () => {
    // Arrange
    const truth = createDtTruth();
    const { rows, wireFormat } = generatedRows({ rows: 20_000, seed: 6, format: 'csv', truth });

    // Act
    const orbits = rows.map((row) => Number(dtAnalysis.replay.partitionKey(row, wireFormat)));
    const descents = orbits.filter((orbit, index) => index > 0 && orbit < (orbits[index - 1] ?? 0)).length;
    const { batch } = dtAnalysis.applyBatch(dtAnalysis.emptyState(), packRecords(rows, wireFormat, 100));

    // Assert
    expect(truth.rows).toBe(20_000);
    expect(truth.ancillaryRows / truth.rows).toBeGreaterThan(0.4);
    expect(truth.ancillaryRows / truth.rows).toBeLessThan(0.6);
    expect(Math.min(...orbits)).toBeGreaterThan(2 ** 31);
    expect(descents).toBeGreaterThan(1_000);
    expect(batch.rowsFiltered).toBe(truth.ancillaryRows);
    expect(Array.from(batch.chamberHits)).toEqual(truth.chamberHits);
    expect(batch.scintillatorHits).toBe(truth.scintillatorHits);
    expect(batch.auxiliaryHits).toBe(truth.auxiliaryHits);
    expect(truth.showers).toBeGreaterThan(0);
    expect(truth.noiseHits).toBeGreaterThan(0);
    expect(batch.rejectedByReason).toEqual({});
  });

  it('has orbits with more than one scintillator hit (independent muons sharing an orbit)', () => {
    // Arrange
    const { rows, wireFormat } = generatedRows({ rows: 50_000, seed: 8, format: 'bin' });

    // Act
    const { state } = dtAnalysis.applyBatch(dtAnalysis.emptyState(), packRecords(rows, wireFormat, 100));
    const summary = dtAnalysis.summarizeState(state);

    // Assert
    expect(summary.scintillator_hits).toBeGreaterThan(Number(summary.orbits_with_scintillator));
  });

  it('writes the same events as CSV and as packed words: both decode to the same batch results', () => {
    // Arrange
    const csv = generatedRows({ rows: 30_000, seed: 9, format: 'csv' });
    const bin = generatedRows({ rows: 30_000, seed: 9, format: 'bin' });

    // Act
    const fromCsv = dtAnalysis.applyBatch(dtAnalysis.emptyState(), packRecords(csv.rows, csv.wireFormat, 1));
    const fromBin = dtAnalysis.applyBatch(dtAnalysis.emptyState(), packRecords(bin.rows, bin.wireFormat, 1));

    // Assert
    expect(fromBin.batch).toEqual(fromCsv.batch);
    expect(dtAnalysis.summarizeState(fromBin.state)).toEqual(dtAnalysis.summarizeState(fromCsv.state));
    expect(fromBin.rejections).toEqual([]);
    expect(fromCsv.rejections).toEqual([]);
    // Hits are the same words; only ancillary values that do not fit their bit fields differ.
    const hitRows = (rows: Uint8Array[], format: 'text' | 'binary') =>
      rows.filter((row) => (format === 'text' ? text(row).startsWith('2,') : (row[7] ?? 0) >> 5 === 2))
        .length;
    expect(hitRows(bin.rows, 'binary')).toBe(hitRows(csv.rows, 'text'));
  });

  it('refuses nonsensical options', () => {
    // Act + Assert
    expect(() => [...generateDt({ rows: -1, seed: 1, format: 'csv' })]).toThrow(RangeError);
    expect(() => [...generateDt({ rows: 10, seed: 1, format: 'csv', chunkRows: 0 })]).toThrow(RangeError);
    expect(text(concat([...generateDt({ rows: 0, seed: 1, format: 'csv' })]))).toBe(
      'HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS\n',
    );
  });
});
