/**
 * `driftline bench --only soak [--soak-files N]`: N million rows (default 10) through the local
 * pipeline (packed, 1000 rows per record, at full speed), the memory of every process sampled every
 * 2 s: this process (the runtime), each function's sandbox (`stats().sandboxes`), the Kafka broker's
 * JVM and the stack daemon (the emulators), each as private memory (RssAnon) and RSS (VmRSS, mapped
 * files too), plus the daemon's own split (V8 heap, external, other native, mapped files), its
 * emulators' data on disk, and the broker's heap from its GC log (bench-soak-jvm.ts). Prints the series tables, the least-squares slopes, and PASS/FAIL per process against the
 * flatness rule (bench-soak-report.ts) on private memory; writes it all to
 * bench-results/soak-<time>.json. Exits 1 when a process is not flat or the run stalled.
 */

import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import v8 from 'node:v8';
import { z } from 'zod';
import { createS3Client, putObjectFromFile } from '../../shared/adapters/s3.ts';
import { generateDt } from '../../shared/analyses/dt/generator.ts';
import { replayRunOf } from '../../shared/pipeline/state-keys.ts';
import { kafkaGcLogFile } from '../kafka-broker.ts';
import { type RunningRuntime, startPipelineRuntime } from '../runtime.ts';
import { PROJECT_ROOT } from '../service-definition.ts';
import { LOCAL_REGION } from '../stack.ts';
import { type StackHandle, startStack } from '../stack-control.ts';
import { GcLogReader } from './bench-soak-jvm.ts';
import { RunProgress } from './bench-soak-progress.ts';
import {
  FLATNESS_RULE,
  fitProcesses,
  type ProcessFit,
  SOAK_FILE_ROWS,
  type SoakSample,
  seriesTable,
  verdictLine,
} from './bench-soak-report.ts';
import { isolatedStackEnvironment } from './bench-stack.ts';

const SAMPLE_EVERY_MS = 2_000;

interface Sample {
  readonly seconds: number;
  readonly rows: number;
  /** VmRSS in MiB by process name: all resident pages, the files mapped into memory too. */
  readonly rssMiB: Record<string, number>;
  /**
   * RssAnon in MiB by process name: the private memory (heaps, buffers) the kernel cannot drop,
   * unlike the pages of a mapped file (dynalite's LevelDB maps its table files: as they grow, so
   * does the daemon's VmRSS, in page cache the kernel reclaims under pressure).
   */
  readonly privateMiB: Record<string, number>;
  /** The stack daemon's memory split and its emulators' data on disk, in MiB. */
  readonly partsMiB: Record<string, number>;
  /** The broker JVM's heap from its GC log (bench-soak-jvm.ts), in MiB. */
  readonly jvmMiB: Record<string, number>;
}

/** One of a sample's series, as the report module takes it. */
function series(samples: readonly Sample[], pick: (sample: Sample) => Record<string, number>): SoakSample[] {
  return samples.map((sample) => ({ seconds: sample.seconds, rows: sample.rows, rssMiB: pick(sample) }));
}

/** VmRSS and RssAnon of a process in MiB, or undefined when it is gone. */
async function memoryOf(pid: number): Promise<{ rss: number; private: number } | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    const [rss, anon] = [kib('VmRSS'), kib('RssAnon')];
    return Number.isFinite(rss) && Number.isFinite(anon)
      ? { rss: rss / 1024, private: anon / 1024 }
      : undefined;
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

const BROKER = 'kafka broker (JVM)';

/** The processes to sample now: name → pid (sandboxes come and go with the runtime's). */
function processes(runtime: RunningRuntime, stack: StackHandle, broker: number | undefined) {
  const found: Record<string, number> = { runtime: process.pid, 'stack daemon': stack.info.pid };
  if (broker !== undefined) found[BROKER] = broker;
  const stats: Record<string, unknown> = runtime.stats();
  const sandboxes = z.record(z.string(), z.number()).safeParse(stats.sandboxes);
  if (sandboxes.success) {
    for (const [functionId, pid] of Object.entries(sandboxes.data)) found[`sandbox ${functionId}`] = pid;
  }
  return found;
}

const totalRows = z.object({ rows: z.number() });

/** Rows per data_raw record in the soak (packed); a file of a million rows is 1000 records. */
const ROWS_PER_RECORD = 1000;

async function runRows(apiUrl: string, run: string): Promise<number> {
  const response = await fetch(`${apiUrl}/api/v1/analyses/dt/summary?run=${encodeURIComponent(run)}`);
  return response.ok ? totalRows.parse(await response.json()).rows : 0;
}

const MIB = 1024 * 1024;

/**
 * The daemon's memory split: V8's heap, external buffers, the rest of its private memory (native:
 * LevelDB's caches, malloc) and its mapped files (LevelDB's tables: page cache).
 */
