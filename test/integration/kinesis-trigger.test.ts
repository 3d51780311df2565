/**
 * The local Kinesis trigger on kinesalite (the stack's Kinesis emulator), fed by the Kinesis
 * publisher: event shape, batching, per-shard order with shards in parallel, whole-batch retries,
 * bisection, retry limits with the on-failure destination, and restarts from checkpoints. Each test
 * uses a stream of its own. Then the runtime's set of Kinesis triggers (kinesis-triggers.ts) with a
 * test's overrides: the batch size, and a trigger held back until `resume` whose checkpoints a test
 * moves past what the stream already holds (as the sf pipeline test does).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { KinesisFailureRecord } from '../../localstack/kinesis-record.ts';
import {
  type CheckpointStore,
  inMemoryCheckpoints,
  type KinesisTriggerOptions,
  type RunningKinesisTrigger,
  startKinesisTrigger,
} from '../../localstack/kinesis-trigger.ts';
import { type KinesisTriggerOverrides, kinesisTriggers } from '../../localstack/kinesis-triggers.ts';
import type { LoadedFunction } from '../../localstack/lambda-context.ts';
import { createKinesisPublisher } from '../../shared/adapters/kinesis.ts';
import { decodeKinesisEvent } from '../../shared/pipeline/kinesis-event.ts';
import { skipUnconsumedRecords } from '../support/skip-unconsumed.ts';
import { pollUntil, stackClients } from '../support/stack-clients.ts';

const stack = inject('stack');
const { kinesis } = stackClients(stack);
const publisher = createKinesisPublisher(kinesis);
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function createStream(shards: number): Promise<string> {
  const stream = `kinesis-trigger-${randomUUID().slice(0, 8)}`;
  await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: shards }));
  cleanups.push(() => kinesis.send(new DeleteStreamCommand({ StreamName: stream })));
  await pollUntil(
    async () => {
      const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
      return summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE' ? true : undefined;
    },
    { timeoutMs: 10_000, what: `stream ${stream} ACTIVE` },
  );
  return stream;
}

type TestOptions = Partial<KinesisTriggerOptions> & Pick<KinesisTriggerOptions, 'stream' | 'invoke'>;

async function startTrigger(options: TestOptions): Promise<RunningKinesisTrigger> {
  const trigger = await startKinesisTrigger({
    client: kinesis,
    batchSize: 100,
    startingPosition: 'TRIM_HORIZON',
    streamArn: `arn:aws:kinesis:us-east-1:000000000000:stream/${options.stream}`,
    region: 'us-east-1',
    invokeIdentityArn: 'arn:aws:iam::000000000000:role/driftline-test',
    functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:driftline-test-aggregate',
    checkpoints: inMemoryCheckpoints(),
    retry: { initialDelayMs: 50, maxDelayMs: 400 },
    pollIntervalMs: 50,
    ...options,
  });
  cleanups.push(() => trigger.stop());
  return trigger;
}

/** Values `id-<n>`, record n in partition (= shard) n % shards, with a header carrying n. */
async function putNumbered(stream: string, from: number, count: number, shards: number): Promise<void> {
  await publisher.publish(
    stream,
    Array.from({ length: count }, (_, index) => ({
      key: `key-${from + index}`,
      partition: (from + index) % shards,
      value: `id-${from + index}`,
      headers: { n: String(from + index) },
    })),
  );
}

/** `shard:value` of each record, decoded as aggregate decodes them. */
function valuesOf(event: KinesisStreamEvent): string[] {
  return decodeKinesisEvent(event).flatMap((slice) =>
    slice.records.map((record) => `${slice.partition}:${Buffer.from(record.value).toString('utf8')}`),
  );
}

/** Collects the events, and waits until `count` distinct records were seen. */
function recorder() {
  const events: KinesisStreamEvent[] = [];
  const seen = () => new Set(events.flatMap(valuesOf));
  return {
    events,
    seen,
    async until(count: number, what: string) {
      await pollUntil(async () => (seen().size >= count ? true : undefined), {
        timeoutMs: 20_000,
        what: `${count} ${what}`,
        explain: () => `saw ${seen().size} in ${events.length} events`,
      });
    },
  };
}

