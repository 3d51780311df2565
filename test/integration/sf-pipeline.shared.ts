/**
 * The sf analysis through the real local pipeline, with the real DataSF files from ../shared/data/sf
 * (skipped, saying so, where a clone does not have them).
 *
 * 1. The source job's own setup: one partition, batches capped at 200 records (maxOffsetsPerTrigger):
 *    the per-batch results equal `driftline analyze sf --batch-rows 200` over the same file.
 * 2. The full 199,999-record file (gzip) at full speed over 10 partitions: the cumulative counts equal
 *    `driftline analyze sf` over the same file; dispositions carry the radio-code descriptions.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { type RunningRuntime, triggerGroupId } from '../../localstack/runtime.ts';
import { PROJECT_ROOT } from '../../localstack/service-definition.ts';
import { createDynamoDbItemStore } from '../../shared/adapters/dynamodb.ts';
import { putObjectFromFile } from '../../shared/adapters/s3.ts';
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

async function skipUnconsumedRecords(groupId: string): Promise<void> {
  const admin = clients.kafka.admin();
  await admin.connect();
  try {
    const topic = clients.config.topics.raw;
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({
      groupId,
      topic,
      partitions: ends.map(({ partition, high }) => ({ partition, offset: high })),
    });
  } finally {
    await admin.disconnect();
  }
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

const summaryResponse = z.object({
  rows: z.number(),
  batches: z.number(),
  summary: z.record(z.string(), z.unknown()),
});

describe.skipIf(!haveData)(`the sf pipeline on the local stack (needs ${dataDir})`, () => {
  let runtime: RunningRuntime;
  let test: TestRuntime;
  const explain = () => test.explain();

  beforeAll(async () => {
    // The source job: maxOffsetsPerTrigger = 200, started on data already in the topic. Its batches
    // are cut by count only; a 5 s window (not AWS's 500 ms) keeps a fetch that is slow on a busy
    // machine from cutting one short by time.
    test = await startTestRuntime(stack, 'sf', {
      kafkaTriggers: { batchSize: 200, batchingWindowMs: 5_000, paused: true },
    });
    ({ runtime } = test);
    // Batches are exact only from where this file's rows begin: records another file's runtime left
    // unconsumed in partition 0 (a pipeline stopped with Ctrl-C leaves some, by design) would share
    // them. The trigger is paused (its group has no member), so its offsets can be moved to the end.
    await skipUnconsumedRecords(triggerGroupId(stack.stage, 'aggregate', clients.config.topics.raw));
    await putObjectFromFile(clients.s3, {
      bucket: stack.datasetBucket,
      key: 'sf/radio_code.json',
      file: radioCodes,
    });
  });

  afterAll(async () => {
    await test?.stop();
  });

  it('one partition, batches of 200: each batch equals the offline run with --batch-rows 200', async () => {
    const key = `sf/it-${Date.now()}/sample.json`;
    const etag = await putObjectFromFile(clients.s3, {
      bucket: stack.datasetBucket,
      key,
      file: sampleFile,
      metadata: { partition: '0', 'rows-per-record': '1' },
    });
    const run = `${key}@${etag.slice(0, 12)}`;
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
    const summaries: Json[] = [];
    const consumer = clients.kafka.consumer({ groupId: `sf-clean-${Date.now()}`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: clients.config.topics.clean, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const summary = JSON.parse(message.value?.toString('utf8') ?? '{}');
        if (summary.run === run) summaries.push(summary);
      },
    });
    await runtime.resumeTriggers();
    await pollUntil(async () => (summaries.length >= 10 ? true : undefined), {
      timeoutMs: 90_000,
      intervalMs: 200,
      what: '10 batch summaries of the sample on data_clean',
      explain,
    });
    await consumer.disconnect();

    const offline = await analyzeOffline(sampleFile, 200);
    expect(offline).toHaveLength(10);
    expect(summaries).toHaveLength(10);
    summaries.sort(
      (a, b) => Number((a.progress as Json).startOffset) - Number((b.progress as Json).startOffset),
    );
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

  it('the full file over 10 partitions: cumulative counts equal driftline analyze; dispositions described', async () => {
    const key = `sf/it-${Date.now()}/calls.json.gz`;
    const etag = await putObjectFromFile(clients.s3, {
      bucket: stack.datasetBucket,
      key,
      file: fullFile,
      metadata: { 'rows-per-record': '100' },
    });
    const run = `${key}@${etag.slice(0, 12)}`;
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

    for (const field of PARTITION_INDEPENDENT) {
      expect(online.summary[field], field).toEqual(offline?.cumulative[field]);
    }
    // Left join: every code keeps its count; known codes are described, unknown ones are null.
    const dispositions = z
      .array(z.object({ disposition: z.string(), count: z.number(), description: z.string().nullable() }))
      .parse(online.summary.dispositions);
    const offlineCounts = z
      .array(z.object({ disposition: z.string(), count: z.number() }))
      .parse(offline?.cumulative.dispositions);
    expect(dispositions.map(({ disposition, count }) => ({ disposition, count }))).toEqual(
      offlineCounts.map(({ disposition, count }) => ({ disposition, count })),
    );
    // Exact deduplication holds ~20,000 keys per partition here: past DRIFTLINE_STATE_INLINE_MAX_BYTES,
    // so the states were kept in the state bucket (read back through it for the counts above).
    const rawStates = (
      await createDynamoDbItemStore(clients.dynamodb, stack.stateTable).query('state#sf')
    ).filter((item) => item.sk.startsWith(`${run}#`));
    expect(rawStates).toHaveLength(10);
    expect(
      rawStates.filter((item) => JSON.stringify(item.payload).includes('"driftline.blob"')).length,
    ).toBeGreaterThan(0);
    expect(dispositions.find((entry) => entry.disposition === 'HAN')?.description).toBe('Handled');
    expect(dispositions.find((entry) => entry.disposition === 'Not recorded')?.description).toBeNull();
  }, 900_000);
});
