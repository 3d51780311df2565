/**
 * `driftline bench` (`npm run bench`): the figures the README quotes, measured on this machine.
 *
 *   core       dt applyBatch rows/s on one core, from raw record bytes (1 row per record, and 1000)
 *   e2e        sustained rows/s through the whole local pipeline (S3 → replay → Kafka → aggregate →
 *              DynamoDB), at full speed, with 1 and 1000 rows per record
 *   latency    produce → data_clean latency at 1000 rows/s (p50/p99 over batches)
 *   sf         the full SF calls file (199,999 records) at full speed, exact and bounded dedup:
 *              wall time, rows/s, peak memory of each process, state size at the end
 *
 * Benchmarks run on an isolated stack (temporary folder, free ports). Results are printed and
 * written to bench-results/<timestamp>.json and bench-results/latest.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateDt } from '../../shared/analyses/dt/generator.ts';
import { dtAnalysis } from '../../shared/analyses/dt/index.ts';
import type { RecordInput } from '../../shared/core/analysis.ts';
import { PROJECT_ROOT } from '../service-definition.ts';
import { benchLatency } from './bench-latency.ts';
import { benchSf } from './bench-sf.ts';
import { BenchStack } from './bench-stack.ts';
import { measureYardstick, type Yardstick } from './bench-yardstick.ts';

export const benchUsage = `Usage: driftline bench [--only core|e2e|latency|sf] [--quick]

Measures the dt core, end-to-end throughput on the local stack, and produce → data_clean latency.
Prints the figures and writes bench-results/<timestamp>.json (and latest.json).

Options:
  --only X   run one part (sf needs ../shared/data/sf beside the project)
  --quick    smaller inputs (a smoke run; figures are less stable)`;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const out = new Uint8Array(total);
  let position = 0;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.length;
  }
  return out;
}

/** Rows of a generated file, as the replay framer cuts them. */
function generatedRows(rows: number, seed: number): Uint8Array[] {
  const bytes = concat([...generateDt({ rows, seed, format: 'csv' })]);
  const { framer } = dtAnalysis.replay.framerFor('bench.csv');
  return [...framer.push(bytes), ...framer.end()].map((row) => row.slice());
}

function benchCore(rows: number, runs: number) {
  const lines = generatedRows(rows, 7);
  const results: Record<string, { rowsPerSecond: number[]; median: number }> = {};
  for (const rowsPerRecord of [1, 1000]) {
    const records: RecordInput[] = [];
    for (let start = 0; start < lines.length; start += rowsPerRecord) {
      records.push({
        value: dtAnalysis.replay.pack(lines.slice(start, start + rowsPerRecord), 'text'),
        wireFormat: 'text',
        partition: 0,
        offset: String(records.length),
        timestampMs: 0,
      });
    }
    // Batches as the trigger would cut them: at most 1000 records.
    const batches: RecordInput[][] = [];
    for (let start = 0; start < records.length; start += 1000)
      batches.push(records.slice(start, start + 1000));
    const perRun: number[] = [];
    for (let run = 0; run < runs + 1; run++) {
      let state = dtAnalysis.emptyState();
      const started = process.hrtime.bigint();
      for (const batch of batches) state = dtAnalysis.applyBatch(state, batch).state;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (run > 0) perRun.push(lines.length / seconds); // the first run warms the JIT up
    }
    results[`rowsPerRecord${rowsPerRecord}`] = { rowsPerSecond: perRun, median: median(perRun) };
    console.log(
      `core  dt applyBatch, ${rowsPerRecord} row(s)/record: median ${(median(perRun) / 1e6).toFixed(2)} M rows/s ` +
        `(runs: ${perRun.map((value) => (value / 1e6).toFixed(2)).join(', ')})`,
    );
  }
  return { rows: lines.length, runs, ...results };
}

/** One e2e run: `rows` rows uploaded at full speed, timed from the PUT to the aggregated state. */
async function benchE2eRun(bench: BenchStack, rowsPerRecord: number, rows: number) {
  const { run, started } = await bench.upload(rows, 100 + rowsPerRecord, {
    rate: '0',
    'rows-per-record': String(rowsPerRecord),
  });
  const finished = await bench.waitForRows(run, rows, 600_000);
  const rowsPerSecond = rows / ((finished - started) / 1000);
  console.log(
    `e2e   ${rows} rows, ${rowsPerRecord} row(s)/record, full speed: ${Math.round(rowsPerSecond)} rows/s ` +
      `(${((finished - started) / 1000).toFixed(1)} s from PUT to aggregated state)`,
  );
  return { rows, seconds: (finished - started) / 1000, rowsPerSecond };
}

