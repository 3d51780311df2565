/**
 * The sf analysis through the real local pipeline, with the real DataSF files from ../shared/data/sf
 * (skipped, saying so, where a clone does not have them). One body, run by one test file per
 * transport (sf-pipeline.test.ts over Kafka, sf-pipeline-kinesis.test.ts over Kinesis), so that a
 * failure names its transport.
 *
 * 1. The source job's own setup: one partition, batches capped at 200 records (maxOffsetsPerTrigger):
 *    the per-batch results equal `driftline analyze sf --batch-rows 200` over the same file.
 * 2. The full 199,999-record file (gzip) at full speed over 10 partitions, aggregate failing once
 *    after it wrote its state and the S3 event delivered twice: the cumulative counts equal
 *    `driftline analyze sf` over the same file; dispositions carry the radio-code descriptions.
 */

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import type { RunningRuntime, TriggerOverrides } from '../../localstack/runtime.ts';
import { PROJECT_ROOT } from '../../localstack/service-definition.ts';
import { createDynamoDbItemStore } from '../../shared/adapters/dynamodb.ts';
import { putObjectFromFile } from '../../shared/adapters/s3.ts';
import { replayRunOf } from '../../shared/pipeline/state-keys.ts';
import { faultEnvironment, faultLog, HANDLER_FAULTS_MODULE } from '../support/handler-faults.ts';
import { readAll } from '../support/read-all.ts';
import { objectCreatedNotification, sendNotifications } from '../support/s3-notification.ts';
import { skipUnconsumedRecords } from '../support/skip-unconsumed.ts';
import { pollUntil, pollWhileProgressing, stackClients } from '../support/stack-clients.ts';
import { startTestRuntime, type TestRuntime } from '../support/test-runtime.ts';

const execFileAsync = promisify(execFile);
const stack = inject('stack');
const clients = stackClients(stack);

const dataDir = join(PROJECT_ROOT, '..', 'shared', 'data', 'sf');
const sampleFile = join(dataDir, 'police-department-calls-for-service.sample2000.json');
const fullFile = join(dataDir, 'police-department-calls-for-service.json.gz');
const radioCodes = join(dataDir, 'radio_code.json');
const haveData = [sampleFile, fullFile, radioCodes].every((file) => existsSync(file));

/** Fields that do not depend on how rows are spread over partitions (windows and lateness do). */
const PARTITION_INDEPENDENT = [
  'rows_read',
  'rows_dropped_empty',
  'rows_duplicate',
  'rows_rejected',
  'rejected_by_reason',
  'rows_distinct',
  'crime_type_count',
  'crime_types',
] as const;

type Json = Record<string, unknown>;
const lineSchema = z.object({
  batch: z.number(),
  rows: z.number(),
  summary: z.record(z.string(), z.unknown()),
  cumulative: z.record(z.string(), z.unknown()),
});

