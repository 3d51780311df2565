/**
 * `driftline demo` (`npm start`): the main job on one machine. Starts the local cloud and the
 * pipeline runtime, generates a few telescope files like the real ones (cached), uploads them, and
 * replays them at the DAQ rate while showing a progress bar per file and a live status line.
 * Ctrl-C stops everything it started; an unfinished replay continues at the next start.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createS3Client, putObjectFromFile } from '../../shared/adapters/s3.ts';
import { generateDt } from '../../shared/analyses/dt/generator.ts';
import { loadStackConfig } from '../../shared/config.ts';
import { formatDuration } from '../../shared/core/format.ts';
import { startPipelineRuntime } from '../runtime.ts';
import { PROJECT_ROOT } from '../service-definition.ts';
import { LOCAL_REGION, type StackInfo } from '../stack.ts';
import { readStackInfo, startStack } from '../stack-control.ts';
import { StackError } from '../stack-error.ts';
import { describeStack } from './stack.ts';

export const demoUsage = `Usage: driftline demo [options]

Starts the local cloud (Kafka, S3, DynamoDB, Kinesis on 127.0.0.1) and the pipeline, generates
telescope data like the real DAQ files (cached), uploads it and replays it live. Ctrl-C stops all.

Options:
  --files N             files to replay, concurrently (default 3)
  --rows N              rows per file (default 1300000, the size of a real file)
  --rate R              rows/s per file; 0 = as fast as possible (default 1000, the real DAQ rate)
  --rows-per-record N   rows packed into one Kafka message (default 1, as the source system)
  --seed S              generator seed of the first file (default 1)
  --fresh               start from empty topics, bucket and tables
  -h, --help            this text`;

const positiveInteger = (name: string, max: number) =>
  z.coerce
    .number({ error: `--${name} must be a number` })
    .int(`--${name} must be a whole number`)
    .min(1, `--${name} must be at least 1`)
    .max(max, `--${name} must be at most ${max}`);

const optionsSchema = z.object({
  files: positiveInteger('files', 20),
  rows: positiveInteger('rows', 50_000_000),
  rate: z.coerce.number({ error: '--rate must be a number' }).min(0, '--rate must be ≥ 0'),
  rowsPerRecord: positiveInteger('rows-per-record', 100_000),
  seed: z.coerce.number().int(),
});

const healthSchema = z.object({
  rowsInPerSecond: z.number(),
  rowsOutPerSecond: z.number(),
  batches: z.number(),
  rejectedRows: z.number(),
  latencyMs: z.object({ p50: z.number().nullable(), p99: z.number().nullable() }),
  replays: z.array(
    z.object({
      key: z.string(),
      status: z.string(),
      rowsSent: z.number(),
      fraction: z.number(),
      rowsPerSecond: z.number(),
      etaSeconds: z.number().nullable(),
      message: z.string().nullable(),
    }),
  ),
});

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function formatCount(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(0)}k`;
  return value.toFixed(0);
}

function bar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

/** Generates the file once per (seed, rows); later demos reuse it. */
async function datasetFile(cacheDir: string, seed: number, rows: number): Promise<string> {
  const dir = join(cacheDir, 'datasets');
  const file = join(dir, `dt-seed${seed}-${rows}.csv`);
  if (existsSync(file)) return file;
  await mkdir(dir, { recursive: true });
  process.stderr.write(`Generating ${formatCount(rows)} rows of telescope data (seed ${seed})… `);
  const started = Date.now();
  await pipeline(
    Readable.from(generateDt({ rows, seed, format: 'csv' })),
    createWriteStream(`${file}.partial`),
  );
  await rename(`${file}.partial`, file);
  process.stderr.write(`${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return file;
}

export async function demoCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      files: { type: 'string', default: '3' },
      rows: { type: 'string', default: '1300000' },
      rate: { type: 'string', default: '1000' },
      'rows-per-record': { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      fresh: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(demoUsage);
    return 0;
  }
  const parsed = optionsSchema.safeParse({
    files: values.files,
    rows: values.rows,
    rate: values.rate,
    rowsPerRecord: values['rows-per-record'],
    seed: values.seed,
  });
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((issue) => issue.message).join('; '));
  const options = parsed.data;
  const config = loadStackConfig();

  // Reuse a stack started with `driftline stack up`; otherwise start one for this demo.
  let stackInfo: StackInfo | undefined = await readStackInfo(config.dataDir);
  let stopStack: (() => Promise<void>) | undefined;
  if (stackInfo && values.fresh) {
    throw new StackError(
      'A stack is already running from this data folder: `npx driftline stack down` first to use --fresh.',
    );
  }
  if (!stackInfo) {
    console.error('Starting the local cloud…');
    const stack = await startStack({ attached: true, fresh: values.fresh });
    stackInfo = stack.info;
    stopStack = () => stack.stop();
  }
  console.error(describeStack(stackInfo));

  const frontendDist = join(PROJECT_ROOT, 'frontend', 'dist');
  const runtime = await startPipelineRuntime({
    stack: stackInfo,
    cacheDir: config.cacheDir,
    apiPort: config.ports.api,
    ...(existsSync(frontendDist) ? { staticDir: frontendDist } : {}),
    log: (line) => process.stderr.write(`\n${line}\n`),
  });

  let stopping = false;
  const stopped = new Promise<void>((resolveStop) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        stopping = true;
        resolveStop();
      });
    }
  });

  const session = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const prefix = `dt/demo-${session}/`;
  const s3 = createS3Client({ region: LOCAL_REGION, s3Endpoint: stackInfo.endpoints.s3 });
  for (let index = 0; index < options.files && !stopping; index++) {
    const file = await datasetFile(config.cacheDir, options.seed + index, options.rows);
    await putObjectFromFile(s3, {
      bucket: stackInfo.datasetBucket,
      key: `${prefix}telescope-${index + 1}.csv`,
      file,
      metadata: { rate: String(options.rate), 'rows-per-record': String(options.rowsPerRecord) },
    });
  }
  s3.destroy();

  console.error(
    [
      '',
      `Replaying ${options.files} file(s) of ${formatCount(options.rows)} rows into data_raw at ${options.rate === 0 ? 'full speed' : `${options.rate} rows/s each`}.`,
      `  API        ${runtime.apiUrl}/api/v1/health`,
      `  summary    ${runtime.apiUrl}/api/v1/analyses/dt/summary`,
      existsSync(frontendDist)
        ? `  dashboard  ${runtime.apiUrl}/`
        : '  dashboard  (not built: npm run build:frontend)',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  const interactive = process.stdout.isTTY === true;
  let drawnLines = 0;
  let lastPlainLine = 0;
  const render = async () => {
    let health: z.infer<typeof healthSchema>;
    try {
      health = healthSchema.parse(await (await fetch(`${runtime.apiUrl}/api/v1/health?window=10`)).json());
    } catch (error) {
      health = {
        rowsInPerSecond: 0,
        rowsOutPerSecond: 0,
        batches: 0,
        rejectedRows: 0,
        latencyMs: { p50: null, p99: null },
        replays: [],
      };
      if (!interactive)
        console.log(`status unavailable: ${error instanceof Error ? error.message : String(error)}`);
    }
    // This demo's files, and any other replay still running (e.g. one continued from a previous run).
    const shown = health.replays.filter(
      (replay) => replay.key.startsWith(prefix) || replay.status === 'running',
    );
    const label = (key: string) => (key.startsWith(prefix) ? key.slice(prefix.length) : key);
    const width = Math.max(16, ...shown.map((replay) => label(replay.key).length));
    const lines = shown.map(
      (replay) =>
        `${label(replay.key).padEnd(width)} ${bar(replay.fraction, 30)} ${(replay.fraction * 100).toFixed(1).padStart(5)}%  ` +
        `${formatCount(replay.rowsSent).padStart(6)} rows  ${formatCount(replay.rowsPerSecond).padStart(5)}/s  ` +
        `${replay.status === 'done' ? 'done ' : replay.status === 'running' ? `ETA ${formatDuration(replay.etaSeconds, '--:--')}` : replay.status}` +
        `${replay.message ? `  ${replay.message}` : ''}`,
    );
    const latency = (value: number | null) => (value === null ? '-' : `${Math.round(value)} ms`);
    lines.push(
      `in ${formatCount(health.rowsInPerSecond)} rows/s │ out ${formatCount(health.rowsOutPerSecond)} rows/s │ ` +
        `latency p50 ${latency(health.latencyMs.p50)} p99 ${latency(health.latencyMs.p99)} │ ` +
        `batches ${health.batches}/10 s │ rejected ${health.rejectedRows}`,
    );
    if (interactive) {
      if (drawnLines > 0) process.stdout.write(`\x1b[${drawnLines}F`);
      process.stdout.write(lines.map((line) => `\x1b[2K${line}`).join('\n') + '\n');
      drawnLines = lines.length;
    } else if (Date.now() - lastPlainLine > 10_000) {
      lastPlainLine = Date.now();
      console.log(lines.join('\n'));
    }
  };
  while (!stopping) {
    await render();
    await Promise.race([stopped, new Promise((resolveTick) => setTimeout(resolveTick, 1000))]);
  }

  console.error('\nStopping (unfinished replays continue at the next start)…');
  await runtime.stop();
  if (stopStack) await stopStack();
  console.error('Stopped.');
  // Handler modules keep Kafka producers open (module scope, as in a warm Lambda container).
  process.exit(0);
}
