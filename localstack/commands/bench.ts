/**
 * `driftline bench` (`npm run bench`): the figures the README quotes, measured on this machine.
 *
 *   core       dt applyBatch rows/s on one core, from raw record bytes: text and binary words, 1 row
 *              per record and 1000
 *   e2e        sustained rows/s through the whole local pipeline (S3 → replay → Kafka → aggregate →
 *              DynamoDB), at full speed, with 1 and 1000 rows per record
 *   latency    produce → data_clean latency at 1000 rows/s (p50/p99 over batches)
 *   sf         the full SF calls file (199,999 records) at full speed, exact and bounded dedup:
 *              wall time, rows/s, peak memory of each process, state size at the end
 *
 * With e2e come its yardsticks, on the same broker in the same run (bench-yardstick.ts): Kafka's
 * ProducerPerformance and ConsumerPerformance and a bare kafkajs producer and consumer, each e2e
 * figure printed as a ratio of them; and the cost per million rows on AWS from the handler time
 * measured (bench-cost.ts). `--sweep` is the source system's metrics analysis (bench-sweep.ts),
 * `--profile` the per-stage breakdown (bench-profile.ts).
 *
 * Benchmarks run on an isolated stack (temporary folder, free ports). Results are printed and
 * written to bench-results/<timestamp>.json and bench-results/latest.json.
 */

import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { generateDt } from '../../shared/analyses/dt/generator.ts';
import { dtAnalysis } from '../../shared/analyses/dt/index.ts';
import type { RecordInput, WireFormat } from '../../shared/core/analysis.ts';
import { median } from '../../shared/core/statistics.ts';
import { PROJECT_ROOT } from '../service-definition.ts';
import {
  costPerMillionRows,
  describeAssumptions,
  describeCost,
  pacedInputs,
  SPARK_CLUSTER,
  sparkClusterPerMillionRows,
} from './bench-cost.ts';
import { benchKinesis } from './bench-kinesis.ts';
import { benchLatency } from './bench-latency.ts';
import { benchProfile } from './bench-profile.ts';
import { benchSf } from './bench-sf.ts';
import { benchSoak } from './bench-soak.ts';
import { soakFiles } from './bench-soak-report.ts';
import { BenchStack } from './bench-stack.ts';
import { benchSweep, runSweepStack } from './bench-sweep.ts';
import { measureYardstick, type Yardstick } from './bench-yardstick.ts';

export const benchUsage = `Usage: driftline bench [--only core|e2e|latency|sf|kinesis|soak] [--runs N] [--window MS] [--quick] [--soak-files N] | --profile | --profile-packed | --sweep | --sweep-quick

Measures the dt core, end-to-end throughput on the local stack (with Kafka's own perf tools and a
bare kafkajs client on the same broker as yardsticks, and the cost per million rows on AWS), and
produce → data_clean latency. Prints the figures and writes bench-results/<timestamp>.json (and
latest.json).

Options:
  --only X   run one part (sf needs ../shared/data/sf beside the project)
  --sweep    the source system's metrics analysis: partitions (1, 5, 10, 100, 200), input rate
             (1000, 5000, full speed), rows per message, trigger batch size and batching window, one
             at a time around a default point (~9 min); writes bench-results/sweep-<time>/report.md
             with SVG plots
  --sweep-quick  the same with fewer points and shorter runs (a smoke run, ~2 min)
  --profile  CPU profiles of one e2e run at 1 row per message, of the runtime and of each function's
             sandbox: µs per row per stage per process (writes bench-results/profile-<time>/)
  --profile-packed  the same at 1000 rows per message (1.3 M rows)
  --window MS  the aggregate trigger's batching window for e2e, latency and sf (default: AWS's 500)
  --runs N   repeat the e2e part and its yardsticks N times on the same stack; prints the medians
  --quick    smaller inputs (a smoke run; figures are less stable)
  --soak-files N  with --only soak: replay N files of a million rows each (default 30, 1 with
             --quick; ~1 min per 10 M rows here), sampling every process's memory`;

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
/** `rows` generated rows in `format`, framed as replay frames them (one Uint8Array per row). */
function generatedRows(rows: number, seed: number, format: 'csv' | 'bin'): Uint8Array[] {
  const bytes = concat([...generateDt({ rows, seed, format })]);
  const { framer } = dtAnalysis.replay.framerFor(`bench.${format}`);
  return [...framer.push(bytes), ...framer.end()].map((row) => row.slice());
}

