/**
 * `driftline demo` (`npm start`): the main job on one machine. Builds the dashboard if it is missing
 * or out of date, starts the local cloud and the pipeline runtime, generates a few telescope files
 * like the real ones (cached), uploads them, and replays them at the DAQ rate while showing a
 * progress bar per file, a live status line, and a warning when the pipeline falls behind.
 *
 * A second start goes on with the earlier demo (demo-session.ts): its unfinished replays continue
 * from their checkpoints, no new copies are made. Ctrl-C (or SIGTERM, or a closed terminal) stops
 * everything it started; each replay first writes a checkpoint and lets go of its file.
 */
import { parseArgs } from 'node:util';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { createS3Client } from '../../shared/adapters/s3.ts';
import { createStateStore } from '../../shared/adapters/state-store.ts';
import { loadFunctionConfig, loadStackConfig } from '../../shared/config.ts';
import { readProgress } from '../../shared/pipeline/replay.ts';
import { replayKey } from '../../shared/pipeline/state-keys.ts';
import { type Dashboard, ensureDashboard } from '../dashboard-build.ts';
import { type RunningRuntime, startPipelineRuntime } from '../runtime.ts';
import { removeRuntimeInfo, writeRuntimeInfo } from '../runtime-info.ts';
import { functionEnvironment, LOCAL_REGION, type StackInfo } from '../stack.ts';
import { readStackInfo, startStack } from '../stack-control.ts';
import { StackError } from '../stack-error.ts';
import { uploadDemoFiles } from './demo-datasets.ts';
import { LiveDisplay } from './demo-display.ts';
import { fallingBehindLine, PaceWatch } from './demo-pace.ts';
import { type ChosenSession, chooseDemoSession, type DemoFileState, type DemoPlan } from './demo-session.ts';
import { formatCount, type Health, readHealth, statusLines } from './demo-status.ts';
import { describeStack } from './stack.ts';
import { UsageError } from './usage-error.ts';

/**
 * The default load: what the pipeline sustains on two shared cores with a latency p99 under a
 * second (README "The demo"): one real-sized file at the real DAQ rate. More files or a higher
 * rate are a flag away, and the demo says when the machine falls behind.
 */
const DEFAULT_FILES = 1;

export const demoUsage = `Usage: driftline demo [options]

Starts the local cloud (Kafka, S3, DynamoDB, Kinesis on 127.0.0.1) and the pipeline, builds the
dashboard if needed, generates telescope data like the real DAQ files (cached), uploads it and
replays it live. Ctrl-C stops all; the replays write a checkpoint first.

A second start goes on with the earlier demo (same options): its unfinished files continue from
their checkpoints, and no new copies are made. Other options, or --fresh, make new files.

Options:
  --files N             files to replay, concurrently (default ${DEFAULT_FILES}); 0 = none, only the
                        pipeline and the dashboard, for your own files (driftline replay)
  --rows N              rows per file (default 1300000, the size of a real file)
  --rate R              rows/s per file; 0 = as fast as possible (default 1000, the real DAQ rate)
  --rows-per-record N   rows packed into one Kafka message (default 1, as the source system)
  --transport T         kafka (default) or kinesis: data_raw, data_clean and data_dead as Kinesis
                        streams on the local Kinesis emulator (the stage local-kinesis)
  --seed S              generator seed of the first file (default 1)
  --fresh               start from empty topics, bucket and tables (a stack started here)
  -h, --help            this text

Environment: DRIFTLINE_API_PORT (default 7805; 0 = any free port) and the stack's (driftline stack --help).`;

const count = (name: string, min: number, max: number) =>
  z.coerce
    .number({ error: `--${name} must be a number` })
    .int(`--${name} must be a whole number`)
    .min(min, `--${name} must be at least ${min}`)
    .max(max, `--${name} must be at most ${max}`);

const optionsSchema = z.object({
  files: count('files', 0, 20),
  rows: count('rows', 1, 50_000_000),
  rate: z.coerce.number({ error: '--rate must be a number' }).min(0, '--rate must be ≥ 0'),
  rowsPerRecord: count('rows-per-record', 1, 100_000),
  seed: z.coerce.number().int(),
  transport: z.enum(['kafka', 'kinesis'], { error: '--transport must be kafka or kinesis' }),
});