describe('the local Kinesis trigger', () => {
  it('delivers the Kinesis event shape: base64 data, shard in eventID, stream ARN, arrival time; partition n lands in shard n', async () => {
    const stream = await createStream(2);
    const seen = recorder();
    await startTrigger({ stream, invoke: async (event) => void seen.events.push(event) });
    const before = Date.now() / 1000;
    await putNumbered(stream, 0, 4, 2);
    await seen.until(4, 'records');
    const records = seen.events.flatMap((event) => event.Records);
    for (const record of records) {
      expect(record).toMatchObject({
        eventSource: 'aws:kinesis',
        eventName: 'aws:kinesis:record',
        eventSourceARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`,
        eventID: `${record.eventID.split(':')[0]}:${record.kinesis.sequenceNumber}`,
      });
      expect(record.kinesis.approximateArrivalTimestamp).toBeGreaterThan(before - 5);
    }
    // Each event holds one shard; the decoded headers and values are what was published.
    expect(
      seen.events.every((event) => new Set(event.Records.map((r) => r.eventID.split(':')[0])).size === 1),
    ).toBe(true);
    expect([...seen.seen()].sort()).toEqual(['0:id-0', '0:id-2', '1:id-1', '1:id-3']);
    const headers = seen.events.flatMap((event) =>
      decodeKinesisEvent(event).flatMap((slice) => slice.records.map((record) => record.headers.get('n'))),
    );
    expect(headers.sort()).toEqual(['0', '1', '2', '3']);
  });

  it('never puts more than batchSize records in an event, delivers every record once, in order per shard', async () => {
    const stream = await createStream(3);
    const seen = recorder();
    await putNumbered(stream, 0, 600, 3);
    await startTrigger({ stream, batchSize: 50, invoke: async (event) => void seen.events.push(event) });
    await seen.until(600, 'records');
    expect(Math.max(...seen.events.map((event) => event.Records.length))).toBeLessThanOrEqual(50);
    const all = seen.events.flatMap(valuesOf);
    expect(all).toHaveLength(600);
    for (let shard = 0; shard < 3; shard++) {
      const numbers = all
        .filter((value) => value.startsWith(`${shard}:`))
        .map((value) => Number(value.split('-')[1]));
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
      expect(numbers).toHaveLength(200);
    }
  });

  it('runs shards concurrently, never two batches of one shard at once', async () => {
    const stream = await createStream(3);
    const seen = recorder();
    const inFlight = new Map<number, number>();
    let mostShardsAtOnce = 0;
    let mostOfOneShard = 0;
    await putNumbered(stream, 0, 90, 3);
    await startTrigger({
      stream,
      batchSize: 10,
      invoke: async (event) => {
        const shard = decodeKinesisEvent(event)[0]?.partition ?? -1;
        inFlight.set(shard, (inFlight.get(shard) ?? 0) + 1);
        mostOfOneShard = Math.max(mostOfOneShard, inFlight.get(shard) ?? 0);
        mostShardsAtOnce = Math.max(mostShardsAtOnce, [...inFlight.values()].filter((n) => n > 0).length);
        await new Promise((resolveLater) => setTimeout(resolveLater, 30)); // a handler that takes time
        inFlight.set(shard, (inFlight.get(shard) ?? 1) - 1);
        seen.events.push(event);
      },
    });
    await seen.until(90, 'records');
    expect(mostOfOneShard).toBe(1);
    expect(mostShardsAtOnce).toBeGreaterThan(1);
  });

  it('retries a failed batch whole, holding back its shard, then checkpoints only after the success', async () => {
    const stream = await createStream(2);
    const seen = recorder();
    const checkpoints = inMemoryCheckpoints();
    let failuresLeft = 3;
    const attempts: string[][] = [];
    await putNumbered(stream, 0, 10, 2);
    const trigger = await startTrigger({
      stream,
      checkpoints,
      invoke: async (event) => {
        const values = valuesOf(event);
        if (values[0]?.startsWith('0:')) {
          attempts.push(values);
          if (failuresLeft-- > 0) throw new Error('injected failure');
        }
        seen.events.push(event);
      },
    });
    await seen.until(10, 'records');
    expect(attempts).toHaveLength(4);
    expect(new Set(attempts.map((values) => values.join()))).toEqual(new Set([attempts[0]?.join()]));
    expect(trigger.stats()).toMatchObject({ failedInvocations: 3, retries: 3, batchesSentToDestination: 0 });
    await pollUntil(async () => (checkpoints.all.size === 2 ? true : undefined), {
      timeoutMs: 5_000,
      what: 'a checkpoint for both shards',
    });
  });

  it('bisects a failing batch down to the poison record, which goes to the on-failure destination after its retries', async () => {
    const stream = await createStream(1);
    const seen = recorder();
    const failures: KinesisFailureRecord[] = [];
    await putNumbered(stream, 0, 16, 1);
    const trigger = await startTrigger({
      stream,
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 2,
      onFailure: async (failure) => void failures.push(failure),
      invoke: async (event) => {
        if (valuesOf(event).includes('0:id-11')) throw new Error('poison record');
        seen.events.push(event);
      },
    });
    await seen.until(15, 'records other than the poison one');
    await pollUntil(async () => (failures.length > 0 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the destination',
    });
    expect(seen.seen().has('0:id-11')).toBe(false);
    expect(failures).toEqual([
      expect.objectContaining({
        requestContext: expect.objectContaining({ condition: 'RetryAttemptsExhausted' }),
        KinesisBatchInfo: expect.objectContaining({ shardId: 'shardId-000000000000', batchSize: 1 }),
      }),
    ]);
    expect(trigger.stats().bisections).toBeGreaterThanOrEqual(4); // 16 → 8 → 4 → 2 → 1
  });

  it('resumes after a restart from its checkpoints: nothing processed twice, nothing lost', async () => {
    const stream = await createStream(2);
    const checkpoints: CheckpointStore = inMemoryCheckpoints();
    const seen = recorder();
    await putNumbered(stream, 0, 20, 2);
    const first = await startTrigger({
      stream,
      checkpoints,
      invoke: async (event) => void seen.events.push(event),
    });
    await seen.until(20, 'records of the first run');
    await first.stop();
    await putNumbered(stream, 20, 20, 2);
    await startTrigger({ stream, checkpoints, invoke: async (event) => void seen.events.push(event) });
    await seen.until(40, 'records of both runs');
    expect(seen.events.flatMap(valuesOf)).toHaveLength(40);
  });

  it('with a batching window, a handful of records arrives as one event', async () => {
    const stream = await createStream(1);
    const seen = recorder();
    await startTrigger({
      stream,
      batchingWindowMs: 5_000,
      invoke: async (event) => void seen.events.push(event),
    });
    for (let n = 0; n < 5; n++) await putNumbered(stream, n, 1, 1);
    await seen.until(5, 'records');
    expect(seen.events).toHaveLength(1);
  });
});

describe("the runtime's Kinesis triggers, with a test's overrides", () => {
  /** An `aggregate` function triggered by `stream` as serverless.yml would: batch size 100, no window. */
  function aggregateOn(stream: string): ReadonlyMap<string, LoadedFunction> {
    const definition = {
      id: 'aggregate',
      name: 'driftline-test-aggregate',
      handlerModule: 'functions/aggregate.ts',
      handlerExport: 'handler',
      timeoutSeconds: 120,
      memorySizeMb: 512,
      environment: {},
      s3Triggers: [],
      mskTriggers: [],
      kinesisTriggers: [
        {
          stream,
          batchSize: 100,
          startingPosition: 'TRIM_HORIZON' as const,
          bisectBatchOnFunctionError: false,
          maximumRetryAttempts: -1,
          enabled: true,
        },
      ],
      httpRoutes: [],
    };
    return new Map([['aggregate', { definition, handler: async () => undefined }]]);
  }

  /** The triggers of `aggregateOn(stream)`, checkpointing in a data folder of their own. */
  async function triggersOn(stream: string, overrides: KinesisTriggerOverrides, seen: KinesisStreamEvent[]) {
    const dataDir = await mkdtemp(join(tmpdir(), 'driftline-kinesis-triggers-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const localStack = { ...stack, dataDir };
    const triggers = kinesisTriggers({
      stack: localStack,
      functions: aggregateOn(stream),
      invoke: async (_functionId, event) => {
        seen.push(event as KinesisStreamEvent);
        return undefined;
      },
      log: () => {},
      overrides,
    });
    cleanups.push(() => triggers.stop());
    return { triggers, localStack };
  }

  it("a batchSize override replaces serverless.yml's: events of at most 7 records", async () => {
    const stream = await createStream(1);
    await putNumbered(stream, 0, 30, 1);
    const seen = recorder();
    const { triggers } = await triggersOn(stream, { batchSize: 7 }, seen.events);
    await triggers.resume();
    await seen.until(30, 'records');
    expect(seen.events.map((event) => event.Records.length)).toEqual([7, 7, 7, 7, 2]);
  });

  it('held back until resume: checkpoints moved to the end meanwhile skip what the stream held', async () => {
    const stream = await createStream(2);
    await putNumbered(stream, 0, 20, 2);
    const seen = recorder();
    const { triggers, localStack } = await triggersOn(stream, {}, seen.events);
    await skipUnconsumedRecords({
      clients: { kafka: stackClients(stack).kafka, kinesis },
      stack: localStack,
      transport: 'kinesis',
      functionId: 'aggregate',
      source: stream,
    });
    await putNumbered(stream, 20, 6, 2);
    await triggers.resume();
    // Records 20–25 follow 0–19 in their shards: once they are seen, the earlier ones had their turn.
    await seen.until(6, 'records written after the checkpoints moved');
    expect([...seen.seen()].sort()).toEqual([
      '0:id-20',
      '0:id-22',
      '0:id-24',
      '1:id-21',
      '1:id-23',
      '1:id-25',
    ]);
  });
});
