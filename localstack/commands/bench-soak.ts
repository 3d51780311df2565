/**
 * `driftline bench --only soak`: 10 million rows through the local pipeline (packed, 1000 rows per
 * record, at full speed), the RSS of every process sampled every few seconds: this process (the
 * runtime), each function sandbox when the runtime has them (`stats().sandboxes`), the Kafka
 * broker's JVM and the stack daemon. Prints the series and, per process, the least-squares slope in
 * MiB per million rows and per minute (over the whole run and over its second half, after the
 * warm-up); writes them to bench-results/soak-<time>.json. Memory that stays flat has a slope near 0.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { createS3Client, putObjectFromFile } from '../../shared/adapters/s3.ts';
import { generateDt } from '../../shared/analyses/dt/generator.ts';
import { type RunningRuntime, startPipelineRuntime } from '../runtime.ts';
import { PROJECT_ROOT } from '../service-definition.ts';
import { LOCAL_REGION } from '../stack.ts';
import { type StackHandle, startStack } from '../stack-control.ts';

const SAMPLE_EVERY_MS = 2_000;
const FILE_ROWS = 1_000_000;

interface Sample {
  readonly seconds: number;
  readonly rows: number;
  /** RSS in MiB by process name. */
  readonly rssMiB: Record<string, number>;
}

/** VmRSS of a process in MiB, or undefined when it is gone. */
async function rssMiB(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
    return Number.isFinite(kib) ? kib / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The broker JVM: the child of the stack daemon that runs kafka.Kafka. */
async function brokerPid(daemonPid: number): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== daemonPid) continue;
      const command = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      if (/ kafka\.Kafka /.test(command)) return Number(entry);
    } catch {
      // Gone while we looked.
    }
  }
  return undefined;
}

/** The processes to sample now: name → pid (sandboxes come and go with the runtime's). */
function processes(runtime: RunningRuntime, stack: StackHandle, broker: number | undefined) {
  const found: Record<string, number> = { runtime: process.pid, 'stack daemon': stack.info.pid };
  if (broker !== undefined) found['kafka broker (JVM)'] = broker;
  const stats: Record<string, unknown> = runtime.stats();
  const sandboxes = z.record(z.string(), z.number()).safeParse(stats.sandboxes);
  if (sandboxes.success) {
    for (const [functionId, pid] of Object.entries(sandboxes.data)) found[`sandbox ${functionId}`] = pid;
  }
  return found;
}

/** Least-squares slope of y over x; NaN with fewer than two distinct x. */
export function slope(points: readonly { readonly x: number; readonly y: number }[]): number {
  const n = points.length;
  const meanX = points.reduce((sum, point) => sum + point.x, 0) / n;
  const meanY = points.reduce((sum, point) => sum + point.y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const { x, y } of points) {
    covariance += (x - meanX) * (y - meanY);
    variance += (x - meanX) ** 2;
  }
  return variance === 0 ? Number.NaN : covariance / variance;
}

const totalRows = z.object({ rows: z.number() });

async function aggregatedRows(apiUrl: string): Promise<number> {
  const response = await fetch(`${apiUrl}/api/v1/analyses/dt/summary`);
  return response.ok ? totalRows.parse(await response.json()).rows : 0;
}

/** Slopes per process: MiB per million rows and per minute, over all samples and the second half. */
function slopes(samples: readonly Sample[]) {
  const names = [...new Set(samples.flatMap((sample) => Object.keys(sample.rssMiB)))];
  const half = samples.slice(Math.floor(samples.length / 2));
  const slopeOf = (over: readonly Sample[], name: string, x: (sample: Sample) => number) =>
    slope(
      over.flatMap((sample) => {
        const y = sample.rssMiB[name];
        return y === undefined ? [] : [{ x: x(sample), y }];
      }),
    );
  return Object.fromEntries(
    names.map((name) => [
      name,
      {
        mibPerMillionRows: slopeOf(samples, name, (sample) => sample.rows / 1e6),
        mibPerMinute: slopeOf(samples, name, (sample) => sample.seconds / 60),
        secondHalf: {
          mibPerMillionRows: slopeOf(half, name, (sample) => sample.rows / 1e6),
          mibPerMinute: slopeOf(half, name, (sample) => sample.seconds / 60),
        },
        firstMiB: samples.find((sample) => sample.rssMiB[name] !== undefined)?.rssMiB[name],
        peakMiB: Math.max(...samples.map((sample) => sample.rssMiB[name] ?? 0)),
        lastMiB: samples.at(-1)?.rssMiB[name],
      },
    ]),
  );
}

function printSample(sample: Sample): void {
  const rss = Object.entries(sample.rssMiB)
    .map(([name, mib]) => `${name} ${mib.toFixed(0)}`)
    .join(', ');
  console.log(
    `soak  ${sample.seconds.toFixed(0).padStart(5)} s  ${(sample.rows / 1e6).toFixed(2)} M rows  RSS MiB: ${rss}`,
  );
}