/** Records of `rowsPerRecord` rows each, cut into batches as the trigger would: ≤ 1000 records. */
function coreBatches(rows: readonly Uint8Array[], rowsPerRecord: number, wireFormat: WireFormat) {
  const records: RecordInput[] = [];
  for (let start = 0; start < rows.length; start += rowsPerRecord) {
    records.push({
      value: dtAnalysis.replay.pack(rows.slice(start, start + rowsPerRecord), wireFormat),
      wireFormat,
      partition: 0,
      offset: String(records.length),
      timestampMs: 0,
    });
  }
  const batches: RecordInput[][] = [];
  for (let start = 0; start < records.length; start += 1000) batches.push(records.slice(start, start + 1000));
  return batches;
}

/** rows/s of `runs` folds of all batches from an empty state, after one run that warms the JIT. */
function timeFolds(batches: readonly RecordInput[][], rows: number, runs: number): number[] {
  const perRun: number[] = [];
  for (let run = 0; run < runs + 1; run++) {
    let state = dtAnalysis.emptyState();
    const started = process.hrtime.bigint();
    for (const batch of batches) state = dtAnalysis.applyBatch(state, batch).state;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (run > 0) perRun.push(rows / seconds);
  }
  return perRun;
}

/**
 * The dt fold alone, on one core: the text (CSV) wire format at 1 and 1000 rows per record, and the
 * binary one (the DAQ's 8-byte words, `.bin` objects) at 1 and 1000 words per record. Binary is
 * printed beside text because the text parse is most of the fold's cost (README, Goals and limits).
 */
function benchCore(rows: number, runs: number) {
  const results: Record<string, { rowsPerSecond: number[]; median: number }> = {};
  for (const [format, wireFormat, prefix] of [
    ['csv', 'text', 'rowsPerRecord'],
    ['bin', 'binary', 'binaryRowsPerRecord'],
  ] as const) {
    const lines = generatedRows(rows, 7, format);
    for (const rowsPerRecord of [1, 1000]) {
      const perRun = timeFolds(coreBatches(lines, rowsPerRecord, wireFormat), lines.length, runs);
      results[`${prefix}${rowsPerRecord}`] = { rowsPerSecond: perRun, median: median(perRun) };
      console.log(
        `core  dt applyBatch, ${wireFormat}, ${rowsPerRecord} row(s)/record: median ${(median(perRun) / 1e6).toFixed(2)} M rows/s ` +
          `(runs: ${perRun.map((value) => (value / 1e6).toFixed(2)).join(', ')})`,
      );
    }
  }
  return { rows, runs, ...results };
}

/** One e2e run: `rows` rows uploaded at full speed, timed from the PUT to the aggregated state. */
async function benchE2eRun(bench: BenchStack, rowsPerRecord: number, rows: number) {
  bench.timings.reset();
  const { run, started } = await bench.upload(rows, 100 + rowsPerRecord, {
    rate: '0',
    'rows-per-record': String(rowsPerRecord),
  });
  const finished = await bench.waitForRows(run, rows, 600_000);
  const { batches, ...aggregate } = bench.timings.snapshot().aggregate;
  const handlers = { replay: bench.timings.snapshot().replay, aggregate };
  const rowsPerSecond = rows / ((finished - started) / 1000);
  console.log(
    `e2e   ${rows} rows, ${rowsPerRecord} row(s)/record, full speed: ${Math.round(rowsPerSecond)} rows/s ` +
      `(${((finished - started) / 1000).toFixed(1)} s from PUT to aggregated state); aggregate ` +
      `${((aggregate.seconds / rows) * 1e6).toFixed(2)} µs/row of handler time in ${aggregate.invocations} invocations`,
  );
  return { rows, seconds: (finished - started) / 1000, rowsPerSecond, handlers };
}

