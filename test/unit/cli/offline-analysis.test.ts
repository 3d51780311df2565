import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { generateDt } from '../../../shared/analyses/dt/generator.ts';
import { dtAnalysis } from '../../../shared/analyses/dt/index.ts';
import type { AnyAnalysis, RecordInput } from '../../../shared/core/analysis.ts';
import {
  analyzeOffline,
  OFFLINE_TIMESTAMP_MS,
  type OfflineBatchResult,
} from '../../../shared/pipeline/offline-analysis.ts';

const csv = Buffer.concat([...generateDt({ rows: 3_000, seed: 3, format: 'csv' })]);

async function* chunksOf(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let start = 0; start < bytes.length; start += size) yield bytes.slice(start, start + size);
}

async function collect(results: AsyncIterable<OfflineBatchResult>): Promise<OfflineBatchResult[]> {
  const all: OfflineBatchResult[] = [];
  for await (const result of results) all.push(result);
  return all;
}

/** dt, with every batch of records it receives written down. */
function recordingDt(): { analysis: AnyAnalysis; batches: RecordInput[][] } {
  const batches: RecordInput[][] = [];
  const analysis: AnyAnalysis = {
    ...(dtAnalysis as AnyAnalysis),
    applyBatch: (state, records) => {
      batches.push([...records]);
      return (dtAnalysis as AnyAnalysis).applyBatch(state, records);
    },
  };
  return { analysis, batches };
}

describe('analyzeOffline', () => {
  it('gives the same batches whatever the chunking, plain or gzipped', async () => {
    // Act
    const whole = await collect(
      analyzeOffline({
        analysis: dtAnalysis,
        fileName: 'a.csv',
        bytes: chunksOf(csv, csv.length),
        batchRows: 700,
      }),
    );
    const tiny = await collect(
      analyzeOffline({ analysis: dtAnalysis, fileName: 'a.csv', bytes: chunksOf(csv, 7), batchRows: 700 }),
    );
    const gzipped = await collect(
      analyzeOffline({
        analysis: dtAnalysis,
        fileName: 'a.CSV.GZ',
        bytes: chunksOf(gzipSync(csv), 100),
        batchRows: 700,
      }),
    );

    // Assert
    expect(whole.map((result) => result.rows)).toEqual([700, 700, 700, 700, 200]);
    expect(tiny).toEqual(whole);
    expect(gzipped).toEqual(whole);
  });

  it('makes one record per row: partition 0, offset = row index, a fixed timestamp', async () => {
    // Arrange
    const { analysis, batches } = recordingDt();

    // Act
    await collect(
      analyzeOffline({ analysis, fileName: 'a.csv', bytes: chunksOf(csv, 4096), batchRows: 1000 }),
    );

    // Assert
    const records = batches.flat();
    expect(batches.map((batch) => batch.length)).toEqual([1000, 1000, 1000]);
    expect(records.map((record) => record.offset)).toEqual(records.map((_, index) => String(index)));
    expect(
      new Set(records.map((record) => `${record.partition} ${record.timestampMs} ${record.wireFormat}`)),
    ).toEqual(new Set([`0 ${OFFLINE_TIMESTAMP_MS} text`]));
    const lines = csv.toString('utf8').split('\n').slice(1, 3);
    expect(records.slice(0, 2).map((record) => Buffer.from(record.value).toString('utf8'))).toEqual(lines);
  });

  it('counts rejected rows per reason in the batch that holds them', async () => {
    // Arrange
    const text =
      'HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS\n2,0,1,5,6,7\n2,0,x,5,6,7\n2,0\n2,0,1,5,6,7';

    // Act
    const results = await collect(
      analyzeOffline({
        analysis: dtAnalysis,
        fileName: 'r.txt',
        bytes: chunksOf(Buffer.from(text), 5),
        batchRows: 2,
      }),
    );

    // Assert
    expect(results.map(({ batch, rows, rejectedRows }) => [batch, rows, rejectedRows])).toEqual([
      [1, 2, 1],
      [2, 2, 1],
    ]);
    expect(results[0]?.rejectedByReason).toEqual({ 'not-a-number': 1 });
    expect(results[1]?.rejectedByReason).toEqual({ 'field-count': 1 });
    expect(results[1]?.cumulative.rows_rejected).toBe(2);
    expect(results[1]?.cumulative.hit_count).toBe(2);
  });

  it('gives one empty batch for a file without rows, so there is always a cumulative answer', async () => {
    // Act
    const results = await collect(
      analyzeOffline({ analysis: dtAnalysis, fileName: 'empty.bin', bytes: chunksOf(new Uint8Array(), 1) }),
    );

    // Assert
    expect(results).toHaveLength(1);
    expect(results[0]?.rows).toBe(0);
    expect(results[0]?.cumulative.rows_read).toBe(0);
  });

  it('refuses an unsupported extension or a bad batch size before reading a byte', () => {
    // Arrange
    const untouchable: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => {
        throw new Error('read');
      },
    };

    // Act / Assert
    expect(() => analyzeOffline({ analysis: dtAnalysis, fileName: 'a.json', bytes: untouchable })).toThrow(
      /unsupported extension 'json'/,
    );
    for (const batchRows of [0, -1, 1.5, Number.NaN]) {
      expect(() =>
        analyzeOffline({ analysis: dtAnalysis, fileName: 'a.csv', bytes: untouchable, batchRows }),
      ).toThrow(RangeError);
    }
  });
});
