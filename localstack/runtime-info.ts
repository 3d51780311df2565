/**
 * Where the pipeline of `npm start` can be found by other commands (`driftline replay`): the demo
 * writes `runtime.json` in the data folder beside the stack's `stack.json` once its runtime answers,
 * and removes it when it stops. The stack (emulators, Kafka) can run without a pipeline
 * (`driftline stack up`); a file put in the bucket is replayed only while a pipeline runs.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

const runtimeInfoSchema = z.object({
  pid: z.number().int(),
  apiUrl: z.string(),
  startedAt: z.string(),
});
export type RuntimeInfo = z.infer<typeof runtimeInfoSchema>;

function runtimeInfoFile(dataDir: string): string {
  return join(dataDir, 'runtime.json');
}

export async function writeRuntimeInfo(dataDir: string, apiUrl: string): Promise<void> {
  const info: RuntimeInfo = { pid: process.pid, apiUrl, startedAt: new Date().toISOString() };
  await writeFile(runtimeInfoFile(dataDir), `${JSON.stringify(info, null, 2)}\n`);
}

/** Removes the file if it is this process's (a second demo on the same stack keeps its own). */
export async function removeRuntimeInfo(dataDir: string): Promise<void> {
  const info = await readRuntimeFile(dataDir);
  if (info?.pid === process.pid) await rm(runtimeInfoFile(dataDir), { force: true });
}

async function readRuntimeFile(dataDir: string): Promise<RuntimeInfo | undefined> {
  try {
    return runtimeInfoSchema.parse(JSON.parse(await readFile(runtimeInfoFile(dataDir), 'utf8')));
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running pipeline of this data folder: its file names a live process whose API answers. */
export async function readRuntimeInfo(dataDir: string): Promise<RuntimeInfo | undefined> {
  const info = await readRuntimeFile(dataDir);
  if (!info || !isAlive(info.pid)) return undefined;
  try {
    const response = await fetch(`${info.apiUrl}/api/v1/analyses`, { signal: AbortSignal.timeout(5_000) });
    return response.ok ? info : undefined;
  } catch {
    return undefined;
  }
}