async function daemonParts(
  stack: StackHandle,
  rss: number,
  privateMiB: number,
): Promise<Record<string, number>> {
  const usage = await stack.memoryUsage();
  return {
    'daemon V8 heap used': usage.heapUsed / MIB,
    'daemon V8 heap committed': usage.heapTotal / MIB,
    'daemon external': usage.external / MIB,
    'daemon other private (native)': privateMiB - (usage.heapTotal + usage.external) / MIB,
    'daemon mapped files': rss - privateMiB,
  };
}

/** Bytes under `dir` (the emulators' data: does the daemon's memory follow what they hold?). */
async function diskMiB(dir: string): Promise<number> {
  let bytes = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (entry.isFile())
      bytes += await stat(join(entry.parentPath, entry.name)).then(
        (found) => found.size,
        () => 0,
      );
  }
  return bytes / MIB;
}

function printSample(sample: Sample): void {
  const list = (values: Record<string, number>) =>
    Object.entries(values)
      .map(([name, mib]) => `${name.replace('daemon ', '')} ${mib.toFixed(0)}`)
      .join(', ');
  const memory = Object.keys(sample.rssMiB)
    .map((name) => `${name} ${sample.privateMiB[name]?.toFixed(0)}/${sample.rssMiB[name]?.toFixed(0)}`)
    .join(', ');
  console.log(
    `soak  ${sample.seconds.toFixed(0).padStart(5)} s  ${(sample.rows / 1e6).toFixed(2)} M rows  ` +
      `private/RSS MiB: ${memory}  (daemon: ${list(sample.partsMiB)})`,
  );
}

/** The 1 M-row telescope file every run replays. */
async function generateFile(workDir: string): Promise<string> {
  const file = join(workDir, 'soak.csv');
  await pipeline(
    Readable.from(generateDt({ rows: SOAK_FILE_ROWS, seed: 5050, format: 'csv' })),
    createWriteStream(file),
  );
  return file;
}

/** Uploads `files` copies of `file`, each a run of its own; each replay starts at its upload. */
async function uploadFiles(stack: StackHandle, file: string, files: number, progress: RunProgress) {
  const s3 = createS3Client({ region: LOCAL_REGION, s3Endpoint: stack.info.endpoints.s3 });
  try {
    for (let index = 0; index < files; index++) {
      const key = `dt/soak-${Date.now()}/part-${index}.csv`;
      const etag = await putObjectFromFile(s3, {
        bucket: stack.info.datasetBucket,
        key,
        file,
        metadata: { rate: '0', 'rows-per-record': String(ROWS_PER_RECORD) },
      });
      progress.add(replayRunOf(key, etag));
    }
  } finally {
    s3.destroy();
  }
}

/** One sample: rows aggregated, every process's RSS, the daemon's split and the emulators' disk. */
async function takeSample(
  runtime: RunningRuntime,
  stack: StackHandle,
  broker: { readonly pid: number | undefined; readonly gcLog: GcLogReader },
  started: number,
  progress: RunProgress,
  expected: number,
): Promise<Sample> {
  const rows = await progress.rows(expected);
  const rssMiB: Record<string, number> = {};
  const privateMiB: Record<string, number> = {};
  for (const [name, pid] of Object.entries(processes(runtime, stack, broker.pid))) {
    const memory = await memoryOf(pid);
    if (memory === undefined) continue;
    rssMiB[name] = memory.rss;
    privateMiB[name] = memory.private;
  }
  const partsMiB = {
    ...(await daemonParts(stack, rssMiB['stack daemon'] ?? 0, privateMiB['stack daemon'] ?? 0)),
    'dynamodb data on disk': await diskMiB(join(stack.info.dataDir, 'dynamodb')),
    's3 data on disk': await diskMiB(join(stack.info.dataDir, 's3')),
  };
  const jvmMiB = await broker.gcLog.sample(privateMiB[BROKER]);
  return { seconds: (Date.now() - started) / 1000, rows, rssMiB, privateMiB, partsMiB, jvmMiB };
}

/** Samples until `rows` rows are aggregated (or no count moved for `stallMs`). */
async function sampleUntil(
  runtime: RunningRuntime,
  stack: StackHandle,
  progress: RunProgress,
  rows: number,
  stallMs: number,
) {
  const samples: Sample[] = [];
  const started = Date.now();
  let lastMove = started;
  const broker = {
    pid: await brokerPid(stack.info.pid),
    gcLog: new GcLogReader(kafkaGcLogFile(stack.info.dataDir)),
  };
  for (;;) {
    const sample = await takeSample(runtime, stack, broker, started, progress, rows);
    samples.push(sample);
    printSample(sample);
    if (progress.moved) lastMove = Date.now();
    if (sample.rows >= rows) return { samples, complete: true, gcPauses: broker.gcLog.pauses };
    if (Date.now() - lastMove > stallMs) return { samples, complete: false, gcPauses: broker.gcLog.pauses };
    await new Promise((resolveWait) => setTimeout(resolveWait, SAMPLE_EVERY_MS));
  }
}

