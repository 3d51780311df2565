/**
 * A local pipeline runtime for one integration test file: its own work folder, full speed replay
 * unless told otherwise, and diagnostics that explain a failed wait. Stop it in `afterAll`.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type RunningRuntime, type RuntimeOptions, startPipelineRuntime } from '../../localstack/runtime.ts';
import type { StackInfo } from '../../localstack/stack-files.ts';
import { generateDt } from '../../shared/analyses/dt/generator.ts';
import { runtimeDiagnostics } from './runtime-diagnostics.ts';

export interface TestRuntime {
  readonly runtime: RunningRuntime;
  /** A temporary folder of this runtime's, removed by `stop`. */
  readonly workDir: string;
  /** For pollUntil / pollWhileProgressing: replays, invocation counters, the runtime's last log lines. */
  readonly explain: () => Promise<string>;
  stop(): Promise<void>;
}

export async function startTestRuntime(
  stack: StackInfo,
  label: string,
  options: Partial<Omit<RuntimeOptions, 'stack' | 'cacheDir' | 'log'>> = {},
): Promise<TestRuntime> {
  const workDir = await mkdtemp(join(tmpdir(), `driftline-${label}-`));
  const diagnostics = runtimeDiagnostics();
  const runtime = await startPipelineRuntime({
    apiPort: 0,
    environment: { DRIFTLINE_REPLAY_RATE: '0' },
    ...options,
    stack,
    cacheDir: join(workDir, 'cache'),
    log: diagnostics.log,
  });
  diagnostics.attach(runtime);
  return {
    runtime,
    workDir,
    explain: diagnostics.explain,
    async stop() {
      await runtime.stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

/** A generated telescope file (CSV) of `rows` rows: the same file for the same seed. */
export async function writeTelescopeCsv(file: string, rows: number, seed: number): Promise<void> {
  await pipeline(Readable.from(generateDt({ rows, seed, format: 'csv' })), createWriteStream(file));
}