/** The cost model (bench-cost.ts) for the measured run, for the same rows paced, and the cluster. */
function printCost(
  rowsPerRecord: number,
  run: Awaited<ReturnType<typeof benchE2eRun>>,
  memory: { replay: number; aggregate: number },
) {
  const { replay, aggregate } = run.handlers;
  const measured = costPerMillionRows({
    rows: run.rows,
    replaySeconds: replay.seconds,
    replayMemoryMb: memory.replay,
    aggregateInvocations: aggregate.invocations,
    aggregateSeconds: aggregate.seconds,
    aggregateMemoryMb: memory.aggregate,
    slices: aggregate.slices,
    rowsPerRecord,
  });
  const paced = costPerMillionRows(
    pacedInputs({
      rate: 1000,
      partitions: 10,
      aggregateSecondsPerRow: aggregate.seconds / run.rows,
      replayMemoryMb: memory.replay,
      aggregateMemoryMb: memory.aggregate,
      rowsPerRecord,
    }),
  );
  const spark = sparkClusterPerMillionRows(1000);
  for (const line of [
    ...describeCost(`${rowsPerRecord} row(s)/record, full speed as measured`, measured),
    ...describeCost(`${rowsPerRecord} row(s)/record, paced at 1000 rows/s, 10 partitions`, paced),
    `cost  the source system's always-on Spark cluster (${SPARK_CLUSTER.description}): $${spark.perHour.toFixed(2)}/h, ` +
      `$${Math.round(spark.perMonth)}/month, = $${spark.perMillionRows.toFixed(2)} per million rows at 1000 rows/s, idle or not`,
  ])
    console.log(line);
  return { measured, paced, spark };
}

