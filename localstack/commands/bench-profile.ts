/**
 * `driftline bench --profile`: where the time of one row goes, per process. An e2e run at 1 row per
 * message, profiled in every process of the runtime: this one (the inspector's Profiler: the local
 * MSK trigger, the S3 trigger, the gateway) and each function's sandbox (`--cpu-prof`: it writes its
 * profile when it exits at the runtime's stop). Only the samples within the run's window count (V8's
 * profile timestamps are the system's monotonic clock, the same in every process); they are
 * attributed to pipeline stages and printed as µs per row.
 *
 * A sample belongs to the innermost stage frame on its stack (shared code — analyses, adapters — is
 * charged to the stage that called it). Samples whose stack holds no stage frame (kafkajs reading a
 * socket, an SDK response parsed after an await) are charged by where they ran: those are the I/O
 * callbacks that async stacks cut loose from their caller.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../service-definition.ts';
import { BenchStack } from './bench-stack.ts';

/** The parts of a V8 CPU profile used here (Profiler.Profile). */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string };
    readonly children?: readonly number[];
  }[];
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

/** Stage frames, by the project file they run in. */
const STAGES: readonly [string, RegExp][] = [
  [
    'sandbox IPC (events and results to and from the sandbox)',
    /\/localstack\/(function-sandbox|sandbox-host|sandbox-protocol)\.ts/,
  ],
  [
    'replay (S3 read, framing, packing, produce)',
    /\/functions\/replay\.ts|\/shared\/pipeline\/replay|\/localstack\/s3-trigger/,
  ],
  ['local MSK trigger (fetch, buffer, event build)', /\/localstack\/(msk-[\w-]+|trigger-buffer)\.ts/],
  [
    'aggregate (decode, fold, state, summary)',
    /\/functions\/aggregate\.ts|\/shared\/pipeline\/(aggregate|msk-event|batch-slice)/,
  ],
  [
    'api (the bench polling the summary)',
    /\/functions\/api\.ts|\/shared\/pipeline\/http-api|\/localstack\/http-gateway/,
  ],
];