async function analyzeOffline(file: string, batchRows?: number) {
  const { stdout } = await execFileAsync(
    process.execPath,
    [
      join(PROJECT_ROOT, 'localstack/driftline.mjs'),
      'analyze',
      'sf',
      file,
      ...(batchRows ? ['--batch-rows', String(batchRows)] : []),
    ],
    { maxBuffer: 512 * 1024 * 1024 },
  );
  return stdout
    .trim()
    .split('\n')
    .map((line) => lineSchema.parse(JSON.parse(line)));
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

/** Sends S3's notification of `key` once more: S3 delivers at least once. */
async function notifyAgain(key: string, etag: string): Promise<void> {
  const notification = objectCreatedNotification(stack.datasetBucket, key, etag);
  await sendNotifications(clients.kafka.producer(), stack.s3NotificationTopic, [notification]);
}

/** Kafka offsets are numbers, Kinesis sequence numbers decimal strings beyond 2^53: order as BigInt. */
function startOffsetOf(summary: Json): bigint {
  return BigInt(
    String(z.object({ startOffset: z.union([z.number(), z.string()]) }).parse(summary.progress).startOffset),
  );
}

/** The stage of each transport: `local-kinesis` is `local` with Kinesis streams for data_raw, data_clean, data_dead. */
const STAGE_OF = { kafka: 'local', kinesis: 'local-kinesis' } as const;
type Transport = keyof typeof STAGE_OF;

/** The runtime option that overrides `transport`'s triggers. */
function triggerOverrides(transport: Transport, overrides: TriggerOverrides) {
  return transport === 'kafka' ? { kafkaTriggers: overrides } : { kinesisTriggers: overrides };
}

const summaryResponse = z.object({
  rows: z.number(),
  batches: z.number(),
  summary: z.record(z.string(), z.unknown()),
});

/** Replays the sample into partition 0 with the trigger paused, then checks its batches of 200. */
function describeBatchesOf200(transport: Transport): void {
  describe('the source job: one partition, batches of 200', () => {
    let runtime: RunningRuntime;
    let test: TestRuntime;
    const explain = () => test.explain();

    beforeAll(async () => {
      // The source job: maxOffsetsPerTrigger = 200, started on data already in the topic. Its batches
      // are cut by count only; a 5 s window (not AWS's 500 ms) keeps a fetch that is slow on a busy
      // machine from cutting one short by time.
      const sfStack = { ...stack, stage: STAGE_OF[transport] };
      test = await startTestRuntime(
        sfStack,
        `sf-${transport}`,
        triggerOverrides(transport, { batchSize: 200, batchingWindowMs: 5_000, paused: true }),
      );
      ({ runtime } = test);
      // Batches are exact only from where this file's rows begin: records another file's runtime left
      // unconsumed in partition 0 (a pipeline stopped with Ctrl-C leaves some, by design) would share
      // them. The trigger is paused (not started), so its offsets or checkpoints can be moved to the end.
      await skipUnconsumedRecords({
        clients,
        stack: sfStack,
        transport,
        functionId: 'aggregate',
        source: clients.config.topics.raw,
      });
      await putObjectFromFile(clients.s3, {
        bucket: stack.datasetBucket,
        key: 'sf/radio_code.json',
        file: radioCodes,
      });
    });

    afterAll(async () => {
      await test?.stop();
    });

    it('each batch equals the offline run with --batch-rows 200', async () => {
      const key = `sf/it-${Date.now()}/sample.json`;
      const etag = await putObjectFromFile(clients.s3, {
        bucket: stack.datasetBucket,
        key,
        file: sampleFile,
        metadata: { partition: '0', 'rows-per-record': '1' },
      });
      const run = replayRunOf(key, etag);
      await pollUntil(
        async () => {
          const body = z
            .object({ replays: z.array(z.object({ key: z.string(), status: z.string() })) })
            .parse(await getJson(`${runtime.apiUrl}/api/v1/replays`));
          return body.replays.some((replay) => replay.key === key && replay.status === 'done')
            ? true
            : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200, what: 'the sample to be replayed into data_raw', explain },
      );

      // Everything is in the topic: the trigger now cuts batches of exactly 200 records, as Spark did.
      await runtime.resumeTriggers();
      const summaries = await pollUntil(
        async () => {
          const ours = (await readAll(clients, transport, clients.config.topics.clean))
            .map((text): Json => JSON.parse(text))
            .filter((summary) => summary.run === run);
          return ours.length >= 10 ? ours : undefined;
        },
        {
          timeoutMs: 90_000,
          intervalMs: 1_000,
          what: '10 batch summaries of the sample on data_clean',
          explain,
        },
      );

      const offline = await analyzeOffline(sampleFile, 200);
      expect(offline).toHaveLength(10);
      expect(summaries).toHaveLength(10);
      summaries.sort((a, b) => (startOffsetOf(a) < startOffsetOf(b) ? -1 : 1));
      for (const [index, line] of offline.entries()) {
        const online = summaries[index] ?? {};
        expect((online.progress as Json).numInputRows, `batch ${index + 1} size`).toBe(200);
        for (const [field, value] of Object.entries(line.summary)) {
          // The pipeline's message adds descriptions to dispositions (reference data): compare codes and counts.
          if (field === 'dispositions') continue;
          expect(online[field], `batch ${index + 1}: ${field}`).toEqual(value);
        }
        const codesAndCounts = (list: unknown) =>
          z
            .array(z.object({ disposition: z.string(), count: z.number() }))
            .parse(list)
            .map(({ disposition, count }) => ({ disposition, count }));
        expect(codesAndCounts(online.dispositions)).toEqual(codesAndCounts(line.summary.dispositions));
      }
    });
  });
}

/** The full file over 10 partitions, with a retried batch and a duplicated S3 event. */
function describeFullFile(transport: Transport): void {
  describe('the full file over 10 partitions', () => {
    let runtime: RunningRuntime;
    let test: TestRuntime;
    let faultDir = '';
    const explain = () => test.explain();

    beforeAll(async () => {
      // The 3rd aggregate invocation fails *after* it has written state and published its summary:
      // the hardest retry, where everything must be recognised as already applied.
      faultDir = await mkdtemp(join(tmpdir(), `driftline-sf-${transport}-faults-`));
      test = await startTestRuntime({ ...stack, stage: STAGE_OF[transport] }, `sf-full-${transport}`, {
        handlerWrapper: HANDLER_FAULTS_MODULE,
        environment: {
          DRIFTLINE_REPLAY_RATE: '0',
          ...faultEnvironment({ logDir: faultDir, aggregateFailsCall: 3 }),
        },
      });
      ({ runtime } = test);
      await putObjectFromFile(clients.s3, {
        bucket: stack.datasetBucket,
        key: 'sf/radio_code.json',
        file: radioCodes,
      });
    });

    afterAll(async () => {
      await test?.stop();
      if (faultDir) await rm(faultDir, { recursive: true, force: true });
    });

    it('cumulative counts equal driftline analyze, with a retried batch and a duplicated S3 event; dispositions described', async () => {
      const key = `sf/it-${Date.now()}/calls.json.gz`;
      const etag = await putObjectFromFile(clients.s3, {
        bucket: stack.datasetBucket,
        key,
        file: fullFile,
        metadata: { 'rows-per-record': '100' },
      });
      const run = replayRunOf(key, etag);
      // S3 delivers at least once: the same notification again, while the first replay runs.
      await notifyAgain(key, etag);
      const [offline] = (await analyzeOffline(fullFile)).slice(-1);
      const expectedRows = Number(offline?.cumulative.rows_read);
      expect(expectedRows).toBe(199_999);

      const url = `${runtime.apiUrl}/api/v1/analyses/sf/summary?run=${encodeURIComponent(run)}`;
      // 200k rows take ~10 s on a quiet laptop; a busy CI machine may take many times that. What
      // fails the test is a pipeline that stops moving for two minutes, not a slow one.
      const online = await pollWhileProgressing(
        async () => {
          const body = summaryResponse.parse(await getJson(url));
          return { progress: body.rows, done: body.rows >= expectedRows ? body : undefined };
        },
        {
          stallMs: 120_000,
          timeoutMs: 780_000,
          intervalMs: 1_000,
          what: `the full file (${expectedRows} rows) to be aggregated`,
          explain,
        },
      );
      // Once more after it finished: nothing may be sent again.
      await notifyAgain(key, etag);
      expect(await faultLog(faultDir, 'aggregate-failed')).toHaveLength(1);
      expectCountsOf(online.summary, offline?.cumulative ?? {});
      await expectStatesInBucket(run);

      await pollUntil(
        async () => ((runtime.stats().functions.replay?.running ?? 1) === 0 ? true : undefined),
        { timeoutMs: 30_000, what: 'replay invocations to finish', explain },
      );
      const after = summaryResponse.parse(await getJson(url));
      expect(after.rows).toBe(expectedRows);
      expectCountsOf(after.summary, offline?.cumulative ?? {});
    }, 900_000);
  });
}

/** The counts that do not depend on partitioning, and the dispositions (left join with radio codes). */
function expectCountsOf(online: Json, offline: Json): void {
  for (const field of PARTITION_INDEPENDENT) {
    expect(online[field], field).toEqual(offline[field]);
  }
  // Left join: every code keeps its count; known codes are described, unknown ones are null.
  const dispositions = z
    .array(z.object({ disposition: z.string(), count: z.number(), description: z.string().nullable() }))
    .parse(online.dispositions);
  const offlineCounts = z
    .array(z.object({ disposition: z.string(), count: z.number() }))
    .parse(offline.dispositions);
  expect(dispositions.map(({ disposition, count }) => ({ disposition, count }))).toEqual(
    offlineCounts.map(({ disposition, count }) => ({ disposition, count })),
  );
  expect(dispositions.find((entry) => entry.disposition === 'HAN')?.description).toBe('Handled');
  expect(dispositions.find((entry) => entry.disposition === 'Not recorded')?.description).toBeNull();
}

/**
 * Exact deduplication holds ~20,000 keys per partition here: past DRIFTLINE_STATE_INLINE_MAX_BYTES,
 * so the states were kept in the state bucket (read back through it for the counts).
 */
async function expectStatesInBucket(run: string): Promise<void> {
  const rawStates = (
    await createDynamoDbItemStore(clients.dynamodb, stack.stateTable).query('state#sf')
  ).filter((item) => item.sk.startsWith(`${run}#`));
  expect(rawStates).toHaveLength(10);
  expect(
    rawStates.filter((item) => JSON.stringify(item.payload).includes('"driftline.blob"')).length,
  ).toBeGreaterThan(0);
}

export function describeSfPipeline(transport: Transport): void {
  describe.skipIf(!haveData)(
    `the sf pipeline on the local stack over ${transport} (needs ${dataDir})`,
    () => {
      describeBatchesOf200(transport);
      describeFullFile(transport);
    },
  );
}
