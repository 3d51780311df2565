/**
 * The sf benchmark: the full SF calls file (199,999 records) at full speed through the exact (sf)
 * and the bounded (sfb) dedup, with the wall time, rows/s, the size of the state at the end and
 * the peak memory of each process.
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { putObjectFromFile } from '../../shared/adapters/s3.ts';
import { createStateStore } from '../../shared/adapters/state-store.ts';
import { loadFunctionConfig } from '../../shared/config.ts';
import { replayRunOf } from '../../shared/pipeline/state-keys.ts';
import { PROJECT_ROOT } from '../service-definition.ts';
import { functionEnvironment, type StackInfo } from '../stack.ts';
import { type BenchStack, summarySchema } from './bench-stack.ts';

type StateStore = ReturnType<typeof createStateStore>;

const SF_TIMEOUT_MS = 900_000;

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

/** Through the overflow layer: the sizes measured are the states', wherever they are kept. */
function sfStateStore(stack: StackInfo): StateStore {
  return createStateStore(
    loadFunctionConfig({
      ...functionEnvironment(stack),
      DRIFTLINE_STATE_TABLE: stack.stateTable,
      DRIFTLINE_STATE_BUCKET: stack.stateBucket,
    }),
  );
}

async function waitForSummaryRows(apiUrl: string, analysis: string, run: string, rows: number) {
  const deadline = Date.now() + SF_TIMEOUT_MS;
  for (;;) {
    const response = await fetch(
      `${apiUrl}/api/v1/analyses/${analysis}/summary?run=${encodeURIComponent(run)}`,
    );
    const body = summarySchema.parse(await response.json());
    if (body.rows >= rows) return;
    if (Date.now() > deadline) throw new Error(`sf bench: only ${body.rows} of ${rows} rows within 900 s`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 250));
  }
}

/** Replays `file` through one analysis and measures its time and the state it leaves. */
async function benchSfAnalysis(
  bench: BenchStack,
  store: StateStore,
  analysis: string,
  file: string,
  rows: number,
) {
  const key = `${analysis}/bench-${Date.now()}/${basename(file)}`;
  const started = Date.now();
  // One JSON record per Kafka message, as the source system produced them.
  const etag = await putObjectFromFile(bench.s3, {
    bucket: bench.info.datasetBucket,
    key,
    file,
    metadata: { rate: '0', 'rows-per-record': '1' },
  });
  const run = replayRunOf(key, etag);
  await waitForSummaryRows(bench.apiUrl, analysis, run, rows);
  const seconds = (Date.now() - started) / 1000;
  const states = (await store.query(`state#${analysis}`)).filter((item) => item.sk.startsWith(`${run}#`));
  const sizes = states.map((item) => JSON.stringify(item.payload).length);
  const total = sizes.reduce((sum, size) => sum + size, 0);
  console.log(
    `sf    ${analysis === 'sf' ? 'exact  ' : 'bounded'} dedup: ${rows} rows in ${seconds.toFixed(1)} s = ${Math.round(rows / seconds)} rows/s; ` +
      `state ${(total / 1024).toFixed(0)} KiB in ${sizes.length} items (largest ${(Math.max(...sizes) / 1024).toFixed(0)} KiB)`,
  );
  return {
    rows,
    seconds,
    rowsPerSecond: rows / seconds,
    stateItems: sizes.length,
    stateBytesTotal: total,
    stateBytesMaxItem: Math.max(...sizes),
  };
}

/**
 * The peak memory of this process (the runtime: the triggers, the gateway, the bench), of each
 * function's sandbox (read while it still runs), the stack's and the Kafka JVM's.
 */
function peakMemory(bench: BenchStack) {
  const kafka = kafkaPid(bench.info.pid);
  const sandboxes = Object.fromEntries(
    Object.entries(bench.sandboxPids()).map(([id, pid]) => [id, peakMemoryMiB(pid)]),
  );
  const memory = {
    runtimeMiB: process.resourceUsage().maxRSS / 1024,
    sandboxesMiB: sandboxes,
    stackMiB: peakMemoryMiB(bench.info.pid),
    kafkaMiB: kafka === undefined ? undefined : peakMemoryMiB(kafka),
  };
  const each = Object.entries(sandboxes)
    .map(([id, mib]) => `${id} ${mib?.toFixed(0) ?? '?'} MiB`)
    .join(', ');
  console.log(
    `sf    peak memory: runtime (triggers, gateway, bench) ${memory.runtimeMiB.toFixed(0)} MiB, ` +
      `sandboxes: ${each}, emulators ${memory.stackMiB?.toFixed(0) ?? '?'} MiB, ` +
      `Kafka JVM ${memory.kafkaMiB?.toFixed(0) ?? '?'} MiB`,
  );
  return memory;
}

export async function benchSf(bench: BenchStack, quick: boolean) {
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
  await putObjectFromFile(bench.s3, {
    bucket: bench.info.datasetBucket,
    key: 'sf/radio_code.json',
    file: join(dataDir, 'radio_code.json'),
  });
  const rows = quick ? 2_000 : 199_999;
  const store = sfStateStore(bench.info);
  const results: Record<string, unknown> = {};
  for (const analysis of ['sf', 'sfb'])
    results[analysis] = await benchSfAnalysis(bench, store, analysis, file, rows);
  return { ...results, peakMemory: peakMemory(bench) };
}
