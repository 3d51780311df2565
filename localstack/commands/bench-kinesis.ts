/**
 * `driftline bench --only kinesis`: the end-to-end figures of `e2e` over the Kinesis transport
 * (S3 → replay → kinesalite `data_raw` → local Kinesis trigger → aggregate → DynamoDB), with 1 row
 * per record and packed, and kinesalite's own PutRecords ceiling (the Kinesis publisher alone, no
 * pipeline), so the e2e figure can be read against what the emulator itself takes.
 *
 * Handlers read their configuration once per process, so the Kinesis pipeline runs in a child
 * process of its own (this file, run as a script), on an isolated stack (temporary folder, free
 * ports) like the Kafka one; it prints its results as one JSON line.
 */

import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateStreamCommand, DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { z } from 'zod';
import { createKinesisClient, createKinesisPublisher } from '../../shared/adapters/kinesis.ts';
import { createS3Client, putObjectFromFile } from '../../shared/adapters/s3.ts';
import { generateDt } from '../../shared/analyses/dt/generator.ts';
import { median } from '../../shared/core/statistics.ts';
import { replayRunOf } from '../../shared/pipeline/state-keys.ts';
import { startPipelineRuntime } from '../runtime.ts';
import { PROJECT_ROOT } from '../service-definition.ts';
import { LOCAL_REGION } from '../stack.ts';
import { startStack } from '../stack-control.ts';
import { isolatedStackEnvironment } from './bench-stack.ts';

const execFileAsync = promisify(execFile);
const RUNS = 3;

/** Runs the Kinesis benchmarks in a child process and returns its results. */
export async function benchKinesis(quick: boolean): Promise<unknown> {
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), ...(quick ? ['--quick'] : [])],
    { cwd: PROJECT_ROOT, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, DRIFTLINE_BENCH_WORKER: '1' } },
  ).catch((error: { stdout?: string; stderr?: string }) => {
    throw new Error(`the Kinesis benchmark failed:\n${error.stderr ?? ''}`);
  });
  const lines = stdout.trim().split('\n');
  for (const line of lines.slice(0, -1)) console.log(line);
  return JSON.parse(lines[lines.length - 1] ?? '{}');
}

/** kinesalite alone: records/s the Kinesis publisher puts into a 10-shard stream, 100-byte records. */
async function putRecordsCeiling(endpoint: string, records: number) {
  const client = createKinesisClient({ region: LOCAL_REGION, kinesisEndpoint: endpoint });
  const stream = `bench-ceiling-${Date.now()}`;
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 10 }));
  for (;;) {
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
  const publisher = createKinesisPublisher(client);
  const value = 'x'.repeat(100);
  const perRun: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const messages = Array.from({ length: records }, (_, index) => ({
      key: `k${index}`,
      partition: index % 10,
      value,
    }));
    const started = process.hrtime.bigint();
    await publisher.publish(stream, messages);
    perRun.push(records / (Number(process.hrtime.bigint() - started) / 1e9));
  }
  client.destroy();
  console.log(
    `kinesis  kinesalite PutRecords ceiling (${records} × 100 B, requests of 500, one at a time): ` +
      `median ${Math.round(median(perRun))} records/s (runs: ${perRun.map(Math.round).join(', ')})`,
  );
  return { records, recordsPerSecond: perRun, median: median(perRun) };
}

const summarySchema = z.object({ rows: z.number() });

/** One e2e run over Kinesis: a generated file PUT at full speed, timed until aggregated. */
async function e2eRun(
  context: {
    readonly workDir: string;
    readonly apiUrl: string;
    readonly bucket: string;
    readonly s3Endpoint: string;
  },
  rowsPerRecord: number,
  rows: number,
) {
  const s3 = createS3Client({ region: LOCAL_REGION, s3Endpoint: context.s3Endpoint });
  const file = join(context.workDir, `dt-${rowsPerRecord}-${rows}.csv`);
  await pipeline(
    Readable.from(generateDt({ rows, seed: 100 + rowsPerRecord, format: 'csv' })),
    createWriteStream(file),
  );
  const key = `dt/bench-kinesis-${rowsPerRecord}-${Date.now()}.csv`;
  const started = Date.now();
  const etag = await putObjectFromFile(s3, {
    bucket: context.bucket,
    key,
    file,
    metadata: { rate: '0', 'rows-per-record': String(rowsPerRecord) },
  });
  s3.destroy();
  const run = replayRunOf(key, etag);
  const deadline = Date.now() + 900_000;
  for (;;) {
    const response = await fetch(
      `${context.apiUrl}/api/v1/analyses/dt/summary?run=${encodeURIComponent(run)}`,
    );
    const body = summarySchema.parse(await response.json());
    if (body.rows >= rows) break;
    if (Date.now() > deadline) throw new Error(`only ${body.rows} of ${rows} rows aggregated over Kinesis`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `kinesis  e2e ${rows} rows, ${rowsPerRecord} row(s)/record, full speed: ${Math.round(rows / seconds)} rows/s ` +
      `(${seconds.toFixed(1)} s from PUT to aggregated state)`,
  );
  return { rows, seconds, rowsPerSecond: rows / seconds };
}

/** The worker: an isolated stack, the runtime on the local-kinesis stage, the runs, one JSON line. */
async function worker(quick: boolean): Promise<void> {
  const workDir = await mkdtemp(join(tmpdir(), 'driftline-bench-kinesis-'));
  const env = isolatedStackEnvironment(workDir);
  const stack = await startStack({ attached: true, env });
  const runtime = await startPipelineRuntime({
    stack: { ...stack.info, stage: 'local-kinesis' },
    cacheDir: join(workDir, 'cache'),
    apiPort: 0,
    log: (line) => console.error(`  runtime: ${line}`),
  });
  try {
    const context = {
      workDir,
      apiUrl: runtime.apiUrl,
      bucket: stack.info.datasetBucket,
      s3Endpoint: stack.info.endpoints.s3,
    };
    const results = {
      putRecordsCeiling: await putRecordsCeiling(stack.info.endpoints.kinesis, quick ? 20_000 : 50_000),
      e2eRowsPerRecord1: await e2eRun(context, 1, quick ? 50_000 : 300_000),
      e2eRowsPerRecord1000: await e2eRun(context, 1000, quick ? 200_000 : 1_300_000),
    };
    console.log(JSON.stringify(results));
  } finally {
    await runtime.stop();
    await stack.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

if (process.env.DRIFTLINE_BENCH_WORKER === '1' && process.argv[1] === fileURLToPath(import.meta.url)) {
  await worker(process.argv.includes('--quick'));
  // Handler modules keep producers open (module scope, as in a warm Lambda container).
  process.exit(0);
}
