/**
 * A replay whose invocation died holding its lease (a process killed mid-replay: no checkpoint
 * written on the way out), on the real local stack. Its lease outlives the runtime's start, so the
 * look at start leaves it alone; the running runtime must pick it up once the lease expires and
 * take it to the end from its checkpoint — not leave it "running" for ever.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { putObjectFromFile } from '../../shared/adapters/s3.ts';
import { createStateStore } from '../../shared/adapters/state-store.ts';
import {
  CheckpointWriter,
  checkpointRowsFor,
  type ReplayProgress,
} from '../../shared/pipeline/replay/checkpoint.ts';
import { replayKey, replayRunOf } from '../../shared/pipeline/state-keys.ts';
import { pollUntil, stackClients } from '../support/stack-clients.ts';
import { startTestRuntime, type TestRuntime, writeTelescopeCsv } from '../support/test-runtime.ts';

const stack = inject('stack');
const clients = stackClients(stack);
const ROWS = 20_000;
const KEY = `dt/it-${Date.now()}/holder-died.csv`;
/**
 * The dead holder's lease as left: long enough to outlive the runtime's start however loaded the
 * machine is, so that the object's S3 event finds it held. The test ends it once that event's
 * invocation has come and gone (as the lease would run out), and the runtime's watch must continue.
 */
const LEASE_HELD_MS = 10 * 60_000;

const replaysSchema = z.object({
  replays: z.array(
    z.object({
      key: z.string(),
      run: z.string(),
      status: z.string(),
      rowsSent: z.number(),
      invocations: z.number(),
    }),
  ),
});
const summarySchema = z.object({ rows: z.number() });

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

/** What a replay that took its lease and died before its first checkpoint leaves behind. */
function abandonedCheckpoint(
  etag: string,
  size: number,
  nowMs: number,
  leaseUntilMs: number,
): ReplayProgress {
  const partitions = stack.topics.find((topic) => topic.name === 'data_raw')?.partitions ?? 10;
  return {
    bucket: stack.datasetBucket,
    key: KEY,
    etag,
    analysis: 'dt',
    run: replayRunOf(KEY, etag),
    status: 'running',
    rowsPerRecord: 1,
    rate: 0,
    checkpointRows: checkpointRowsFor(1, partitions, 0),
    rowsSent: 0,
    recordsSent: 0,
    sequences: new Array<number>(partitions).fill(0),
    objectBytes: size,
    bytesRead: 0,
    startedAtMs: nowMs,
    updatedAtMs: nowMs,
    leaseOwner: 'an-invocation-whose-process-was-killed',
    leaseUntilMs,
    invocations: 1,
  };
}

describe('a replay whose holder died', () => {
  let test: TestRuntime | undefined;
  let workDir = '';
  let abandoned: ReplayProgress | undefined;
  let checkpoint: CheckpointWriter | undefined;

  beforeAll(async () => {
    // The file, its checkpoint as the dead invocation left it, then the object (its S3 event finds
    // the object held, as a duplicated event would): all before the runtime starts.
    workDir = await mkdtemp(join(tmpdir(), 'driftline-holder-died-'));
    const file = join(workDir, 'telescope.csv');
    await writeTelescopeCsv(file, ROWS, 91);
    const md5 = createHash('md5')
      .update(await readFile(file))
      .digest('hex');
    const store = createStateStore(clients.config);
    const nowMs = Date.now();
    abandoned = abandonedCheckpoint(md5, (await stat(file)).size, nowMs, nowMs + LEASE_HELD_MS);
    checkpoint = new CheckpointWriter(store, replayKey(stack.datasetBucket, KEY), undefined);
    expect(await checkpoint.write(abandoned)).toBe(true);
    const etag = await putObjectFromFile(clients.s3, { bucket: stack.datasetBucket, key: KEY, file });
    // s3rver's ETag of a single PUT is the body's MD5, as S3's.
    expect(etag).toBe(md5);
    test = await startTestRuntime(stack, 'holder-died');
  });

  afterAll(async () => {
    await test?.stop();
    clients.s3.destroy();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('is continued by the running runtime once its lease expires, and finishes with every row once', async () => {
    if (!test) throw new Error('no runtime');
    const { runtime, explain } = test;
    // The S3 event's invocation finds the object held and leaves it; then the lease runs out.
    await pollUntil(
      async () => {
        const replays = runtime.stats().functions.replay;
        return replays && replays.invocations >= 1 && replays.running === 0 ? true : undefined;
      },
      {
        timeoutMs: 120_000,
        intervalMs: 100,
        what: "the S3 event's replay invocation to leave the held object",
        explain,
      },
    );
    if (!abandoned || !checkpoint) throw new Error('no checkpoint');
    expect(await checkpoint.write({ ...abandoned, leaseUntilMs: Date.now() })).toBe(true);
    const replay = await pollUntil(
      async () => {
        const body = replaysSchema.parse(await getJson(`${runtime.apiUrl}/api/v1/replays`));
        const ours = body.replays.find((entry) => entry.key === KEY);
        return ours?.status === 'done' ? ours : undefined;
      },
      {
        timeoutMs: 90_000,
        intervalMs: 250,
        what: `the abandoned replay of ${KEY} to be continued and finish`,
        explain,
      },
    );
    expect(replay.rowsSent).toBe(ROWS);
    // The dead one, then the continuation (the S3 event found the object held and left it).
    expect(replay.invocations).toBe(2);
    expect(await explain()).toContain(
      `continuing the unfinished replay of s3://${stack.datasetBucket}/${KEY}`,
    );

    const summaryUrl = `${runtime.apiUrl}/api/v1/analyses/dt/summary?run=${encodeURIComponent(replay.run)}`;
    const summary = await pollUntil(
      async () => {
        const answer = summarySchema.parse(await getJson(summaryUrl));
        return answer.rows >= ROWS ? answer : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `${ROWS} rows aggregated`, explain },
    );
    expect(summary.rows).toBe(ROWS);
  });
});
