/**
 * Each function in a sandbox process of its own, on the real local stack: the replay sandbox is
 * SIGKILLed at its second checkpoint and the aggregate sandbox right after a batch's state write;
 * the API, in its own sandbox, keeps answering throughout, each failed invocation is retried as
 * Lambda retries it (the asynchronous replay with its request id, the Kafka batch as a whole), in a
 * fresh sandbox, and every row is counted exactly once.
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
/** Three checkpoints at full speed (every 10,000 rows) and a tail. */
const ROWS = 35_000;
const KEY = `dt/it-${Date.now()}/sandboxes-die.csv`;

const replaysSchema = z.object({
  replays: z.array(z.object({ key: z.string(), status: z.string(), rowsSent: z.number() })),
});
const summarySchema = z.object({ rows: z.number() });

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

describe('functions in sandboxes of their own', () => {
  let test: TestRuntime;
  let faultDir = '';

  beforeAll(async () => {
    faultDir = await mkdtemp(join(tmpdir(), 'driftline-isolation-'));
    test = await startTestRuntime(stack, 'isolation', {
      handlerWrapper: HANDLER_FAULTS_MODULE,
      environment: {
        DRIFTLINE_REPLAY_RATE: '0',
        ...faultEnvironment({ logDir: faultDir, replaySandboxDiesFor: KEY, aggregateSandboxDiesAtCall: 2 }),
      },
    });
  });

  afterAll(async () => {
    await test?.stop();
    if (faultDir) await rm(faultDir, { recursive: true, force: true });
  });

  it('survive a killed replay and a killed aggregate: the API keeps answering, and no row is lost or counted twice', async () => {
    const { runtime, explain } = test;
    const before = runtime.stats().sandboxes;
    const file = join(test.workDir, 'telescope.csv');
    await writeTelescopeCsv(file, ROWS, 91);
    const etag = await putObjectFromFile(clients.s3, {
      bucket: stack.datasetBucket,
      key: KEY,
      file,
      metadata: { 'rows-per-record': '1' },
    });
    const summaryUrl = `${runtime.apiUrl}/api/v1/analyses/dt/summary?run=${encodeURIComponent(replayRunOf(KEY, etag))}`;

    // Every poll is an API request: it must be answered while the other sandboxes die and restart.
    const summary = await pollUntil(
      async () => {
        const body = summarySchema.parse(await getJson(summaryUrl));
        const died =
          (await faultLog(faultDir, 'replay-died')).length +
          (await faultLog(faultDir, 'aggregate-died')).length;
        return body.rows >= ROWS && died === 2 ? body : undefined;
      },
      {
        timeoutMs: 150_000,
        intervalMs: 250,
        what: `${ROWS} rows aggregated after both sandboxes died`,
        explain,
      },
    );
    const replay = await pollUntil(
      async () => {
        const body = replaysSchema.parse(await getJson(`${runtime.apiUrl}/api/v1/replays`));
        const ours = body.replays.find((entry) => entry.key === KEY);
        return ours?.status === 'done' ? ours : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `the replay of ${KEY} to be done`, explain },
    );

    expect(summary.rows).toBe(ROWS);
    expect(replay.rowsSent).toBe(ROWS);
    const after = runtime.stats().sandboxes;
    expect(after.replay).not.toBe(before.replay);
    expect(after.aggregate).not.toBe(before.aggregate);
    expect(after.api).toBe(before.api);
    // The killed replay was retried with its request id (async invoke), and resumed.
    const requests = await faultLog(faultDir, 'replay-requests');
    expect(requests.length).toBeGreaterThanOrEqual(2);
    expect(new Set(requests).size).toBe(1);
    expect(runtime.stats().functions.replay?.failures).toBeGreaterThanOrEqual(1);
    expect(runtime.stats().functions.aggregate?.failures).toBeGreaterThanOrEqual(1);
  });
});
