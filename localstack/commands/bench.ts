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
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { createKafka } from '../../shared/adapters/kafka.ts';
import { createS3Client, putObjectFromFile } from '../../shared/adapters/s3.ts';
import { createStateStore } from '../../shared/adapters/state-store.ts';
import { generateDt } from '../../shared/analyses/dt/generator.ts';
import { dtAnalysis } from '../../shared/analyses/dt/index.ts';
import { loadFunctionConfig } from '../../shared/config.ts';
import type { RecordInput } from '../../shared/core/analysis.ts';
import { percentile } from '../../shared/core/statistics.ts';
import { startPipelineRuntime } from '../runtime.ts';
import { PROJECT_ROOT } from '../service-definition.ts';
import { functionEnvironment, LOCAL_REGION, type StackInfo } from '../stack.ts';
import { startStack } from '../stack-control.ts';

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

function percentileOrNaN(values: readonly number[], fraction: number): number {
  return percentile(values, fraction) ?? Number.NaN;
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

const summarySchema = z.object({ rows: z.number() });

async function waitForRows(apiUrl: string, run: string, rows: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${apiUrl}/api/v1/analyses/dt/summary?run=${encodeURIComponent(run)}`);
    const body = summarySchema.parse(await response.json());
    if (body.rows >= rows) return Date.now();
    if (Date.now() > deadline)
      throw new Error(`only ${body.rows} of ${rows} rows aggregated within ${timeoutMs / 1000} s`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
}

async function benchPipeline(options: { quick: boolean; parts: Set<string> }) {
  const workDir = await mkdtemp(join(tmpdir(), 'driftline-bench-'));
  const env = {
    DRIFTLINE_DATA_DIR: join(workDir, 'stack'),
    DRIFTLINE_KAFKA_PORT: '0',
    DRIFTLINE_KAFKA_CONTROLLER_PORT: '0',
    DRIFTLINE_S3_PORT: '0',
    DRIFTLINE_DYNAMODB_PORT: '0',
    DRIFTLINE_KINESIS_PORT: '0',
  };
  const stack = await startStack({ attached: true, env });
  const runtime = await startPipelineRuntime({
    stack: stack.info,
    cacheDir: join(workDir, 'cache'),
    apiPort: 0,
    log: (line) => console.error(`  runtime: ${line}`),
  });
  const s3 = createS3Client({ region: LOCAL_REGION, s3Endpoint: stack.info.endpoints.s3 });
  const results: Record<string, unknown> = {};
  try {
    const upload = async (rows: number, seed: number, metadata: Record<string, string>) => {
      const file = join(workDir, `dt-${seed}-${rows}.csv`);
      await pipeline(Readable.from(generateDt({ rows, seed, format: 'csv' })), createWriteStream(file));
      const key = `dt/bench-${seed}-${Date.now()}.csv`;
      const started = Date.now();
      const etag = await putObjectFromFile(s3, { bucket: stack.info.datasetBucket, key, file, metadata });
      return { run: `${key}@${etag.slice(0, 12)}`, started };
    };

    if (options.parts.has('e2e')) {
      for (const [rowsPerRecord, rows] of [
        [1, options.quick ? 50_000 : 300_000],
        [1000, options.quick ? 200_000 : 1_300_000],
      ] as const) {
        const { run, started } = await upload(rows, 100 + rowsPerRecord, {
          rate: '0',
          'rows-per-record': String(rowsPerRecord),
        });
        const finished = await waitForRows(runtime.apiUrl, run, rows, 600_000);
        const rowsPerSecond = rows / ((finished - started) / 1000);
        results[`e2eRowsPerRecord${rowsPerRecord}`] = {
          rows,
          seconds: (finished - started) / 1000,
          rowsPerSecond,
        };
        console.log(
          `e2e   ${rows} rows, ${rowsPerRecord} row(s)/record, full speed: ${Math.round(rowsPerSecond)} rows/s ` +
            `(${((finished - started) / 1000).toFixed(1)} s from PUT to aggregated state)`,
        );
      }
    }

    if (options.parts.has('sf')) results.sf = await benchSf(stack.info, runtime.apiUrl, s3, options.quick);

    if (options.parts.has('latency')) {
      const seconds = options.quick ? 15 : 60;
      const kafka = createKafka(
        { brokers: stack.info.endpoints.kafkaBrokers, auth: 'none' },
        { clientId: 'bench', logLevel: 'nothing' },
      );
      const consumer = kafka.consumer({ groupId: `bench-latency-${Date.now()}`, maxWaitTimeInMs: 50 });
      await consumer.connect();
      await consumer.subscribe({ topic: 'data_clean', fromBeginning: false });
      const oldest: number[] = [];
      const newest: number[] = [];
      let runName = '';
      const progress = z.object({
        run: z.string(),
        progress: z.object({ firstRecordTimestampMs: z.number(), lastRecordTimestampMs: z.number() }),
      });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const parsed = progress.safeParse(JSON.parse(message.value?.toString('utf8') ?? '{}'));
          if (!parsed.success || parsed.data.run !== runName) return;
          // The summary's append time on data_clean minus the producer time of the batch's rows.
          const appended = Number(message.timestamp);
          oldest.push(appended - parsed.data.progress.firstRecordTimestampMs);
          newest.push(appended - parsed.data.progress.lastRecordTimestampMs);
        },
      });
      const rows = seconds * 1000;
      const { run } = await upload(rows, 300, { rate: '1000', 'rows-per-record': '1' });
      runName = run;
      await waitForRows(runtime.apiUrl, run, rows, (seconds + 120) * 1000);
      await consumer.disconnect();
      results.latencyAt1000RowsPerSecond = {
        batches: oldest.length,
        oldestRowMs: { p50: percentileOrNaN(oldest, 0.5), p99: percentileOrNaN(oldest, 0.99) },
        newestRowMs: { p50: percentileOrNaN(newest, 0.5), p99: percentileOrNaN(newest, 0.99) },
      };
      console.log(
        `lat   1000 rows/s for ${seconds} s, ${oldest.length} batches: produce → data_clean ` +
          `p50 ${Math.round(percentileOrNaN(oldest, 0.5))} ms, p99 ${Math.round(percentileOrNaN(oldest, 0.99))} ms (oldest row of a batch); ` +
          `p50 ${Math.round(percentileOrNaN(newest, 0.5))} ms, p99 ${Math.round(percentileOrNaN(newest, 0.99))} ms (newest row)`,
      );
    }
  } finally {
    s3.destroy();
    await runtime.stop();
    await stack.stop();
    await rm(workDir, { recursive: true, force: true });
  }
  return results;
}

/** Peak resident memory (VmHWM) of a process, in MiB, from /proc. */
function peakMemoryMiB(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The Kafka JVM of the stack: the process of its group running kafka.Kafka. */
function kafkaPid(stackPid: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const group = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (group === stackPid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('kafka.Kafka'))
        return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

async function benchSf(stack: StackInfo, apiUrl: string, s3: S3Client, quick: boolean) {
  const dataDir = join(PROJECT_ROOT, '..', 'shared', 'data', 'sf');
  const file = join(
    dataDir,
    quick
      ? 'police-department-calls-for-service.sample2000.json'
      : 'police-department-calls-for-service.json.gz',
  );
  if (!existsSync(file)) {
    console.log(`sf    skipped: ${file} is not there (the DataSF files live in ../shared/data/sf)`);
    return { skipped: `missing ${file}` };
  }
  await putObjectFromFile(s3, {
    bucket: stack.datasetBucket,
    key: 'sf/radio_code.json',
    file: join(dataDir, 'radio_code.json'),
  });
  const rows = quick ? 2_000 : 199_999;
  // Through the overflow layer: the sizes measured are the states', wherever they are kept.
  const store = createStateStore(
    loadFunctionConfig({
      ...functionEnvironment(stack),
      DRIFTLINE_STATE_TABLE: stack.stateTable,
      DRIFTLINE_STATE_BUCKET: stack.stateBucket,
    }),
  );
  const results: Record<string, unknown> = {};
  for (const analysis of ['sf', 'sfb']) {
    const key = `${analysis}/bench-${Date.now()}/${basename(file)}`;
    const started = Date.now();
    // One JSON record per Kafka message, as the source system produced them.
    const etag = await putObjectFromFile(s3, {
      bucket: stack.datasetBucket,
      key,
      file,
      metadata: { rate: '0', 'rows-per-record': '1' },
    });
    const run = `${key}@${etag.slice(0, 12)}`;
    const deadline = Date.now() + 900_000;
    for (;;) {
      const response = await fetch(
        `${apiUrl}/api/v1/analyses/${analysis}/summary?run=${encodeURIComponent(run)}`,
      );
      const body = summarySchema.parse(await response.json());
      if (body.rows >= rows) break;
      if (Date.now() > deadline) throw new Error(`sf bench: only ${body.rows} of ${rows} rows within 900 s`);
      await new Promise((resolveWait) => setTimeout(resolveWait, 250));
    }
    const seconds = (Date.now() - started) / 1000;
    const states = (await store.query(`state#${analysis}`)).filter((item) => item.sk.startsWith(`${run}#`));
    const sizes = states.map((item) => JSON.stringify(item.payload).length);
    const total = sizes.reduce((sum, size) => sum + size, 0);
    results[analysis] = {
      rows,
      seconds,
      rowsPerSecond: rows / seconds,
      stateItems: sizes.length,
      stateBytesTotal: total,
      stateBytesMaxItem: Math.max(...sizes),
    };
    console.log(
      `sf    ${analysis === 'sf' ? 'exact  ' : 'bounded'} dedup: ${rows} rows in ${seconds.toFixed(1)} s = ${Math.round(rows / seconds)} rows/s; ` +
        `state ${(total / 1024).toFixed(0)} KiB in ${sizes.length} items (largest ${(Math.max(...sizes) / 1024).toFixed(0)} KiB)`,
    );
  }
  const kafka = kafkaPid(stack.pid);
  const memory = {
    runtimeMiB: process.resourceUsage().maxRSS / 1024,
    stackMiB: peakMemoryMiB(stack.pid),
    kafkaMiB: kafka === undefined ? undefined : peakMemoryMiB(kafka),
  };
  console.log(
    `sf    peak memory: pipeline runtime (replay+aggregate+api) ${memory.runtimeMiB.toFixed(0)} MiB, ` +
      `emulators ${memory.stackMiB?.toFixed(0) ?? '?'} MiB, Kafka JVM ${memory.kafkaMiB?.toFixed(0) ?? '?'} MiB`,
  );
  return { ...results, peakMemory: memory };
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
