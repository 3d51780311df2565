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
import { PROJECT_ROOT } from '../../localstack/service-definition.ts';
import { putObjectFromFile } from '../../shared/adapters/s3.ts';
import { replayRunOf } from '../../shared/pipeline/state-keys.ts';
import { faultEnvironment, faultLog, HANDLER_FAULTS_MODULE } from '../support/handler-faults.ts';
import { readAll } from '../support/read-all.ts';
import { objectCreatedNotification, sendNotifications } from '../support/s3-notification.ts';
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
    // Kafka offsets are numbers; Kinesis sequence numbers (beyond 2^53) decimal strings.
    startOffset: z.union([z.number().int(), z.string().regex(/^\d+$/)]),
    endOffset: z.union([z.number().int(), z.string().regex(/^\d+$/)]),
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

/** The stage of each transport: `local-kinesis` is `local` with Kinesis streams for data_raw, data_clean, data_dead. */
const STAGE_OF = { kafka: 'local', kinesis: 'local-kinesis' } as const;

/**
 * The body, run by one test file per transport (dt-pipeline.test.ts, dt-pipeline-kinesis.test.ts):
 * one file each, so that a failure names its transport.
 */
export function describeDtPipeline(transport: keyof typeof STAGE_OF): void {
  describe(`the dt pipeline on the local stack over ${transport}`, () => {
    let workDir = '';
    let runtime: RunningRuntime;
    let test: TestRuntime;
    let faultDir = '';
    /** The first test's run: the other transport's runs share the stack's state table, not its topics. */
    let replayedRun = '';

    beforeAll(async () => {
      // The 3rd aggregate invocation fails *after* it has written state and published its summary:
      // the hardest retry, where everything must be recognised as already applied.
      faultDir = await mkdtemp(join(tmpdir(), `driftline-dt-${transport}-faults-`));
      test = await startTestRuntime({ ...stack, stage: STAGE_OF[transport] }, `dt-${transport}`, {
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
      const run = replayRunOf(key, etag);
      replayedRun = run;
      // S3 delivers at least once: the same notification again, while the first replay runs.
      const duplicate = objectCreatedNotification(stack.datasetBucket, key, etag);
      await sendNotifications(clients.kafka.producer(), stack.s3NotificationTopic, [duplicate]);

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
      await sendNotifications(clients.kafka.producer(), stack.s3NotificationTopic, [duplicate]);
      const replays = z
        .object({ replays: z.array(z.object({ key: z.string(), status: z.string(), rowsSent: z.number() })) })
        .parse(await getJson(`${runtime.apiUrl}/api/v1/replays`));
      const ours = replays.replays.find((replay) => replay.key === key);
      expect(ours).toMatchObject({ status: 'done', rowsSent: ROWS });

      expect(await faultLog(faultDir, 'aggregate-failed')).toHaveLength(1);
      expect(summary.rows).toBe(ROWS);
      expect(summary.summary).toEqual(expected);
      // Let the late duplicate notification be handled, then check nothing changed.
      await pollUntil(
        async () => ((runtime.stats().functions.replay?.running ?? 1) === 0 ? true : undefined),
        {
          timeoutMs: 30_000,
          what: 'replay invocations to finish',
        },
      );
      const after = z.object({ rows: z.number(), summary: z.unknown() }).parse(await getJson(summaryUrl));
      expect(after.rows).toBe(ROWS);
      expect(after.summary).toEqual(expected);
    }, 900_000);

    it('publishes one valid summary per batch to data_clean, the same id and body again after a retry', async () => {
      const state = z
        .object({ batches: z.number(), runs: z.array(z.string()) })
        .parse(
          await getJson(
            `${runtime.apiUrl}/api/v1/analyses/dt/summary?run=${encodeURIComponent(replayedRun)}`,
          ),
        );
      const byId = new Map<string, string>();
      let repeatedWithOtherBody = 0;
      let messages = 0;
      for (const text of await readAll(clients, transport, clients.config.topics.clean)) {
        const body: unknown = JSON.parse(text);
        // data_clean is shared by the whole run: other files' analyses publish there too.
        if (z.object({ analysis: z.string() }).parse(body).analysis !== 'dt') continue;
        const parsed = cleanMessage.safeParse(body);
        if (!parsed.success) throw new Error(`invalid data_clean message: ${parsed.error.message}`);
        if (parsed.data.run !== replayedRun) continue;
        messages += 1;
        const before = byId.get(parsed.data.msg_ID);
        if (before !== undefined && before !== text) repeatedWithOtherBody += 1;
        byId.set(parsed.data.msg_ID, text);
      }
      expect(repeatedWithOtherBody).toBe(0);
      expect(byId.size).toBe(state.batches);
      if (transport === 'kafka') {
        // The injected failure made the trigger deliver one event again: its summaries were re-sent.
        expect(messages).toBeGreaterThan(byId.size);
      } else {
        // The Kinesis trigger bisects a failed batch (serverless.yml): the halves are new batch ids
        // whose records were all applied already, so nothing is published twice, and nothing lost.
        expect(messages).toBe(byId.size);
        const bisections = runtime
          .stats()
          .streamTriggers.reduce((sum, trigger) => sum + trigger.bisections, 0);
        expect(bisections).toBeGreaterThanOrEqual(1);
      }
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
      const run = replayRunOf(key, etag);

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

      const letter = z.object({
        reason: z.string(),
        detail: z.string(),
        row: z.string(),
        run: z.string().nullable(),
        source: z.object({ topic: z.string(), partition: z.number(), offset: z.string() }),
      });
      const dead = await pollUntil(
        async () => {
          const texts = await readAll(clients, transport, clients.config.topics.dead);
          const ours = texts.map((text) => letter.parse(JSON.parse(text))).filter((one) => one.run === run);
          return ours.length >= 3 ? ours : undefined;
        },
        {
          timeoutMs: 30_000,
          intervalMs: 300,
          what: `3 dead letters of ${run} in data_dead`,
          explain: test.explain,
        },
      );
      expect(dead.map((letter) => letter.row).sort()).toEqual([...bad].sort());
      expect(dead.every((letter) => letter.source.topic === 'data_raw' && letter.reason.length > 0)).toBe(
        true,
      );
    });
  });
}
