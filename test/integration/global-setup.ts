/**
 * Starts one local stack for the whole integration run and always stops it. The stack runs
 * `attached`: if this test process dies (Ctrl-C, a killed CI job), the stack notices its parent is
 * gone and shuts itself down, Kafka included.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startStack } from '../../localstack/stack-control.ts';
import type { StackInfo } from '../../localstack/stack-files.ts';
import { isolatedStackEnvironment } from '../support/isolated-stack.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'driftline-it-'));
  const started = Date.now();
  const stack = await startStack({ attached: true, env: isolatedStackEnvironment(dataDir) });
  console.log(`[global-setup] local stack ready in ${Date.now() - started} ms (pid ${stack.info.pid})`);
  project.provide('stack', stack.info);
  return async () => {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
