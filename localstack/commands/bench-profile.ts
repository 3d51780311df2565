/**
 * `driftline bench --profile`: where the time of one row goes. A CPU profile (the inspector's
 * Profiler, in this process: replay, the local MSK trigger and aggregate all run here) of an e2e
 * run at 1 row per message, its samples attributed to pipeline stages, printed as µs per row.
 *
 * A sample belongs to the innermost stage frame on its stack (shared code — analyses, adapters — is
 * charged to the stage that called it). Samples whose stack holds no stage frame (kafkajs reading a
 * socket, an SDK response parsed after an await) are charged by where they ran: those are the I/O
 * callbacks that async stacks cut loose from their caller.
 */
import { mkdir, writeFile } from 'node:fs/promises';
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

/** Microseconds of samples per stage over the profile. */
export function stageTimes(profile: CpuProfile): Map<string, number> {
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
  for (let index = 0; index < samples.length; index++) {
    // timeDeltas[i] is the time before sample i; the sample stands for the time up to the next one.
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
): { stage: string; microsPerRow: number }[] {
  return [...stageTimes(profile)]
    .filter(([stage]) => stage !== 'idle')
    .map(([stage, micros]) => ({ stage, microsPerRow: micros / rows }))
    .sort((a, b) => b.microsPerRow - a.microsPerRow);
}

/** One profiled e2e run at 1 row per message, full speed. */
export async function benchProfile(rows: number): Promise<number> {
  const bench = await BenchStack.start();
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    const file = await bench.generate(rows, 900);
    await session.post('Profiler.start');
    const { run, started } = await bench.put(file, 900, { rate: '0', 'rows-per-record': '1' });
    const finished = await bench.waitForRows(run, rows, 600_000);
    const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
    const wallMicros = (finished - started) * 1000;
    const breakdown = perRowBreakdown(profile, rows);
    const profileFile = join(
      PROJECT_ROOT,
      'bench-results',
      `profile-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`,
    );
    await mkdir(join(PROJECT_ROOT, 'bench-results'), { recursive: true });
    await writeFile(profileFile, JSON.stringify(profile));
    console.log(
      `prof  ${rows} rows, 1 row/record, full speed: ${Math.round(rows / ((finished - started) / 1000))} rows/s, ` +
        `${(wallMicros / rows).toFixed(1)} µs of wall time per row on this process's one thread:`,
    );
    for (const { stage, microsPerRow } of breakdown)
      console.log(`prof    ${microsPerRow.toFixed(2).padStart(7)} µs/row  ${stage}`);
    const busy = breakdown.reduce((sum, entry) => sum + entry.microsPerRow, 0);
    console.log(
      `prof    ${busy.toFixed(2).padStart(7)} µs/row  busy in all (the rest of the wall time: idle)`,
    );
    console.log(`prof  profile written to ${profileFile} (open it in Chrome DevTools or speedscope)`);
  } finally {
    session.disconnect();
    await bench.stop();
  }
  return 0;
}