/** Where a sample with no stage frame ran. */
const LEAF_CATEGORIES: readonly [string, RegExp][] = [
  [
    "kafkajs encoding produce requests (mostly replay's)",
    /kafkajs\/src\/(producer\/|protocol\/requests\/produce\/|protocol\/encoder|protocol\/recordBatch\/(record\/v0\/index|crc32C|v0\/index))/,
  ],
  [
    "kafkajs decoding fetches (the trigger's)",
    /kafkajs\/src\/(consumer\/|protocol\/requests\/fetch\/|protocol\/(decoder|recordBatch\/.*decoder))/,
  ],
  ['kafkajs, other (network, long, metadata)', /node_modules\/kafkajs\//],
  ['AWS SDK, outside any stage (HTTP to S3/DynamoDB)', /node_modules\/@(aws-sdk|smithy|aws-crypto)\//],
  ['zod validation, outside any stage', /node_modules\/zod\//],
  ['Node internals and native (buffers, sockets, microtasks)', /^node:|^$/],
];

function leafCategory(functionName: string, url: string): string {
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)' || functionName === '(root)') return 'V8/native (program)';
  for (const [name, pattern] of LEAF_CATEGORIES) if (pattern.test(url)) return name;
  return 'other';
}

/** A span of V8's monotonic clock, in µs (a profile's startTime and endTime). */
export interface ProfileWindow {
  readonly startMicros: number;
  readonly endMicros: number;
}

/** Microseconds of samples per stage over the profile, or over those of its samples in `window`. */
export function stageTimes(profile: CpuProfile, window?: ProfileWindow): Map<string, number> {
  const parent = new Map<number, number>();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const stageOf = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = stageOf.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    let stage: string | undefined;
    for (
      let current: number | undefined = id;
      current !== undefined && !stage;
      current = parent.get(current)
    ) {
      const url = byId.get(current)?.callFrame.url ?? '';
      stage = STAGES.find(([, pattern]) => pattern.test(url))?.[0];
    }
    const result = stage ?? leafCategory(node?.callFrame.functionName ?? '', node?.callFrame.url ?? '');
    stageOf.set(id, result);
    return result;
  };
  const times = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let timestamp = profile.startTime;
  for (let index = 0; index < samples.length; index++) {
    // timeDeltas[i] is the time before sample i; the sample stands for the time up to the next one.
    timestamp += deltas[index] ?? 0;
    if (window && (timestamp < window.startMicros || timestamp >= window.endMicros)) continue;
    const micros = deltas[index + 1] ?? 0;
    const stage = resolve(samples[index] as number);
    times.set(stage, (times.get(stage) ?? 0) + Math.max(0, micros));
  }
  return times;
}

/** µs per row of each stage, the largest first, idle left out (it is waiting, not work). */
export function perRowBreakdown(
  profile: CpuProfile,
  rows: number,
  window?: ProfileWindow,
): { stage: string; microsPerRow: number }[] {
  return [...stageTimes(profile, window)]
    .filter(([stage]) => stage !== 'idle')
    .map(([stage, micros]) => ({ stage, microsPerRow: micros / rows }))
    .sort((a, b) => b.microsPerRow - a.microsPerRow);
}

/**
 * The pid in the `--cpu-prof` file name of a main thread's profile
 * (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile); undefined for other threads' (tsx's module
 * loader thread, busy only at init) and other files.
 */
export function mainThreadProfilePid(fileName: string): number | undefined {
  const match = /^CPU\.\d+\.\d+\.(\d+)\.0\.\d+\.cpuprofile$/.exec(fileName);
  return match ? Number(match[1]) : undefined;
}

/** µs per row of each stage in each process, the stages ordered by their sum over the processes. */
export function perProcessBreakdown(
  profiles: ReadonlyMap<string, CpuProfile>,
  rows: number,
  window: ProfileWindow,
): { processes: string[]; rows: { stage: string; microsPerRow: number[] }[]; busy: number[] } {
  const processes = [...profiles.keys()];
  const byProcess = processes.map((name) => perRowBreakdown(profiles.get(name) as CpuProfile, rows, window));
  const stages = new Map<string, number[]>();
  byProcess.forEach((breakdown, column) => {
    for (const { stage, microsPerRow } of breakdown) {
      const cells = stages.get(stage) ?? processes.map(() => 0);
      cells[column] = microsPerRow;
      stages.set(stage, cells);
    }
  });
  const sum = (cells: readonly number[]) => cells.reduce((total, cell) => total + cell, 0);
  return {
    processes,
    rows: [...stages]
      .map(([stage, microsPerRow]) => ({ stage, microsPerRow }))
      .sort((a, b) => sum(b.microsPerRow) - sum(a.microsPerRow)),
    busy: byProcess.map((breakdown) => sum(breakdown.map((entry) => entry.microsPerRow))),
  };
}

/** The sandboxes' profiles in `dir`, named by their function (by pid), else by the pid. */
async function sandboxProfiles(
  dir: string,
  pids: Readonly<Record<string, number>>,
): Promise<Map<string, CpuProfile>> {
  const functionOf = new Map(Object.entries(pids).map(([id, pid]) => [pid, id]));
  const profiles = new Map<string, CpuProfile>();
  for (const file of (await readdir(dir)).sort()) {
    const pid = mainThreadProfilePid(file);
    if (pid === undefined) continue;
    const name = `${functionOf.get(pid) ?? `pid ${pid}`} sandbox`;
    profiles.set(name, JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile);
  }
  return profiles;
}

/** One profiled e2e run at `rowsPerRecord` rows per message (1, or 1000 for the packed case), full speed. */
export async function benchProfile(rows: number, rowsPerRecord = 1): Promise<number> {
  const dir = join(
    PROJECT_ROOT,
    'bench-results',
    `profile-${new Date().toISOString().replace(/[:.]/g, '-')}`,
  );
  await mkdir(dir, { recursive: true });
  const bench = await BenchStack.start({
    sandboxExecArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=200'],
  });
  const session = new Session();
  session.connect();
  let measured: { profile: CpuProfile; wallMs: number; pids: Record<string, number> };
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    const file = await bench.generate(rows, 900);
    await session.post('Profiler.start');
    const { run, started } = await bench.put(file, 900, {
      rate: '0',
      'rows-per-record': String(rowsPerRecord),
    });
    const finished = await bench.waitForRows(run, rows, 600_000);
    const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
    measured = { profile, wallMs: finished - started, pids: bench.sandboxPids() };
  } finally {
    session.disconnect();
    // The sandboxes write their profiles as they exit.
    await bench.stop();
  }
  await writeFile(join(dir, 'runtime.cpuprofile'), JSON.stringify(measured.profile));
  await writeFile(
    join(dir, 'sandboxes.json'),
    JSON.stringify({ pids: measured.pids, rows, rowsPerRecord, wallMs: measured.wallMs }),
  );
  const profiles = new Map([
    ['runtime (triggers, gateway)', measured.profile],
    ...(await sandboxProfiles(dir, measured.pids)),
  ]);
  const window = { startMicros: measured.profile.startTime, endMicros: measured.profile.endTime };
  printBreakdown(perProcessBreakdown(profiles, rows, window), { rows, rowsPerRecord }, measured.wallMs);
  console.log(`prof  profiles written to ${dir} (open them in Chrome DevTools or speedscope)`);
  return 0;
}

function printBreakdown(
  breakdown: ReturnType<typeof perProcessBreakdown>,
  { rows, rowsPerRecord }: { readonly rows: number; readonly rowsPerRecord: number },
  wallMs: number,
): void {
  const wallPerRow = (wallMs * 1000) / rows;
  console.log(
    `prof  ${rows} rows, ${rowsPerRecord} row(s)/record, full speed: ${Math.round(rows / (wallMs / 1000))} rows/s, ` +
      `${wallPerRow.toFixed(1)} µs of wall time per row; µs/row busy per process:`,
  );
  console.log(`prof    ${breakdown.processes.map((name) => name.padStart(12)).join(' | ')}  stage`);
  const cells = (values: readonly number[]) =>
    values.map((value) => value.toFixed(2).padStart(12)).join(' | ');
  for (const { stage, microsPerRow } of breakdown.rows)
    console.log(`prof    ${cells(microsPerRow)}  ${stage}`);
  console.log(`prof    ${cells(breakdown.busy)}  busy in all (the rest of the wall time: idle)`);
  const shares = breakdown.busy.map((busy) => `${Math.round((100 * busy) / wallPerRow)} %`);
  console.log(`prof    ${shares.map((share) => share.padStart(12)).join(' | ')}  of the wall time`);
}
