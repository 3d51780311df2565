/**
 * `driftline demo` (`npm start`): the main job on one machine. Starts the local cloud and the
 * pipeline runtime, generates a few telescope files like the real ones (cached), uploads them, and
 * replays them at the DAQ rate while showing a progress bar per file and a live status line.
 * Ctrl-C stops everything it started; an unfinished replay continues at the next start.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadStackConfig } from '../../shared/config.ts';
import { startPipelineRuntime } from '../runtime.ts';
import { PROJECT_ROOT } from '../service-definition.ts';
import type { StackInfo } from '../stack.ts';
import { readStackInfo, startStack } from '../stack-control.ts';
import { StackError } from '../stack-error.ts';
import { uploadDemoFiles } from './demo-datasets.ts';
import { LiveDisplay } from './demo-display.ts';
import { formatCount, readHealth, statusLines } from './demo-status.ts';
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

class UsageError extends Error {
  override readonly name = 'UsageError';
}

type DemoOptions = z.infer<typeof optionsSchema>;

/** The options, or 'help' after `--help`. */
function parseDemoArgs(args: string[]): { options: DemoOptions; fresh: boolean } | 'help' {
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
  if (values.help) return 'help';
  const parsed = optionsSchema.safeParse({
    files: values.files,
    rows: values.rows,
    rate: values.rate,
    rowsPerRecord: values['rows-per-record'],
    seed: values.seed,
  });
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((issue) => issue.message).join('; '));
  return { options: parsed.data, fresh: values.fresh };
}

/** The stack the demo runs on; `stop` is set only when the demo started it (and must stop it). */
interface DemoStack {
  readonly info: StackInfo;
  readonly stop: (() => Promise<void>) | undefined;
}

/** Reuse a stack started with `driftline stack up`; otherwise start one for this demo. */
async function useOrStartStack(dataDir: string, fresh: boolean): Promise<DemoStack> {
  const running = await readStackInfo(dataDir);
  if (running && fresh) {
    throw new StackError(
      'A stack is already running from this data folder: `npx driftline stack down` first to use --fresh.',
    );
  }
  if (running) return { info: running, stop: undefined };
  console.error('Starting the local cloud…');
  const stack = await startStack({ attached: true, fresh });
  return { info: stack.info, stop: () => stack.stop() };
}

/** Ctrl-C or SIGTERM: `requested` turns true and `signalled` resolves. */
function stopOnSignal(): { readonly requested: () => boolean; readonly signalled: Promise<void> } {
  let requested = false;
  const signalled = new Promise<void>((resolveStop) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        requested = true;
        resolveStop();
      });
    }
  });
  return { requested: () => requested, signalled };
}

/** `dt/demo-20250102-030405/`: this demo's files, apart from earlier demos' in the same bucket. */
function sessionPrefix(): string {
  const session = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `dt/demo-${session}/`;
}

function replayBanner(options: DemoOptions, apiUrl: string, dashboardBuilt: boolean): string {
  return [
    '',
    `Replaying ${options.files} file(s) of ${formatCount(options.rows)} rows into data_raw at ${options.rate === 0 ? 'full speed' : `${options.rate} rows/s each`}.`,
    `  API        ${apiUrl}/api/v1/health`,
    `  summary    ${apiUrl}/api/v1/analyses/dt/summary`,
    dashboardBuilt ? `  dashboard  ${apiUrl}/` : '  dashboard  (not built: npm run build:frontend)',
    'Press Ctrl-C to stop.',
    '',
  ].join('\n');
}

/** Redraws the replays' progress and the pipeline's figures every second until a stop signal. */
async function showProgress(apiUrl: string, prefix: string, stop: ReturnType<typeof stopOnSignal>) {
  const display = new LiveDisplay();
  while (!stop.requested()) {
    const { health, unavailable } = await readHealth(apiUrl);
    if (unavailable !== undefined && !display.interactive) console.log(`status unavailable: ${unavailable}`);
    display.show(statusLines(health, prefix));
    await Promise.race([stop.signalled, new Promise((resolveTick) => setTimeout(resolveTick, 1000))]);
  }
}

export async function demoCommand(args: string[]): Promise<number> {
  const parsed = parseDemoArgs(args);
  if (parsed === 'help') {
    console.log(demoUsage);
    return 0;
  }
  const { options, fresh } = parsed;
  const config = loadStackConfig();
  const stack = await useOrStartStack(config.dataDir, fresh);
  console.error(describeStack(stack.info));

  const frontendDist = join(PROJECT_ROOT, 'frontend', 'dist');
  const runtime = await startPipelineRuntime({
    stack: stack.info,
    cacheDir: config.cacheDir,
    apiPort: config.ports.api,
    ...(existsSync(frontendDist) ? { staticDir: frontendDist } : {}),
    log: (line) => process.stderr.write(`\n${line}\n`),
  });
  const stop = stopOnSignal();
  const prefix = sessionPrefix();
  await uploadDemoFiles({
    ...options,
    stack: stack.info,
    cacheDir: config.cacheDir,
    prefix,
    stopRequested: stop.requested,
  });
  console.error(replayBanner(options, runtime.apiUrl, existsSync(frontendDist)));
  await showProgress(runtime.apiUrl, prefix, stop);

  console.error('\nStopping (unfinished replays continue at the next start)…');
  await runtime.stop();
  if (stack.stop) await stack.stop();
  console.error('Stopped.');
  // Handler modules keep Kafka producers open (module scope, as in a warm Lambda container).
  process.exit(0);
}
