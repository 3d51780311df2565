/**
 * The dt pipeline end to end on the real local stack: S3 → replay → Kafka → aggregate → DynamoDB →
 * data_clean → API, with the same handlers and wiring as `npm start`. The cumulative totals must
 * equal `driftline analyze` over the same file, even though aggregate fails once after having
 * written its state (the trigger retries the whole batch) and the S3 event is delivered twice.
 */
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import type { RunningRuntime } from '../../localstack/runtime.ts';
import { encodeNotificationKey } from '../../localstack/s3-notifications.ts';
import { PROJECT_ROOT } from '../../localstack/service-definition.ts';
import { putObjectFromFile } from '../../shared/adapters/s3.ts';
import { faultEnvironment, faultLog, HANDLER_FAULTS_MODULE } from '../support/handler-faults.ts';
import { pollUntil, pollWhileProgressing, stackClients } from '../support/stack-clients.ts';
import { startTestRuntime, type TestRuntime, writeTelescopeCsv } from '../support/test-runtime.ts';

const execFileAsync = promisify(execFile);
const stack = inject('stack');
const clients = stackClients(stack);
const ROWS = 200_000;

/** The documented data_clean message (README "data_clean message"), checked independently here. */
const histogram = z
  .object({ bin_edges: z.array(z.number()), bin_counts: z.array(z.number().int().min(0)) })
  .refine((value) => value.bin_edges.length === value.bin_counts.length + 1, 'n+1 edges for n counts');
const cleanMessage = z.object({
  msg_ID: z.string().regex(/^data_raw-\d+-\d+-\d+/),
  analysis: z.literal('dt'),
  run: z.string(),
  hit_count: z.number().int().min(0),
  hit_count_chamber: z.array(z.number().int().min(0)).length(4),
  chambers: z
    .array(
      z.object({
        chamber: z.number().int(),
        occupancy: histogram,
        multiplicity: histogram,
        gated_occupancy: histogram,
        drift_time_ns: histogram,
      }),
    )
    .length(4),
  rows_rejected: z.number().int().min(0),
  progress: z.object({
    numInputRows: z.number().int().min(0),
    inputRowsPerSecond: z.number(),
    processedRowsPerSecond: z.number(),
    startOffset: z.number().int(),
    endOffset: z.number().int(),
    lagMs: z.object({ min: z.number(), max: z.number(), avg: z.number() }),
    durationMs: z.record(z.string(), z.number()),
  }),
});