/** The serverless.yml stage the runtime reads for each transport (same stack, same bucket). */
const STAGE_OF_TRANSPORT = { kafka: undefined, kinesis: 'local-kinesis' } as const;

/** The options, or 'help' after `--help`. */
function parseDemoArgs(
  args: string[],
): { plan: DemoPlan; fresh: boolean; transport: 'kafka' | 'kinesis' } | 'help' {
  const { values } = parseArgs({
    args,
    options: {
      files: { type: 'string', default: String(DEFAULT_FILES) },
      rows: { type: 'string', default: '1300000' },
      rate: { type: 'string', default: '1000' },
      'rows-per-record': { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      transport: { type: 'string', default: 'kafka' },
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
    transport: values.transport,
  });
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((issue) => issue.message).join('; '));
  const { transport, ...plan } = parsed.data;
  return { plan, fresh: values.fresh, transport };
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

interface StopSignal {
  readonly requested: () => boolean;
  readonly signalled: Promise<void>;
}

/**
 * Ctrl-C, SIGTERM or SIGHUP (the terminal closed): `requested` turns true and `signalled` resolves.
 * The listeners stay for the whole run. A second Ctrl-C while stopping only says what is being
 * waited for: with the default action the process would die on the spot, leaving its replays
 * leased for two more minutes, so that the next start could not go on with them at once. A third
 * one quits at once (a stop that hangs must not hold the terminal).
 */
function stopOnSignal(): StopSignal {
  let signals = 0;
  let requested = false;
  const signalled = new Promise<void>((resolveStop) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        signals += 1;
        if (signal === 'SIGHUP') {
          // The terminal is gone: what is written to it fails (EIO), and the stop must still run.
          for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
        }
        if (signals === 1) {
          requested = true;
          resolveStop();
        } else if (signals === 2) {
          console.error(
            '\nStill stopping: the replays are writing their checkpoints (a few seconds). ' +
              'Ctrl-C once more quits at once; their files are then continued about 2 minutes later.',
          );
        } else {
          process.exit(130);
        }
      });
    }
  });
  return { requested: () => requested, signalled };
}

/** Where each of the demo's files stands: in the bucket, and its replay's checkpoint. */
function demoFileStates(stack: StackInfo): { state: (key: string) => Promise<DemoFileState>; close(): void } {
  const config = loadFunctionConfig({
    ...functionEnvironment(stack),
    DRIFTLINE_STATE_TABLE: stack.stateTable,
    DRIFTLINE_STATE_BUCKET: stack.stateBucket,
  });
  const store = createStateStore(config);
  const s3 = createS3Client({ region: LOCAL_REGION, s3Endpoint: stack.endpoints.s3 });
  return {
    async state(key) {
      const item = await store.get(replayKey(stack.datasetBucket, key));
      if (item) return readProgress(item).status === 'running' ? 'unfinished' : 'finished';
      const uploaded = await s3
        .send(new HeadObjectCommand({ Bucket: stack.datasetBucket, Key: key }))
        .then(() => true)
        .catch(() => false);
      return uploaded ? 'not-started' : 'not-uploaded';
    },
    close: () => s3.destroy(),
  };
}

/** Chooses the demo's files (the earlier demo's, or new ones) and uploads those not yet replaying. */
async function prepareDemoFiles(options: {
  readonly stack: StackInfo;
  readonly dataDir: string;
  readonly cacheDir: string;
  readonly plan: DemoPlan;
  readonly fresh: boolean;
  readonly stop: StopSignal;
}): Promise<ChosenSession> {
  const files = demoFileStates(options.stack);
  try {
    const chosen = await chooseDemoSession({ ...options, fileState: files.state });
    if (chosen.note) console.error(chosen.note);
    await uploadDemoFiles({
      stack: options.stack,
      cacheDir: options.cacheDir,
      session: chosen.session,
      // Not uploaded, or uploaded but never started (the demo stopped in between): upload now,
      // which also sends the S3 event that starts its replay.
      needsUpload: async (key) => {
        const state = await files.state(key);
        return state === 'not-uploaded' || state === 'not-started';
      },
      stopRequested: options.stop.requested,
    });
    return chosen;
  } finally {
    files.close();
  }
}

function rateText(rate: number): string {
  return rate === 0 ? 'full speed' : `${rate} rows/s each`;
}

