/**
 * `driftline bench --sweep`: the source system's metrics analysis, reproduced. One factor at a time
 * around a default point — Kafka partitions, input rate, rows per message, the trigger's batch size
 * and batching window — with batch processing time, throughput and latency measured at each point,
 * written as bench-results/sweep-<time>/report.md with SVG plots (bench-sweep-report.ts).
 *
 * Each stack configuration (partitions, batch size, window) runs in a child process of its own
 * (`bench --sweep-config`): the handler modules keep their Kafka clients in module scope, as in a
 * warm Lambda container, so one process serves one stack.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile } from '../../shared/core/statistics.ts';
import { PROJECT_ROOT } from '../service-definition.ts';
import { LatencyProbe, percentileOrNaN } from './bench-latency.ts';
import { BenchStack } from './bench-stack.ts';
import {
  FACTORS,
  type Factor,
  factorLabel,
  type SweepPoint,
  type SweepSettings,
  writeSweepReport,
} from './bench-sweep-report.ts';

/** The default point: serverless.yml's trigger and partitions, the source system's higher rate. */
export const SWEEP_DEFAULTS: SweepSettings = {
  partitions: 10,
  rate: 5000,
  rowsPerRecord: 1,
  batchSize: 10_000,
  batchingWindowMs: 500,
};

const FULL_VALUES: Readonly<Record<Factor, readonly number[]>> = {
  partitions: [1, 5, 10, 100, 200],
  rate: [1000, 5000, 0],
  rowsPerRecord: [1, 10, 100, 1000],
  batchSize: [100, 1000, 10_000],
  batchingWindowMs: [0, 100, 500, 2000],
};

const QUICK_VALUES: Readonly<Record<Factor, readonly number[]>> = {
  partitions: [1, 10],
  rate: [5000, 0],
  rowsPerRecord: [1, 100],
  batchSize: [1000, 10_000],
  batchingWindowMs: [0, 500],
};

interface PointPlan {
  readonly rate: number;
  readonly rowsPerRecord: number;
  readonly varies: Factor | undefined;
}

/** One stack configuration and the points measured on it. */
export interface StackPlan {
  readonly partitions: number;
  readonly batchSize: number;
  readonly batchingWindowMs: number;
  readonly points: readonly PointPlan[];
  /** Seconds of a paced point; a full-speed point replays `fullSpeedRows`. */
  readonly seconds: number;
  readonly fullSpeedRows: number;
}

const stackKey = (settings: SweepSettings) =>
  `${settings.partitions}/${settings.batchSize}/${settings.batchingWindowMs}`;

/** One factor at a time around the defaults, grouped by the stack each point needs. */
export function sweepPlan(quick: boolean): StackPlan[] {
  const values = quick ? QUICK_VALUES : FULL_VALUES;
  const settingsList: { settings: SweepSettings; varies: Factor | undefined }[] = [
    { settings: SWEEP_DEFAULTS, varies: undefined },
  ];
  for (const factor of FACTORS)
    for (const value of values[factor])
      if (value !== SWEEP_DEFAULTS[factor])
        settingsList.push({ settings: { ...SWEEP_DEFAULTS, [factor]: value }, varies: factor });
  const plans = new Map<string, StackPlan>();
  for (const { settings, varies } of settingsList) {
    const key = stackKey(settings);
    const plan = plans.get(key) ?? {
      partitions: settings.partitions,
      batchSize: settings.batchSize,
      batchingWindowMs: settings.batchingWindowMs,
      points: [],
      seconds: quick ? 5 : 20,
      fullSpeedRows: quick ? 20_000 : 150_000,
    };
    plans.set(key, {
      ...plan,
      points: [...plan.points, { rate: settings.rate, rowsPerRecord: settings.rowsPerRecord, varies }],
    });
  }
  return [...plans.values()];
}

/** At most `count` batches, evenly spaced over the point's. */
function sample<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  return Array.from({ length: count }, (_, index) => items[Math.floor((index * items.length) / count)] as T);
}

async function measurePoint(bench: BenchStack, probe: LatencyProbe, plan: StackPlan, point: PointPlan) {
  const rows = point.rate === 0 ? plan.fullSpeedRows : point.rate * plan.seconds;
  bench.timings.reset();
  const metadata = { rate: String(point.rate), 'rows-per-record': String(point.rowsPerRecord) };
  const { run, started } = await bench.upload(rows, 500 + point.rowsPerRecord, metadata);
  probe.measure(run);
  const finished = await bench.waitForRows(run, rows, (plan.seconds + 300) * 1000);
  const batches = bench.timings.snapshot().aggregate.batches.filter((batch) => batch.records > 0);
  const durations = batches.map((batch) => batch.durationMs);
  const settings: SweepSettings = { ...plan, rate: point.rate, rowsPerRecord: point.rowsPerRecord };
  const result: SweepPoint = {
    settings,
    varies: point.varies,
    rows,
    throughput: rows / ((finished - started) / 1000),
    batchMs: {
      p50: percentile(durations, 0.5) ?? Number.NaN,
      p99: percentile(durations, 0.99) ?? Number.NaN,
      mean: durations.reduce((sum, value) => sum + value, 0) / Math.max(1, durations.length),
    },
    batches: batches.length,
    meanRecordsPerBatch: batches.reduce((sum, batch) => sum + batch.records, 0) / Math.max(1, batches.length),
    latencyMs: { p50: percentileOrNaN(probe.oldest, 0.5), p99: percentileOrNaN(probe.oldest, 0.99) },
    batchSample: sample(batches, 300).map(({ records, durationMs }) => ({ records, durationMs })),
  };
  console.log(
    `sweep   ${point.varies ?? 'default'}: ${describeSettings(settings)}: ${rows} rows, ${Math.round(result.throughput)} rows/s, ` +
      `${result.batches} batches of ${Math.round(result.meanRecordsPerBatch)} records, batch p50 ${Math.round(result.batchMs.p50)} ms ` +
      `p99 ${Math.round(result.batchMs.p99)} ms, latency p50 ${Math.round(result.latencyMs.p50)} ms p99 ${Math.round(result.latencyMs.p99)} ms`,
  );
  return result;
}