/** The size of one of our data_raw records holding `rowsPerRecord` generated dt rows. */
function recordBytes(rowsPerRecord: number): number {
  return dtAnalysis.replay.pack(generatedRows(rowsPerRecord, 7, 'csv'), 'text').length;
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

type E2eRun = Awaited<ReturnType<typeof benchE2eRun>> & { readonly yardstick: Yardstick };

/** The median of each figure over the runs: e2e rows/s and every yardstick's messages/s. */
function medianYardstick(runs: readonly E2eRun[]) {
  const of = (pick: (run: E2eRun) => number) => median(runs.map(pick));
  return {
    e2eRowsPerSecond: of((run) => run.rowsPerSecond),
    yardstick: {
      ...(runs[0]?.yardstick as Yardstick),
      kafkaProducer: { recordsPerSecond: of((run) => run.yardstick.kafkaProducer.recordsPerSecond) },
      kafkaConsumer: {
        fetchMessagesPerSecond: of((run) => run.yardstick.kafkaConsumer.fetchMessagesPerSecond),
      },
      kafkajsProducer: { recordsPerSecond: of((run) => run.yardstick.kafkajsProducer.recordsPerSecond) },
      kafkajsConsumer: { recordsPerSecond: of((run) => run.yardstick.kafkajsConsumer.recordsPerSecond) },
    } as Yardstick,
  };
}

/**
 * e2e at 1 and 1000 rows per record, each followed by its yardsticks on the same broker, `runs`
 * times over; with several runs, the medians and their ratios are printed at the end.
 */
async function benchE2e(bench: BenchStack, quick: boolean, runs: number) {
  const memory = await bench.memorySizes();
  const cases = [
    [1, quick ? 50_000 : 300_000, quick ? 200_000 : 1_000_000],
    [1000, quick ? 200_000 : 1_300_000, quick ? 1_000 : 5_000],
  ] as const;
  const byCase = new Map<number, E2eRun[]>(cases.map(([rowsPerRecord]) => [rowsPerRecord, []]));
  for (let round = 1; round <= runs; round++) {
    if (runs > 1) console.log(`--- e2e run ${round} of ${runs}`);
    for (const [rowsPerRecord, rows, yardstickRecords] of cases) {
      const e2e = await benchE2eRun(bench, rowsPerRecord, rows);
      const brokers = bench.info.endpoints.kafkaBrokers;
      const bytes = recordBytes(rowsPerRecord);
      const yardstick = await measureYardstick(brokers, `${rowsPerRecord}row`, bytes, yardstickRecords);
      printRatios(rowsPerRecord, e2e.rowsPerSecond, yardstick);
      byCase.get(rowsPerRecord)?.push({ ...e2e, yardstick });
    }
  }
  const results: Record<string, unknown> = {};
  if (runs > 1) console.log(`--- medians of ${runs} runs`);
  for (const [rowsPerRecord, caseRuns] of byCase) {
    const medians = medianYardstick(caseRuns);
    if (runs > 1)
      console.log(
        `e2e   ${rowsPerRecord} row(s)/record: median ${Math.round(medians.e2eRowsPerSecond)} rows/s ` +
          `(runs: ${caseRuns.map((run) => Math.round(run.rowsPerSecond)).join(', ')})`,
      );
    const ratios = printRatios(rowsPerRecord, medians.e2eRowsPerSecond, medians.yardstick);
    // The cost of the run whose throughput is the median one.
    const sorted = [...caseRuns].sort((a, b) => a.rowsPerSecond - b.rowsPerSecond);
    const middle = sorted[Math.floor(sorted.length / 2)] as E2eRun;
    results[`e2eRowsPerRecord${rowsPerRecord}`] = {
      runs: caseRuns,
      medians,
      ratios,
      costPerMillionRows: printCost(rowsPerRecord, middle, memory),
    };
  }
  console.log(describeAssumptions());
  return results;
}

/** The benchmarks that need the whole pipeline, on one isolated stack. */
async function benchPipeline(options: {
  quick: boolean;
  runs: number;
  parts: Set<string>;
  windowMs: number | undefined;
}) {
  const bench = await BenchStack.start(
    options.windowMs === undefined ? {} : { batchingWindowMs: options.windowMs },
  );
  const results: Record<string, unknown> = {};
  try {
    if (options.parts.has('e2e')) Object.assign(results, await benchE2e(bench, options.quick, options.runs));
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
      runs: { type: 'string', default: '1' },
      sweep: { type: 'boolean', default: false },
      'sweep-quick': { type: 'boolean', default: false },
      'sweep-config': { type: 'string' },
      'sweep-out': { type: 'string' },
      profile: { type: 'boolean', default: false },
      'profile-packed': { type: 'boolean', default: false },
      window: { type: 'string' },
      'soak-files': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(benchUsage);
    return 0;
  }
  if (values.only === 'soak' || values['soak-files'] !== undefined) {
    const files = soakFiles(values['soak-files'], values.quick);
    if (typeof files !== 'number' || values.only !== 'soak') {
      console.error(
        `driftline bench: ${typeof files === 'number' ? '--soak-files needs --only soak' : files.error}`,
      );
      return 2;
    }
    process.exit(await benchSoak({ files }));
  }
  if (values['sweep-config'] && values['sweep-out'])
    process.exit(await runSweepStack(values['sweep-config'], values['sweep-out']));
  if (values.profile) process.exit(await benchProfile(values.quick ? 30_000 : 150_000));
  if (values['profile-packed']) process.exit(await benchProfile(values.quick ? 200_000 : 1_300_000, 1000));
  if (values.sweep || values['sweep-quick']) process.exit(await benchSweep(values['sweep-quick']));
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(`driftline bench: --runs takes a whole number from 1, not "${values.runs}"`);
    return 2;
  }
  const windowMs = values.window === undefined ? undefined : Number(values.window);
  if (windowMs !== undefined && !(Number.isInteger(windowMs) && windowMs >= 0)) {
    console.error(`driftline bench: --window takes whole milliseconds from 0, not "${values.window}"`);
    return 2;
  }
  const parts = new Set(values.only ? [values.only] : ['core', 'e2e', 'latency', 'sf', 'kinesis']);
  for (const part of parts) {
    if (!['core', 'e2e', 'latency', 'sf', 'kinesis'].includes(part)) {
      console.error(`driftline bench: --only takes core, e2e, latency, sf or kinesis, not "${part}"`);
      return 2;
    }
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  // V8's heap limit: the old-space bound the runtime runs under (runtime-heap.ts) plus its young generation.
  const heapLimitMiB = Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20);
  console.log(
    `driftline bench on ${cpus().length} × ${cpu}, Node ${process.version}, runtime heap limit ${heapLimitMiB} MiB` +
      (values.quick ? ' (quick)' : ''),
  );
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu, node: process.version, heapLimitMiB },
    quick: values.quick,
  };
  if (parts.has('core')) report.core = benchCore(values.quick ? 200_000 : 1_300_000, 5);
  if (parts.has('e2e') || parts.has('latency') || parts.has('sf'))
    report.pipeline = await benchPipeline({ quick: values.quick, runs, parts, windowMs });
  // e2e over Kinesis (bench-kinesis.ts), in a process of its own.
  if (parts.has('kinesis')) report.kinesis = await benchKinesis(values.quick);
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