/** Prints the series tables and the verdicts (on private memory); returns every fit. */
function report(samples: readonly Sample[]) {
  const tables = [
    ['private memory (RssAnon) MiB per process, by M rows aggregated', series(samples, (s) => s.privateMiB)],
    ['RSS (VmRSS: with mapped files) MiB per process', series(samples, (s) => s.rssMiB)],
    [
      "the stack daemon's process.memoryUsage() and its emulators' data on disk, MiB",
      series(samples, (s) => s.partsMiB),
    ],
    ["the broker JVM's heap from its GC log, MiB", series(samples, (s) => s.jvmMiB)],
  ] as const;
  for (const [title, values] of tables) {
    console.log(`\nsoak  ${title}:`);
    for (const line of seriesTable(values)) console.log(`  ${line}`);
  }
  const [privateMemory, rss, parts, jvm] = tables.map(([, values]) => fitProcesses(values)) as [
    Record<string, ProcessFit>,
    Record<string, ProcessFit>,
    Record<string, ProcessFit>,
    Record<string, ProcessFit>,
  ];
  console.log(`\nsoak  private memory, ${FLATNESS_RULE}:`);
  for (const [name, fit] of Object.entries(privateMemory)) console.log(`  ${verdictLine(name, fit)}`);
  console.log(
    "soak  RSS, the daemon's parts and the JVM's heap, by the same rule (no verdict: where it grows):",
  );
  for (const [name, fit] of [...Object.entries(rss), ...Object.entries(parts), ...Object.entries(jvm)])
    console.log(`  ${verdictLine(name, fit).replace(/^(PASS|FAIL) /, '    ')}`);
  return { privateMemory, rss, parts, jvm };
}

/** The soak's stack: a data folder of its own, every port free ones (it may run beside a stack). */
function soakStack(workDir: string): Promise<StackHandle> {
  return startStack({
    attached: true,
    env: isolatedStackEnvironment(workDir),
  });
}

/** The results as JSON, and the broker's GC log beside them (the stack's folder is deleted). */
async function writeResults(results: Record<string, unknown>, gcLog: string): Promise<string> {
  const date = new Date().toISOString();
  const dir = join(PROJECT_ROOT, 'bench-results');
  await mkdir(dir, { recursive: true });
  const out = join(dir, `soak-${date.replace(/[:.]/g, '-')}.json`);
  await copyFile(gcLog, out.replace(/\.json$/, '-broker-gc.log')).catch(() => undefined);
  await writeFile(out, `${JSON.stringify({ date, ...results }, null, 2)}\n`);
  return out;
}

/**
 * Returns 0 when the run completed and every process stayed flat, 1 otherwise. `files` sets the
 * length (`--soak-files`, bench-soak-report.ts's soakFiles): each file is a million rows.
 */
export async function benchSoak(options: { readonly files: number }): Promise<number> {
  const { files } = options;
  const rows = files * SOAK_FILE_ROWS;
  const workDir = await mkdtemp(join(tmpdir(), 'driftline-soak-'));
  const stack = await soakStack(workDir);
  const runtime = await startPipelineRuntime({
    stack: stack.info,
    cacheDir: join(workDir, 'cache'),
    apiPort: 0,
    log: (line) => console.error(`  runtime: ${line}`),
  });
  try {
    console.log(
      `soak  ${rows / 1e6} M rows (${files} × ${SOAK_FILE_ROWS / 1e6} M, 1000 rows/record, full speed); ` +
        `the runtime's V8 old space at most ${v8.getHeapStatistics().heap_size_limit / 2 ** 20} MiB`,
    );
    const file = await generateFile(workDir);
    // Sampling from the first upload on: the pipeline works while the later files are uploaded.
    const progress = new RunProgress(
      {
        deliveredRecords: () =>
          runtime.stats().triggers.reduce((sum, trigger) => sum + trigger.recordsDelivered, 0),
        runRows: (run) => runRows(runtime.apiUrl, run),
      },
      { rowsPerRecord: ROWS_PER_RECORD, rowsPerRun: SOAK_FILE_ROWS },
    );
    const sampling = sampleUntil(runtime, stack, progress, rows, 120_000);
    await uploadFiles(stack, file, files, progress);
    const { samples, complete, gcPauses } = await sampling;
    const fits = report(samples);
    const flat = Object.values(fits.privateMemory).every((fit) => fit.flat);
    const results = { rows, files, complete, flat, rule: FLATNESS_RULE, ...fits, samples, gcPauses };
    const out = await writeResults(results, kafkaGcLogFile(stack.info.dataDir));
    console.log(`results written to ${out}${complete ? '' : ' (INCOMPLETE: the pipeline stopped moving)'}`);
    return complete && flat ? 0 : 1;
  } finally {
    await runtime.stop();
    await stack.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}