function replayBanner(
  chosen: ChosenSession | undefined,
  plan: DemoPlan,
  apiUrl: string,
  dashboard: Dashboard,
): string {
  const what = !chosen
    ? 'No demo files (--files 0): the pipeline replays what you put in the bucket.'
    : `${chosen.continued ? 'Going on with' : 'Replaying'} ${plan.files} file(s) of ${formatCount(plan.rows)} rows ` +
      `(${chosen.session.prefix}) into data_raw at ${rateText(plan.rate)}.`;
  return [
    '',
    what,
    dashboard.staticDir
      ? `  dashboard  ${apiUrl}/${dashboard.problem ? `  (${dashboard.problem})` : ''}`
      : `  dashboard  (not available: ${dashboard.problem ?? 'not built'})`,
    `  API        ${apiUrl}/api/v1/health`,
    `  summary    ${apiUrl}/api/v1/analyses/dt/summary`,
    '  your data  npx driftline replay FILE --follow   (README "Your own data")',
    'Press Ctrl-C to stop; unfinished replays go on at the next start.',
    '',
  ].join('\n');
}

/** Rows per second the running paced replays put in. */
function pacedInput(health: Health): number {
  return health.replays
    .filter((replay) => replay.status === 'running' && replay.rate > 0)
    .reduce((sum, replay) => sum + replay.rate, 0);
}

/** Redraws the replays' progress and the pipeline's figures every second until a stop signal. */
async function showProgress(apiUrl: string, plan: DemoPlan, prefix: string | undefined, stop: StopSignal) {
  const display = new LiveDisplay();
  const pace = new PaceWatch();
  while (!stop.requested()) {
    const { health, unavailable } = await readHealth(apiUrl);
    if (unavailable !== undefined && !display.interactive) console.log(`status unavailable: ${unavailable}`);
    const verdict = unavailable
      ? undefined
      : pace.observe(Date.now(), {
          rowsInPerSecond: pacedInput(health),
          rowsOutPerSecond: health.rowsOutPerSecond,
          latencyP50Ms: health.latencyMs.p50,
        });
    const lines = statusLines(health, prefix);
    if (verdict?.fallingBehind) lines.push(fallingBehindLine(verdict, plan));
    display.show(lines);
    await Promise.race([stop.signalled, new Promise((resolveTick) => setTimeout(resolveTick, 1000))]);
  }
}

/** Stops the runtime (replays checkpoint and let go), then the stack if the demo started it. */
async function stopAll(runtime: RunningRuntime, stack: DemoStack, dataDir: string): Promise<void> {
  console.error('\nStopping: each replay writes a checkpoint and lets go of its file…');
  await runtime.stop();
  await removeRuntimeInfo(dataDir);
  if (stack.stop) await stack.stop();
  console.error('Stopped (unfinished replays go on at the next start).');
}

export async function demoCommand(args: string[]): Promise<number> {
  const parsed = parseDemoArgs(args);
  if (parsed === 'help') {
    console.log(demoUsage);
    return 0;
  }
  const { plan, fresh, transport } = parsed;
  const config = loadStackConfig();
  const dashboard = await ensureDashboard((text) => process.stderr.write(text));
  const stack = await useOrStartStack(config.dataDir, fresh);
  console.error(describeStack(stack.info));

  const stage = STAGE_OF_TRANSPORT[transport];
  const runtime = await startPipelineRuntime({
    // Over Kinesis: the same stack, its functions and triggers read from the local-kinesis stage.
    stack: stage ? { ...stack.info, stage } : stack.info,
    cacheDir: config.cacheDir,
    apiPort: config.ports.api,
    ...(dashboard.staticDir ? { staticDir: dashboard.staticDir } : {}),
    log: (line) => process.stderr.write(`\n${line}\n`),
  });
  const stop = stopOnSignal();
  try {
    await writeRuntimeInfo(config.dataDir, runtime.apiUrl);
    const chosen =
      plan.files === 0
        ? undefined
        : await prepareDemoFiles({
            stack: stack.info,
            dataDir: config.dataDir,
            cacheDir: config.cacheDir,
            plan,
            fresh,
            stop,
          });
    console.error(replayBanner(chosen, plan, runtime.apiUrl, dashboard));
    await showProgress(runtime.apiUrl, plan, chosen?.session.prefix, stop);
  } finally {
    await stopAll(runtime, stack, config.dataDir);
  }
  // Handler modules keep Kafka producers open (module scope, as in a warm Lambda container).
  process.exit(0);
}