async function analyzeOffline(file: string): Promise<Record<string, unknown>> {
  const { stdout } = await execFileAsync(
    process.execPath,
    [join(PROJECT_ROOT, 'localstack/driftline.mjs'), 'analyze', 'dt', file],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const lines = stdout.trim().split('\n');
  const last = JSON.parse(lines[lines.length - 1] ?? '{}');
  return last.cumulative;
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

describe('the dt pipeline on the local stack', () => {
  let workDir = '';
  let runtime: RunningRuntime;
  let test: TestRuntime;
  let faultDir = '';

  beforeAll(async () => {
    // The 3rd aggregate invocation fails *after* it has written state and published its summary.
    faultDir = await mkdtemp(join(tmpdir(), 'driftline-dt-faults-'));
    test = await startTestRuntime(stack, 'dt', {
      handlerWrapper: HANDLER_FAULTS_MODULE,
      environment: {
        DRIFTLINE_REPLAY_RATE: '0',
        ...faultEnvironment({ logDir: faultDir, aggregateFailsCall: 3 }),
      },
    });
    ({ runtime, workDir } = test);
  });

  afterAll(async () => {
    await test?.stop();
    if (faultDir) await rm(faultDir, { recursive: true, force: true });
  });

  it('matches driftline analyze exactly, with a retried batch and a duplicated S3 event', async () => {
    const file = join(workDir, 'telescope.csv');
    await writeTelescopeCsv(file, ROWS, 20261121);
    const key = `dt/it-${Date.now()}/telescope run.csv`;

    const etag = await putObjectFromFile(clients.s3, { bucket: stack.datasetBucket, key, file });
    const run = `${key}@${etag.slice(0, 12)}`;
    // S3 delivers at least once: the same notification again, while the first replay runs.
    const producer = clients.kafka.producer();
    await producer.connect();
    const duplicate = {
      Records: [
        {
          eventVersion: '2.1',
          eventSource: 'aws:s3',
          awsRegion: 'us-east-1',
          eventTime: new Date().toISOString(),
          eventName: 'ObjectCreated:Put',
          s3: {
            s3SchemaVersion: '1.0',
            bucket: { name: stack.datasetBucket },
            object: { key: encodeNotificationKey(key), eTag: etag },
          },
        },
      ],
    };
    await producer.send({
      topic: stack.s3NotificationTopic,
      messages: [{ key, value: JSON.stringify(duplicate) }],
    });

    const expected = await analyzeOffline(file);
    const summaryUrl = `${runtime.apiUrl}/api/v1/analyses/dt/summary?run=${encodeURIComponent(run)}`;
    // A slow CI machine may take several times longer than a laptop; a pipeline that stops moving
    // for two minutes fails the test on any machine.
    const summary = await pollWhileProgressing(
      async () => {
        const body = z
          .object({ rows: z.number(), summary: z.record(z.string(), z.unknown()) })
          .parse(await getJson(summaryUrl));
        return { progress: body.rows, done: body.rows >= ROWS ? body : undefined };
      },
      {
        stallMs: 120_000,
        timeoutMs: 600_000,
        intervalMs: 500,
        what: `the state of ${run} to reach ${ROWS} rows`,
        explain: test.explain,
      },
    );

    // Once more after it finished: nothing may be sent again.
    await producer.send({
      topic: stack.s3NotificationTopic,
      messages: [{ key, value: JSON.stringify(duplicate) }],
    });
    await producer.disconnect();
    const replays = z
      .object({ replays: z.array(z.object({ key: z.string(), status: z.string(), rowsSent: z.number() })) })
      .parse(await getJson(`${runtime.apiUrl}/api/v1/replays`));
    const ours = replays.replays.find((replay) => replay.key === key);
    expect(ours).toMatchObject({ status: 'done', rowsSent: ROWS });

    expect(await faultLog(faultDir, 'aggregate-failed')).toHaveLength(1);
    expect(summary.rows).toBe(ROWS);
    expect(summary.summary).toEqual(expected);
    // Let the late duplicate notification be handled, then check nothing changed.
    await pollUntil(async () => ((runtime.stats().functions.replay?.running ?? 1) === 0 ? true : undefined), {
      timeoutMs: 30_000,
      what: 'replay invocations to finish',
    });
    const after = z.object({ rows: z.number(), summary: z.unknown() }).parse(await getJson(summaryUrl));
    expect(after.rows).toBe(ROWS);
    expect(after.summary).toEqual(expected);
  }, 900_000);

  it('publishes one valid summary per batch to data_clean, the same id and body again after a retry', async () => {
    const state = z
      .object({ batches: z.number(), runs: z.array(z.string()) })
      .parse(await getJson(`${runtime.apiUrl}/api/v1/analyses/dt/summary`));
    const byId = new Map<string, string>();
    let repeatedWithOtherBody = 0;
    let messages = 0;
    const consumer = clients.kafka.consumer({ groupId: `clean-${Date.now()}`, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: clients.config.topics.clean, fromBeginning: true });
    const offsets = await clients.kafka.admin().fetchTopicOffsets(clients.config.topics.clean);
    const end = Number(offsets[0]?.high ?? 0);
    await new Promise<void>((resolveAll, rejectAll) => {
      void consumer
        .run({
          eachMessage: async ({ message }) => {
            if (Number(message.offset) + 1 >= end) resolveAll();
            const text = message.value?.toString('utf8') ?? '';
            const body: unknown = JSON.parse(text);
            // data_clean is shared by the whole run: other files' analyses publish there too.
            if (z.object({ analysis: z.string() }).parse(body).analysis !== 'dt') return;
            messages += 1;
            const parsed = cleanMessage.safeParse(body);
            if (!parsed.success) rejectAll(new Error(`invalid data_clean message: ${parsed.error.message}`));
            const id = parsed.data?.msg_ID ?? '';
            const before = byId.get(id);
            if (before !== undefined && before !== text) repeatedWithOtherBody += 1;
            byId.set(id, text);
          },
        })
        .catch(rejectAll);
    });
    await consumer.disconnect();
    expect(repeatedWithOtherBody).toBe(0);
    expect(byId.size).toBe(state.batches);
    // The injected failure made the trigger deliver one event again: its summaries were re-sent.
    expect(messages).toBeGreaterThan(byId.size);
  });

  it('sends malformed rows to data_dead with a reason and counts them, without blocking the rest', async () => {
    const file = join(workDir, 'with-bad-rows.csv');
    const good = '2,0,5,3387315240,100,12\n2,1,70,3387315241,200,3.5\n';
    const bad = ['2,0,5,notanumber,100,12', '2,0,5', '2,9,5,3387315240,100,12'];
    await pipeline(
      Readable.from([
        `HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS\n${good}${bad.join('\n')}\n${good}`,
      ]),
      createWriteStream(file),
    );
    const key = `dt/it-${Date.now()}/bad rows.csv`;
    const etag = await putObjectFromFile(clients.s3, { bucket: stack.datasetBucket, key, file });
    const run = `${key}@${etag.slice(0, 12)}`;

    const summary = await pollUntil(
      async () => {
        const body = z
          .object({
            rows: z.number(),
            rejectedRows: z.number(),
            summary: z.object({ hit_count: z.number() }),
          })
          .parse(
            await getJson(`${runtime.apiUrl}/api/v1/analyses/dt/summary?run=${encodeURIComponent(run)}`),
          );
        return body.rows >= 7 ? body : undefined;
      },
      {
        timeoutMs: 60_000,
        intervalMs: 300,
        what: 'the rows with errors to be aggregated',
        explain: test.explain,
      },
    );
    expect(summary.rejectedRows).toBe(3);
    expect(summary.summary.hit_count).toBe(4);

    const dead: { reason: string; row: string; source: { topic: string } }[] = [];
    const consumer = clients.kafka.consumer({ groupId: `dead-${Date.now()}`, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: clients.config.topics.dead, fromBeginning: true });
    await new Promise<void>((resolveDead) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          const letter = z
            .object({
              reason: z.string(),
              detail: z.string(),
              row: z.string(),
              run: z.string().nullable(),
              source: z.object({ topic: z.string(), partition: z.number(), offset: z.string() }),
            })
            .parse(JSON.parse(message.value?.toString('utf8') ?? '{}'));
          if (letter.run === run) dead.push(letter);
          if (dead.length === 3) resolveDead();
        },
      });
    });
    await consumer.disconnect();
    expect(dead.map((letter) => letter.row).sort()).toEqual([...bad].sort());
    expect(dead.every((letter) => letter.source.topic === 'data_raw' && letter.reason.length > 0)).toBe(true);
  });
});
