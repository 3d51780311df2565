/**
 * Measures `sf` on the full DataSF file (not a test; run by hand):
 *
 *   npx tsx test/unit/sf/measure-full-file.ts [path/to/police-department-calls-for-service.json.gz]
 *
 * Prints framing speed, applyBatch rows/s (median of 3) in one batch and in batches of 200, the
 * per-batch cost of the pipeline's decode → apply → encode cycle, and the encoded state size per
 * partition after the whole file in 10 partitions (keyed as replay keys), exact vs bounded, in file
 * order (descending event time) and sorted ascending.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import {
  createSfAnalysis,
  type SfBatch,
  type SfState,
  sfAnalysis,
} from '../../../shared/analyses/sf/index.ts';
import type { Analysis, RecordInput } from '../../../shared/core/analysis.ts';
import { partitionForKey } from '../../../shared/core/kafka-partitioner.ts';
import { FULL_PATH } from './fixtures.ts';

type Sf = Analysis<SfState, SfBatch>;

const path = process.argv[2] ?? FULL_PATH;
const objectBytes = gunzipSync(readFileSync(path));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function timed<T>(run: () => T): { result: T; ms: number } {
  const start = performance.now();
  const result = run();
  return { result, ms: performance.now() - start };
}

const framing = timed(() => {
  const { framer } = sfAnalysis.replay.framerFor('sf/calls.json');
  const rows: Uint8Array[] = [];
  for (let start = 0; start < objectBytes.length; start += 1 << 16) {
    rows.push(...framer.push(objectBytes.subarray(start, start + (1 << 16))));
  }
  rows.push(...framer.end());
  return rows;
});
const rows = framing.result;
console.log(
  `framed ${rows.length} rows from ${(objectBytes.length / 1e6).toFixed(1)} MB in ${framing.ms.toFixed(0)} ms ` +
    `(${(objectBytes.length / 1e6 / (framing.ms / 1000)).toFixed(0)} MB/s)`,
);

function toRecords(partitionRows: readonly Uint8Array[], partition = 0): RecordInput[] {
  return partitionRows.map((value, index) => ({
    value,
    wireFormat: 'text',
    partition,
    offset: String(index),
    timestampMs: 0,
  }));
}

function applyAll(analysis: Sf, records: readonly RecordInput[], batchRows: number): SfState {
  let state = analysis.emptyState();
  for (let start = 0; start < records.length; start += batchRows) {
    state = analysis.applyBatch(state, records.slice(start, start + batchRows)).state;
  }
  return state;
}

const exact = sfAnalysis;
const bounded = createSfAnalysis({ id: 'sfb', dedup: 'bounded', horizonMinutes: 60 });
const fileOrder = toRecords(rows);

for (const [name, analysis] of [
  ['exact', exact],
  ['bounded', bounded],
] as const) {
  for (const batchRows of [Number.POSITIVE_INFINITY, 200]) {
    const runs = [0, 1, 2].map(() => timed(() => applyAll(analysis, fileOrder, batchRows)).ms);
    const rowsPerSecond = rows.length / (median(runs) / 1000);
    const label = Number.isFinite(batchRows) ? `batches of ${batchRows}` : 'one batch';
    console.log(
      `applyBatch ${name}, ${label}: median ${median(runs).toFixed(0)} ms = ${Math.round(rowsPerSecond)} rows/s (runs ${runs.map((ms) => ms.toFixed(0)).join(', ')} ms)`,
    );
  }
}

// 10 partitions, keyed as replay keys them.
const byPartition: Uint8Array[][] = Array.from({ length: 10 }, () => []);
for (const row of rows) {
  const key = sfAnalysis.replay.partitionKey(row, 'text');
  byPartition[key === undefined ? 0 : partitionForKey(key, 10)]?.push(row);
}

function sizes(
  analysis: Sf,
  partitions: readonly Uint8Array[][],
): { sizes: number[]; keys: number[]; cycleMs: number } {
  const result = { sizes: [] as number[], keys: [] as number[], cycleMs: 0 };
  let batches = 0;
  partitions.forEach((partitionRows, partition) => {
    // As the aggregate step does it: decode the stored state, apply 200 rows, encode it again.
    let stored = analysis.stateCodec.encode(analysis.emptyState());
    const records = toRecords(partitionRows, partition);
    const start = performance.now();
    for (let first = 0; first < records.length; first += 200) {
      const state = analysis.stateCodec.decode(JSON.parse(JSON.stringify(stored)));
      stored = analysis.stateCodec.encode(
        analysis.applyBatch(state, records.slice(first, first + 200)).state,
      );
      batches++;
    }
    result.cycleMs += performance.now() - start;
    result.sizes.push(JSON.stringify(stored).length);
    result.keys.push(analysis.stateCodec.decode(stored).dedup.size);
  });
  result.cycleMs /= batches;
  return result;
}

function eventTimeOf(row: Uint8Array): string {
  const parsed: { call_date_time?: string } = JSON.parse(new TextDecoder().decode(row));
  return parsed.call_date_time ?? '';
}
const ascending = byPartition.map((partitionRows) =>
  [...partitionRows]
    .map((row) => ({ row, time: eventTimeOf(row) }))
    .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0))
    .map(({ row }) => row),
);

for (const [order, partitions] of [
  ['file order (descending)', byPartition],
  ['sorted ascending', ascending],
] as const) {
  for (const [name, analysis] of [
    ['exact', exact],
    ['bounded 60 min', bounded],
  ] as const) {
    const measured = sizes(analysis, partitions);
    const kb = measured.sizes.map((size) => size / 1000);
    console.log(
      `${order}, ${name}: state per partition ${Math.min(...kb).toFixed(1)}–${Math.max(...kb).toFixed(1)} KB ` +
        `(dedup keys ${Math.min(...measured.keys)}–${Math.max(...measured.keys)}), ` +
        `decode+apply+encode per 200-row batch ${measured.cycleMs.toFixed(2)} ms`,
    );
  }
}
