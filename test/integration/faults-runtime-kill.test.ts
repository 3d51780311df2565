/**
 * Fault-injection suite: the runtime process SIGKILLed mid-batch — after aggregate wrote its state
 * and published its summary, before the trigger committed the batch's offsets — then started
 * again. The runtime runs in a process of its own (test/support/faults/runtime-runner.ts); the
 * handler wrapper kill-after-state-write.ts kills its whole process group at that moment, once.
 * The restarted runtime gets the same batch again: it must apply nothing twice, publish the same
 * summary under the same id, and drain every partition; the totals equal `driftline analyze`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { PROJECT_ROOT } from '../../localstack/service-definition.ts';
import { putObjectFromFile } from '../../shared/adapters/s3.ts';
import { replayRunOf } from '../../shared/pipeline/state-keys.ts';
import { type DemoProcess, startProcess } from '../support/demo-process.ts';
import {
  analyzeOffline,
  cleanIdsWithTwoBodies,
  waitForPartitionsDrained,
  waitForRunRows,
} from '../support/fault-checks.ts';
import { pollUntil, stackClients } from '../support/stack-clients.ts';
import { startTestRuntime, type TestRuntime, writeTelescopeCsv } from '../support/test-runtime.ts';

const stack = inject('stack');
const clients = stackClients(stack);
const ROWS = 30_000;
const WRAPPER = join(PROJECT_ROOT, 'test/support/faults/kill-after-state-write.ts');

function startRunner(marker: string): DemoProcess {
  return startProcess({
    command: process.execPath,
    args: ['--import', 'tsx', join(PROJECT_ROOT, 'test/support/faults/runtime-runner.ts'), WRAPPER],
    cwd: PROJECT_ROOT,
    env: {
      DRIFTLINE_TEST_STACK: JSON.stringify(stack),
      DRIFTLINE_FAULT_KILL_MARKER: marker,
      DRIFTLINE_FAULT_KILL_AT: '1',
    },
    dropInherited: /^DRIFTLINE_/,
  });
}

describe('faults: the runtime killed after a state write, before the offset commit', () => {
  let replayer: TestRuntime | undefined;
  const runners: DemoProcess[] = [];
  // The file and the marker outlive the replaying runtime (whose work folder goes with it).
  let workDir = '';

  afterAll(async () => {
    await replayer?.stop();
    for (const runner of runners) await runner.kill();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('the restarted runtime applies nothing twice; totals equal driftline analyze', async () => {
    // Arrange: the file replayed into data_raw by a runtime whose triggers never start
    workDir = await mkdtemp(join(tmpdir(), 'driftline-faults-kill-'));
    replayer = await startTestRuntime(stack, 'faults-kill', { kafkaTriggers: { paused: true } });
    const file = join(workDir, 'telescope.csv');
    await writeTelescopeCsv(file, ROWS, 4401);
    const key = `dt/faults-kill-${Date.now()}/telescope.csv`;
    const etag = await putObjectFromFile(clients.s3, { bucket: stack.datasetBucket, key, file });
    const run = replayRunOf(key, etag);
    const replays = z.object({ replays: z.array(z.object({ key: z.string(), status: z.string() })) });
    const apiOfReplayer = replayer.runtime.apiUrl;
    await pollUntil(
      async () => {
        const answer = replays.parse(await (await fetch(`${apiOfReplayer}/api/v1/replays`)).json());
        return answer.replays.some((replay) => replay.key === key && replay.status === 'done') || undefined;
      },
      {
        timeoutMs: 120_000,
        intervalMs: 250,
        what: `the replay of ${key} to finish`,
        explain: replayer.explain,
      },
    );
    await replayer.stop();
    replayer = undefined;
    const marker = join(workDir, 'killed');

    // Act: a runtime that kills itself after its first aggregate invocation, then a new one
    const doomed = startRunner(marker);
    runners.push(doomed);
    const ending = await Promise.race([
      doomed.exited,
      new Promise((resolveLate) => setTimeout(() => resolveLate('still running after 120 s'), 120_000)),
    ]);
    expect(ending, doomed.tail(80)).toBe('SIGKILL');
    expect(existsSync(marker)).toBe(true);
    const restarted = startRunner(marker);
    runners.push(restarted);
    const apiUrl = await restarted.apiUrl(60_000);

    // Assert
    const summary = await waitForRunRows({
      apiUrl: () => apiUrl,
      run,
      rows: ROWS,
      explain: () => restarted.tail(60),
    });
    expect(summary.rows).toBe(ROWS);
    expect(summary.summary).toEqual(await analyzeOffline(file));
    await waitForPartitionsDrained({
      kafka: clients.kafka,
      stack,
      topic: 'data_raw',
      explain: () => restarted.tail(60),
    });
    expect(await cleanIdsWithTwoBodies(clients.kafka, clients.config.topics.clean)).toEqual([]);
  }, 420_000);
});
