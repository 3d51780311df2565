/**
 * A replay that fails half-way, on the real local stack. Lambda retries a failed asynchronous
 * invocation twice, with the same request id; the retry must resume the object from its last
 * checkpoint (not find it "held" by the failed attempt and give up), and the rows the failed attempt
 * sent after that checkpoint, sent again, must not be counted twice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { putObjectFromFile } from '../../shared/adapters/s3.ts';
import { replayRunOf } from '../../shared/pipeline/state-keys.ts';
import { faultEnvironment, faultLog, HANDLER_FAULTS_MODULE } from '../support/handler-faults.ts';
import { pollUntil, stackClients } from '../support/stack-clients.ts';
import { startTestRuntime, type TestRuntime, writeTelescopeCsv } from '../support/test-runtime.ts';

const stack = inject('stack');
const clients = stackClients(stack);
/** Three checkpoints (every 10,000 rows at full speed with one row per record) and a tail. */
const ROWS = 35_000;
const KEY = `dt/it-${Date.now()}/crashes-once.csv`;

const replaysSchema = z.object({
  replays: z.array(
    z.object({ key: z.string(), status: z.string(), rowsSent: z.number(), invocations: z.number() }),
  ),
});
const summarySchema = z.object({ rows: z.number(), summary: z.object({ hit_count: z.number() }) });

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

describe('a replay that fails half-way', () => {
  let test: TestRuntime;
  let faultDir = '';

  beforeAll(async () => {
    // The first replay attempt dies at its second checkpoint: after the rows up to it were sent,
    // before the checkpoint was written (test/support/handler-faults.ts).
    faultDir = await mkdtemp(join(tmpdir(), 'driftline-retry-faults-'));
    test = await startTestRuntime(stack, 'retry', {
      handlerWrapper: HANDLER_FAULTS_MODULE,
      environment: {
        DRIFTLINE_REPLAY_RATE: '0',
        ...faultEnvironment({ logDir: faultDir, replayCrashesFor: KEY }),
      },
    });
  });

  afterAll(async () => {
    await test?.stop();
    if (faultDir) await rm(faultDir, { recursive: true, force: true });
  });

  it('is resumed by the retry, which keeps the request id, and no row is counted twice', async () => {
    const { runtime, explain } = test;
    const file = join(test.workDir, 'telescope.csv');
    await writeTelescopeCsv(file, ROWS, 77);
    const key = KEY;
    const etag = await putObjectFromFile(clients.s3, {
      bucket: stack.datasetBucket,
      key,
      file,
      metadata: { 'rows-per-record': '1' },
    });
    const run = replayRunOf(key, etag);

    const replay = await pollUntil(
      async () => {
        const body = replaysSchema.parse(await getJson(`${runtime.apiUrl}/api/v1/replays`));
        const ours = body.replays.find((entry) => entry.key === key);
        return ours?.status === 'done' ? ours : undefined;
      },
      {
        timeoutMs: 120_000,
        intervalMs: 250,
        what: `the replay of ${key} to finish`,
        explain,
      },
    );
    const summaryUrl = `${runtime.apiUrl}/api/v1/analyses/dt/summary?run=${encodeURIComponent(run)}`;
    const summary = await pollUntil(
      async () => {
        const body = summarySchema.parse(await getJson(summaryUrl));
        return body.rows >= ROWS ? body : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250, what: `${ROWS} rows aggregated`, explain },
    );

    expect(await faultLog(faultDir, 'replay-crashed')).toHaveLength(1);
    expect(replay).toMatchObject({ status: 'done', rowsSent: ROWS, invocations: 2 });
    const replayRequestIds = await faultLog(faultDir, 'replay-requests');
    expect(replayRequestIds).toHaveLength(2);
    expect(replayRequestIds[1]).toBe(replayRequestIds[0]);
    // Rows 10,001–20,000 went out twice (before the crash and after the resume); counted once.
    expect(summary.rows).toBe(ROWS);
  });
});