/** The 1 M-row telescope file every run replays. */
async function generateFile(workDir: string): Promise<string> {
  const file = join(workDir, 'soak.csv');
  await pipeline(
    Readable.from(generateDt({ rows: FILE_ROWS, seed: 5050, format: 'csv' })),
    createWriteStream(file),
  );
  return file;
}

/** Uploads `files` copies of `file`, each a run of its own; each replay starts at its upload. */
async function uploadFiles(stack: StackHandle, file: string, files: number): Promise<void> {
  const s3 = createS3Client({ region: LOCAL_REGION, s3Endpoint: stack.info.endpoints.s3 });
  try {
    for (let index = 0; index < files; index++) {
      await putObjectFromFile(s3, {
        bucket: stack.info.datasetBucket,
        key: `dt/soak-${Date.now()}/part-${index}.csv`,
        file,
        metadata: { rate: '0', 'rows-per-record': '1000' },
      });
    }
  } finally {
    s3.destroy();
  }
}

/** Samples until `rows` rows are aggregated (or nothing moved for `stallMs`). */
async function sampleUntil(runtime: RunningRuntime, stack: StackHandle, rows: number, stallMs: number) {
  const samples: Sample[] = [];
  const started = Date.now();
  let lastMove = started;
  let lastRows = -1;
  const broker = await brokerPid(stack.info.pid);
  for (;;) {
    const aggregated = await aggregatedRows(runtime.apiUrl);
    const rssMiBByName: Record<string, number> = {};
    for (const [name, pid] of Object.entries(processes(runtime, stack, broker))) {
      const rss = await rssMiB(pid);
      if (rss !== undefined) rssMiBByName[name] = rss;
    }
    const sample = { seconds: (Date.now() - started) / 1000, rows: aggregated, rssMiB: rssMiBByName };
    samples.push(sample);
    printSample(sample);
    if (aggregated > lastRows) [lastRows, lastMove] = [aggregated, Date.now()];
    if (aggregated >= rows) return { samples, complete: true };
    if (Date.now() - lastMove > stallMs) return { samples, complete: false };
    await new Promise((resolveWait) => setTimeout(resolveWait, SAMPLE_EVERY_MS));
  }
}

export async function benchSoak(options: { readonly quick: boolean }): Promise<number> {
  const files = options.quick ? 1 : 10;
  const rows = files * FILE_ROWS;
  const workDir = await mkdtemp(join(tmpdir(), 'driftline-soak-'));
  const stack = await startStack({
    attached: true,
    env: {
      DRIFTLINE_DATA_DIR: join(workDir, 'stack'),
      DRIFTLINE_KAFKA_PORT: '0',
      DRIFTLINE_KAFKA_CONTROLLER_PORT: '0',
      DRIFTLINE_S3_PORT: '0',
      DRIFTLINE_DYNAMODB_PORT: '0',
      DRIFTLINE_KINESIS_PORT: '0',
    },
  });
  const runtime = await startPipelineRuntime({
    stack: stack.info,
    cacheDir: join(workDir, 'cache'),
    apiPort: 0,
    log: (line) => console.error(`  runtime: ${line}`),
  });
  try {
    console.log(`soak  ${rows / 1e6} M rows (${files} × ${FILE_ROWS / 1e6} M, 1000 rows/record, full speed)`);
    const file = await generateFile(workDir);
    // Sampling from the first upload on: the pipeline works while the later files are uploaded.
    const sampling = sampleUntil(runtime, stack, rows, 120_000);
    await uploadFiles(stack, file, files);
    const { samples, complete } = await sampling;
    const fitted = slopes(samples);
    for (const [name, fit] of Object.entries(fitted)) {
      console.log(
        `soak  ${name}: ${fit.mibPerMillionRows.toFixed(2)} MiB per M rows, ${fit.mibPerMinute.toFixed(2)} MiB/min ` +
          `(second half: ${fit.secondHalf.mibPerMillionRows.toFixed(2)} MiB per M rows, ${fit.secondHalf.mibPerMinute.toFixed(2)} MiB/min); ` +
          `first ${fit.firstMiB?.toFixed(0)} MiB, peak ${fit.peakMiB.toFixed(0)} MiB, last ${fit.lastMiB?.toFixed(0)} MiB`,
      );
    }
    const date = new Date().toISOString();
    const dir = join(PROJECT_ROOT, 'bench-results');
    await mkdir(dir, { recursive: true });
    const out = join(dir, `soak-${date.replace(/[:.]/g, '-')}.json`);
    await writeFile(
      out,
      `${JSON.stringify({ date, rows, files, complete, slopes: fitted, samples }, null, 2)}\n`,
    );
    console.log(`results written to ${out}${complete ? '' : ' (INCOMPLETE: the pipeline stopped moving)'}`);
    return complete ? 0 : 1;
  } finally {
    await runtime.stop();
    await stack.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}