function describeSettings(settings: SweepSettings): string {
  return FACTORS.map((factor) => `${factor} ${factorLabel(factor, settings[factor])}`).join(', ');
}

/** The child's part (`bench --sweep-config FILE --sweep-out FILE`): one stack, its points. */
export async function runSweepStack(planFile: string, outFile: string): Promise<number> {
  const plan = JSON.parse(await readFile(planFile, 'utf8')) as StackPlan;
  const bench = await BenchStack.start(plan);
  const probe = await LatencyProbe.start(bench.info.endpoints.kafkaBrokers);
  const points: SweepPoint[] = [];
  try {
    for (const point of plan.points) points.push(await measurePoint(bench, probe, plan, point));
  } finally {
    await probe.stop();
    await bench.stop();
  }
  await writeFile(outFile, JSON.stringify(points));
  return 0;
}

function runChild(args: readonly string[]): Promise<void> {
  return new Promise((resolveChild, rejectChild) => {
    const child = spawn(
      process.execPath,
      [join(PROJECT_ROOT, 'localstack', 'driftline.mjs'), 'bench', ...args],
      {
        stdio: ['ignore', 'inherit', 'pipe'],
      },
    );
    // The child's stack logs go to stderr: kept for a failure, not printed.
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-20_000);
    });
    child.on('error', rejectChild);
    child.on('exit', (code) =>
      code === 0
        ? resolveChild()
        : rejectChild(new Error(`sweep stack exited with ${code}:\n${stderr.slice(-3000)}`)),
    );
  });
}

/** `driftline bench --sweep` / `--sweep-quick`: every stack plan in turn, then the report. */
export async function benchSweep(quick: boolean): Promise<number> {
  const startedAt = new Date();
  const started = Date.now();
  const dir = join(PROJECT_ROOT, 'bench-results', `sweep-${startedAt.toISOString().replace(/[:.]/g, '-')}`);
  await mkdir(dir, { recursive: true });
  const plans = sweepPlan(quick);
  const total = plans.reduce((sum, plan) => sum + plan.points.length, 0);
  console.log(
    `sweep: ${total} points on ${plans.length} stacks, one factor at a time around ${describeSettings(SWEEP_DEFAULTS)}`,
  );
  const points: SweepPoint[] = [];
  const failures: string[] = [];
  for (const [index, plan] of plans.entries()) {
    const elapsed = Math.round((Date.now() - started) / 1000);
    console.log(
      `sweep [${index + 1}/${plans.length}, ${elapsed} s] stack with ${plan.partitions} partitions, batch size ${plan.batchSize}, ` +
        `window ${plan.batchingWindowMs} ms: ${plan.points.length} point(s)`,
    );
    const planFile = join(tmpdir(), `driftline-sweep-${process.pid}-${index}.json`);
    const outFile = `${planFile}.out`;
    await writeFile(planFile, JSON.stringify(plan));
    try {
      await runChild(['--sweep-config', planFile, '--sweep-out', outFile]);
      points.push(...(JSON.parse(await readFile(outFile, 'utf8')) as SweepPoint[]));
    } catch (error) {
      // One configuration failing (a limit of an emulator, say) leaves the others worth reporting.
      const message = error instanceof Error ? error.message : String(error);
      const failure = `stack with ${plan.partitions} partitions, batch size ${plan.batchSize}, window ${plan.batchingWindowMs} ms: ${message.split('\n').slice(0, 2).join(' ')}`;
      console.log(`sweep [${index + 1}/${plans.length}] FAILED ${failure}`);
      failures.push(failure);
    }
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const files = await writeSweepReport(dir, {
    date: startedAt.toISOString(),
    machine: `${cpus().length} × ${cpu}, Node ${process.version}`,
    quick,
    defaults: SWEEP_DEFAULTS,
    points,
    failures,
    seconds: (Date.now() - started) / 1000,
  });
  console.log(`sweep: done in ${Math.round((Date.now() - started) / 1000)} s; report ${files[0]}`);
  return failures.length === 0 ? 0 : 1;
}