/** The size of one of our data_raw records holding `rowsPerRecord` generated dt rows. */
function recordBytes(rowsPerRecord: number): number {
  return dtAnalysis.replay.pack(generatedRows(rowsPerRecord, 7), 'text').length;
}

/** Each e2e figure as a fraction of each yardstick's messages/s (in rows: × rows per record). */
function printRatios(rowsPerRecord: number, e2eRowsPerSecond: number, yardstick: Yardstick) {
  const ratios = {
    kafkaProducer: e2eRowsPerSecond / (yardstick.kafkaProducer.recordsPerSecond * rowsPerRecord),
    kafkaConsumer: e2eRowsPerSecond / (yardstick.kafkaConsumer.fetchMessagesPerSecond * rowsPerRecord),
    kafkajsProducer: e2eRowsPerSecond / (yardstick.kafkajsProducer.recordsPerSecond * rowsPerRecord),
    kafkajsConsumer: e2eRowsPerSecond / (yardstick.kafkajsConsumer.recordsPerSecond * rowsPerRecord),
  };
  const percent = (ratio: number) => `${(ratio * 100).toFixed(1)} %`;
  console.log(
    `ratio e2e ${rowsPerRecord} row(s)/record = ${percent(ratios.kafkaProducer)} of Kafka's ProducerPerformance, ` +
      `${percent(ratios.kafkaConsumer)} of its ConsumerPerformance, ${percent(ratios.kafkajsProducer)} of a bare kafkajs ` +
      `producer, ${percent(ratios.kafkajsConsumer)} of a bare kafkajs consumer (same broker, same records)`,
  );
  return ratios;
}

async function benchE2e(bench: BenchStack, quick: boolean) {
  const results: Record<string, unknown> = {};
  for (const [rowsPerRecord, rows, yardstickRecords] of [
    [1, quick ? 50_000 : 300_000, quick ? 200_000 : 1_000_000],
    [1000, quick ? 200_000 : 1_300_000, quick ? 1_000 : 5_000],
  ] as const) {
    const e2e = await benchE2eRun(bench, rowsPerRecord, rows);
    const yardstick = await measureYardstick(
      bench.info.endpoints.kafkaBrokers,
      `${rowsPerRecord}row`,
      recordBytes(rowsPerRecord),
      yardstickRecords,
    );
    results[`e2eRowsPerRecord${rowsPerRecord}`] = {
      ...e2e,
      yardstick,
      ratios: printRatios(rowsPerRecord, e2e.rowsPerSecond, yardstick),
    };
  }
  return results;
}

/** The benchmarks that need the whole pipeline, on one isolated stack. */
async function benchPipeline(options: { quick: boolean; parts: Set<string> }) {
  const bench = await BenchStack.start();
  const results: Record<string, unknown> = {};
  try {
    if (options.parts.has('e2e')) Object.assign(results, await benchE2e(bench, options.quick));
    if (options.parts.has('sf')) results.sf = await benchSf(bench, options.quick);
    if (options.parts.has('latency'))
      results.latencyAt1000RowsPerSecond = await benchLatency(bench, options.quick);
  } finally {
    await bench.stop();
  }
  return results;
}

export async function benchCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(benchUsage);
    return 0;
  }
  const parts = new Set(values.only ? [values.only] : ['core', 'e2e', 'latency', 'sf']);
  for (const part of parts) {
    if (!['core', 'e2e', 'latency', 'sf'].includes(part)) {
      console.error(`driftline bench: --only takes core, e2e, latency or sf, not "${part}"`);
      return 2;
    }
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `driftline bench on ${cpus().length} × ${cpu}, Node ${process.version}${values.quick ? ' (quick)' : ''}`,
  );
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu, node: process.version },
    quick: values.quick,
  };
  if (parts.has('core')) report.core = benchCore(values.quick ? 200_000 : 1_300_000, 5);
  if (parts.has('e2e') || parts.has('latency') || parts.has('sf'))
    report.pipeline = await benchPipeline({ quick: values.quick, parts });
  const dir = join(PROJECT_ROOT, 'bench-results');
  await mkdir(dir, { recursive: true });
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const file = join(dir, `${String(report.date).replace(/[:.]/g, '-')}.json`);
  await writeFile(file, text);
  await writeFile(join(dir, 'latest.json'), text);
  console.log(`results written to ${file}`);
  // Handler modules keep Kafka producers open (module scope, as in a warm Lambda container).
  process.exit(0);
}
