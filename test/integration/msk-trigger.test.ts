/**
 * The local MSK trigger on the real embedded broker: event shape, batching, retries, restarts and
 * "one batch in flight per partition". Each test uses a topic and a consumer group of its own.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type MskDelivery,
  type MskTriggerEvent,
  type MskTriggerOptions,
  type MskTriggerRecord,
  type RunningMskTrigger,
  startMskTrigger,
} from '../../localstack/msk-trigger.ts';
import type { Message, Producer } from '../../shared/adapters/kafka.ts';
import { pollUntil, stackClients, withTimeout } from '../support/stack-clients.ts';

const stack = inject('stack');
const { kafka } = stackClients(stack);
const admin = kafka.admin();
const EVENT_SOURCE_ARN = 'arn:aws:kafka:us-east-1:000000000000:cluster/driftline-local/msk-trigger-test';
const BOOTSTRAP_SERVERS = stack.endpoints.kafkaBrokers.join(',');

const producers = new Map<string, Producer>();
/** Run after each test, last registered first: triggers stop before their topic is deleted. */
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  await admin.connect();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await admin.disconnect();
});

async function createTopic(
  partitions: number,
  configEntries: { name: string; value: string }[] = [],
): Promise<string> {
  const topic = `msk-trigger-${randomUUID().slice(0, 8)}`;
  // Not `waitForLeaders`: kafkajs then only tolerates LEADER_NOT_AVAILABLE, while a KRaft broker
  // may answer UNKNOWN_TOPIC_OR_PARTITION for a moment after creating a topic.
  await admin.createTopics({
    waitForLeaders: false,
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries }],
  });
  cleanups.push(() => admin.deleteTopics({ topics: [topic] }));
  await pollUntil(
    async () => {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] }).catch((error: unknown) => {
        if (error instanceof Error && 'type' in error && error.type === 'UNKNOWN_TOPIC_OR_PARTITION') {
          return undefined;
        }
        throw error;
      });
      if (!metadata) return undefined;
      const found = metadata.topics[0]?.partitions ?? [];
      return found.length === partitions && found.every((partition) => partition.leader >= 0)
        ? true
        : undefined;
    },
    { timeoutMs: 10_000, what: `leaders for the partitions of ${topic}` },
  );
  return topic;
}

/** The trigger's options, with `invoke` given the event as the handler sees it (parsed). */
type TestTriggerOptions = Partial<Omit<MskTriggerOptions, 'invoke'>> &
  Pick<MskTriggerOptions, 'topic'> & { readonly invoke: (event: MskTriggerEvent) => Promise<unknown> };

async function startTrigger({ invoke, ...options }: TestTriggerOptions): Promise<RunningMskTrigger> {
  const trigger = await startMskTrigger({
    invoke: (event) => invoke(event.parse() as MskTriggerEvent),
    kafka,
    groupId: `msk-trigger-test-${randomUUID().slice(0, 8)}`,
    batchSize: 100,
    startingPosition: 'TRIM_HORIZON',
    eventSourceArn: EVENT_SOURCE_ARN,
    bootstrapServers: BOOTSTRAP_SERVERS,
    retry: { initialDelayMs: 100, maxDelayMs: 1_000 },
    ...options,
  });
  cleanups.push(() => trigger.stop());
  return trigger;
}

/** Values `id-<n>` for n in [from, from + count), record n on partition n % partitions. */
function numberedMessages(from: number, count: number, partitions: number): Message[] {
  return Array.from({ length: count }, (_, index) => ({
    partition: (from + index) % partitions,
    value: `id-${from + index}`,
  }));
}

/**
 * Sends with a producer of this test: a kafkajs client keeps refreshing the metadata of every topic
 * it ever sent to, and fails once one of them is deleted, so no producer outlives its topic.
 */
async function produce(topic: string, messages: Message[]): Promise<void> {
  let producer = producers.get(topic);
  if (!producer) {
    const created = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await created.connect();
    producers.set(topic, created);
    cleanups.push(async () => {
      producers.delete(topic);
      await created.disconnect();
    });
    producer = created;
  }
  await producer.send({ topic, acks: -1, messages });
}

function recordsOf(event: MskTriggerEvent): MskTriggerRecord[] {
  return Object.values(event.records).flat();
}

/** `partition:offset` of each record: the identity of a record within a topic. */
function positionsOf(event: MskTriggerEvent): string[] {
  return recordsOf(event).map((record) => `${record.partition}:${record.offset}`);
}

function decoded(base64: string | undefined): string | undefined {
  return base64 === undefined ? undefined : Buffer.from(base64, 'base64').toString('utf8');
}

function partitionsOf(event: MskTriggerEvent): Set<number> {
  return new Set(recordsOf(event).map((record) => record.partition));
}

async function committedOffsets(groupId: string, topic: string): Promise<Record<number, string>> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return Object.fromEntries((offsets?.partitions ?? []).map(({ partition, offset }) => [partition, offset]));
}

/** Per partition, the offsets in the order they were delivered (must be strictly increasing). */
function assertOffsetOrder(events: readonly MskTriggerEvent[]): void {
  const lastOffset = new Map<number, number>();
  for (const event of events) {
    for (const [key, records] of Object.entries(event.records)) {
      for (const record of records) {
        expect(key).toBe(`${record.topic}-${record.partition}`);
        expect(record.offset).toBeGreaterThan(lastOffset.get(record.partition) ?? -1);
        lastOffset.set(record.partition, record.offset);
      }
    }
  }
}

describe('the local MSK trigger', () => {
  it('delivers events in the shape AWS gives: base64 key/value, header bytes, records per topic-partition', async () => {
    const topic = await createTopic(4);
    const events: MskTriggerEvent[] = [];
    const trigger = await startTrigger({
      topic,
      batchingWindowMs: 300,
      invoke: async (event) => {
        events.push(event);
      },
    });
    const binaryKey = Buffer.from([0xff, 0x00, 0x10, 0x80]);
    await produce(topic, [
      {
        partition: 0,
        key: binaryKey,
        value: 'alpha',
        timestamp: '1700000000123',
        headers: { 'trace-id': Buffer.from([1, 2, 255]), tag: ['a', 'b'] },
      },
      { partition: 0, key: null, value: 'beta', timestamp: '1700000000124' },
      { partition: 1, key: 'k1', value: Buffer.alloc(0) },
      { partition: 1, key: 'k1', value: null },
      { partition: 2, key: 'k2', value: 'gamma' },
    ]);
    await pollUntil(async () => (trigger.stats().recordsDelivered >= 5 ? true : undefined), {
      timeoutMs: 10_000,
      what: '5 records delivered',
    });

    for (const event of events) {
      expect(event.eventSource).toBe('aws:kafka');
      expect(event.eventSourceArn).toBe(EVENT_SOURCE_ARN);
      expect(event.bootstrapServers).toBe(BOOTSTRAP_SERVERS);
      for (const records of Object.values(event.records)) expect(records.length).toBeGreaterThan(0);
    }
    assertOffsetOrder(events);
    const byPartition = (partition: number) =>
      events.flatMap((event) => event.records[`${topic}-${partition}`] ?? []);
    expect(byPartition(0).map((record) => record.offset)).toEqual([0, 1]);
    expect(byPartition(1).map((record) => record.offset)).toEqual([0, 1]);
    expect(byPartition(2).map((record) => record.offset)).toEqual([0]);
    expect(byPartition(3)).toEqual([]);

    const [first, keyless] = byPartition(0);
    expect(first).toEqual({
      topic,
      partition: 0,
      offset: 0,
      timestamp: 1_700_000_000_123,
      timestampType: 'CREATE_TIME',
      key: binaryKey.toString('base64'),
      value: Buffer.from('alpha').toString('base64'),
      headers: [{ 'trace-id': [1, 2, 255] }, { tag: [97] }, { tag: [98] }],
    });
    expect(keyless && 'key' in keyless).toBe(false);
    expect(decoded(keyless?.value)).toBe('beta');
    expect(keyless?.headers).toEqual([]);
    const [empty, tombstone] = byPartition(1);
    expect(empty?.value).toBe('');
    expect(decoded(empty?.key)).toBe('k1');
    expect(tombstone && 'value' in tombstone).toBe(false);
    expect(decoded(byPartition(2)[0]?.value)).toBe('gamma');
  });

  it('reports LOG_APPEND_TIME and the broker’s timestamp for a topic that uses it', async () => {
    const topic = await createTopic(1, [{ name: 'message.timestamp.type', value: 'LogAppendTime' }]);
    const events: MskTriggerEvent[] = [];
    await startTrigger({
      topic,
      batchingWindowMs: 0,
      invoke: async (event) => {
        events.push(event);
      },
    });
    const producedAt = Date.now();
    await produce(topic, [{ value: 'x', timestamp: '1000' }]);
    const record = await pollUntil(async () => events.flatMap(recordsOf)[0], {
      timeoutMs: 10_000,
      what: 'the record',
    });
    expect(record.timestampType).toBe('LOG_APPEND_TIME');
    expect(record.timestamp).toBeGreaterThanOrEqual(producedAt - 1_000);
    expect(record.timestamp).toBeLessThanOrEqual(Date.now());
  });

  it('never puts more than batchSize records in an event, delivers every record once, keeps buffers bounded', async () => {
    const partitions = 4;
    const batchSize = 25;
    const total = 400;
    const topic = await createTopic(partitions);
    const groupId = `msk-trigger-test-${randomUUID().slice(0, 8)}`;
    // Everything is already in the topic when the trigger starts: without backpressure the first
    // fetches would buffer all of it.
    await produce(topic, numberedMessages(0, total, partitions));
    const events: MskTriggerEvent[] = [];
    let maxBuffered = 0;
    let trigger: RunningMskTrigger | undefined;
    trigger = await startTrigger({
      topic,
      groupId,
      batchSize,
      batchingWindowMs: 100,
      invoke: async (event) => {
        maxBuffered = Math.max(maxBuffered, trigger?.stats().bufferedRecords ?? 0);
        events.push(event);
        await sleep(5); // simulated work, so that records pile up while an event is in flight
      },
    });
    await pollUntil(
      async () => {
        const stats = trigger?.stats();
        const done =
          stats?.recordsDelivered === total &&
          stats.partitions.length === partitions &&
          stats.partitions.every((partition) => partition.committedOffset === total / partitions);
        return done ? true : undefined;
      },
      { timeoutMs: 30_000, what: `${total} records delivered and committed` },
    );

    const sizes = events.map((event) => recordsOf(event).length);
    expect(Math.max(...sizes)).toBe(batchSize);
    expect(Math.min(...sizes)).toBeGreaterThan(0);
    const positions = events.flatMap(positionsOf);
    expect(positions).toHaveLength(total);
    expect(new Set(positions).size).toBe(total);
    const values = events.flatMap((event) => recordsOf(event).map((record) => decoded(record.value)));
    expect(new Set(values)).toEqual(new Set(Array.from({ length: total }, (_, n) => `id-${n}`)));
    assertOffsetOrder(events);
    expect(maxBuffered).toBeLessThanOrEqual(partitions * batchSize);
    expect(trigger.stats()).toMatchObject({ failedInvocations: 0, retries: 0, commitFailures: 0 });
    expect(Object.values(await committedOffsets(groupId, topic))).toEqual(['100', '100', '100', '100']);
  });

  it('under load (records arriving while full buffers are paused) delivers every offset once, in order, without gaps', async () => {
    // The shape of a full-speed replay: 200,000 records produced while the trigger consumes, events
    // of up to 10,000 records that take a while, so that buffers fill, pause and resume many times.
    const partitions = 10;
    const total = 200_000;
    const topic = await createTopic(partitions);
    const delivered = new Map<number, number[]>();
    // Every invocation waits at this gate until a full buffer has been seen paused: the pausing is
    // then made to happen, not left to the machine's speed (a loaded machine may never fill one).
    let openGate: () => void = () => {};
    const gate = new Promise<void>((resolveGate) => {
      openGate = resolveGate;
    });
    let trigger: RunningMskTrigger | undefined;
    trigger = await startTrigger({
      topic,
      batchSize: 10_000,
      invoke: async (event) => {
        await gate;
        for (const record of recordsOf(event)) {
          const offsets = delivered.get(record.partition) ?? [];
          offsets.push(record.offset);
          delivered.set(record.partition, offsets);
        }
        // Slower than the producer, so that partition buffers fill up and are paused again.
        await sleep(150 + (recordsOf(event).length % 7) * 30);
      },
    });
    for (let from = 0; from < total; from += 5_000) {
      await produce(topic, numberedMessages(from, 5_000, partitions));
    }
    const paused = await pollUntil(
      async () => trigger?.stats().partitions.find((partition) => partition.paused),
      {
        timeoutMs: 60_000,
        intervalMs: 100,
        what: 'a partition paused, its buffer full, while the invocations wait',
      },
    );
    openGate();
    await pollUntil(
      async () =>
        trigger?.stats().partitions.length === partitions &&
        trigger.stats().partitions.every((partition) => partition.committedOffset === total / partitions)
          ? true
          : undefined,
      { timeoutMs: 120_000, intervalMs: 200, what: `${total} records committed` },
    );

    expect(paused.paused).toBe(true);
    for (let partition = 0; partition < partitions; partition++) {
      const offsets = delivered.get(partition) ?? [];
      const gaps = offsets.filter((offset, index) => offset !== index).slice(0, 5);
      expect(gaps, `partition ${partition}: first offsets out of place`).toEqual([]);
      expect(offsets).toHaveLength(total / partitions);
    }
  }, 300_000);

  it('waits for the batching window: a handful of records arrives as one event, about 500 ms later', async () => {
    const topic = await createTopic(4);
    const arrivals: { event: MskTriggerEvent; at: number }[] = [];
    await startTrigger({
      topic,
      batchSize: 100,
      batchingWindowMs: 500,
      invoke: async (event) => {
        arrivals.push({ event, at: Date.now() });
      },
    });
    const producedAt = Date.now();
    await produce(topic, numberedMessages(0, 5, 2));
    const first = await pollUntil(async () => arrivals[0], { timeoutMs: 10_000, what: 'the first event' });
    const elapsed = first.at - producedAt;
    expect(recordsOf(first.event)).toHaveLength(5);
    expect(Object.keys(first.event.records).sort()).toEqual([`${topic}-0`, `${topic}-1`]);
    // Not before the window; well before "never" (bounds loose for a busy shared machine).
    expect(elapsed).toBeGreaterThanOrEqual(400);
    expect(elapsed).toBeLessThan(5_000);
  });

  it('tells onDelivered each batch’s slices, and when it was fetched, taken, returned and committed', async () => {
    const topic = await createTopic(2);
    const invokedAt: number[] = [];
    const deliveries: MskDelivery[] = [];
    await startTrigger({
      topic,
      batchingWindowMs: 0,
      invoke: async () => {
        invokedAt.push(Date.now());
      },
      onDelivered: (delivery) => deliveries.push(delivery),
    });
    await produce(topic, numberedMessages(0, 6, 2));
    const slices = await pollUntil(
      async () => {
        const all = deliveries.flatMap((delivery) => delivery.slices);
        const records = all.reduce((sum, slice) => sum + slice.lastOffset - slice.firstOffset + 1, 0);
        return records === 6 ? all : undefined;
      },
      { timeoutMs: 10_000, what: 'deliveries covering the 6 records' },
    );
    expect(slices.map(({ partition }) => partition).sort()).toEqual([0, 1]);
    expect(slices.map(({ firstOffset, lastOffset }) => [firstOffset, lastOffset])).toEqual([
      [0, 2],
      [0, 2],
    ]);
    const [first] = deliveries;
    expect(first?.topic).toBe(topic);
    // In order: fetched ≤ taken ≤ invoked ≤ returned ≤ committed.
    const steps = [
      first?.slices[0]?.fetchedAtMs,
      first?.takenAtMs,
      invokedAt[0],
      first?.returnedAtMs,
      first?.committedAtMs,
    ];
    expect(steps.every((step) => typeof step === 'number')).toBe(true);
    expect(steps).toEqual([...steps].sort((a = 0, b = 0) => a - b));
  });

  it('does not wait for the window once batchSize records are there', async () => {
    const topic = await createTopic(2);
    const arrivals: { event: MskTriggerEvent; at: number }[] = [];
    await startTrigger({
      topic,
      batchSize: 10,
      batchingWindowMs: 10_000,
      invoke: async (event) => {
        arrivals.push({ event, at: Date.now() });
      },
    });
    const producedAt = Date.now();
    await produce(topic, numberedMessages(0, 10, 2));
    const first = await pollUntil(async () => arrivals[0], { timeoutMs: 10_000, what: 'the first event' });
    expect(recordsOf(first.event)).toHaveLength(10);
    // The 10 s window did not run out first (bound loose for a busy shared machine).
    expect(first.at - producedAt).toBeLessThan(8_000);
  });

  it('retries a failed batch with the same records, holding back its partitions, until it succeeds', async () => {
    const partitions = 4;
    const total = 80;
    const topic = await createTopic(partitions);
    await produce(topic, numberedMessages(0, total, partitions));
    const attempts: { event: MskTriggerEvent; startedAt: number; endedAt: number; ok: boolean }[] = [];
    let failuresLeft = 2;
    let failingBatch: string | undefined;
    const trigger = await startTrigger({
      topic,
      batchSize: 10,
      batchingWindowMs: 50,
      maxConcurrentInvocations: 2,
      retry: { initialDelayMs: 150, maxDelayMs: 1_000 },
      invoke: async (event) => {
        const startedAt = Date.now();
        const identity = positionsOf(event).join(',');
        // The first event holding partition 2 fails twice, whatever else it holds.
        if (failingBatch === undefined && partitionsOf(event).has(2)) failingBatch = identity;
        const fail = identity === failingBatch && failuresLeft > 0;
        if (fail) failuresLeft--;
        attempts.push({ event, startedAt, endedAt: Date.now(), ok: !fail });
        if (fail) throw new Error('handler failure (test)');
      },
    });
    await pollUntil(async () => (trigger.stats().recordsDelivered === total ? true : undefined), {
      timeoutMs: 30_000,
      what: `${total} records delivered`,
    });

    const failedIndex = attempts.findIndex((attempt) => !attempt.ok);
    const failed = attempts[failedIndex];
    if (!failed) throw new Error('no invocation failed');
    const blocked = partitionsOf(failed.event);
    const touchingBlocked = attempts
      .slice(failedIndex)
      .filter((attempt) => [...partitionsOf(attempt.event)].some((partition) => blocked.has(partition)));
    // The next invocations touching those partitions are the retries: same event, same offsets.
    const [, secondAttempt, thirdAttempt] = touchingBlocked;
    expect(secondAttempt?.event).toEqual(failed.event);
    expect(secondAttempt?.ok).toBe(false);
    expect(thirdAttempt?.event).toEqual(failed.event);
    expect(thirdAttempt?.ok).toBe(true);
    // Exponential backoff: about 150 ms, then about 300 ms.
    expect((secondAttempt?.startedAt ?? 0) - failed.endedAt).toBeGreaterThanOrEqual(130);
    expect((thirdAttempt?.startedAt ?? 0) - (secondAttempt?.endedAt ?? 0)).toBeGreaterThanOrEqual(280);
    // Other partitions went on meanwhile.
    const retryIndex = attempts.indexOf(thirdAttempt ?? failed);
    const others = attempts
      .slice(failedIndex + 1, retryIndex)
      .filter((attempt) => ![...partitionsOf(attempt.event)].some((partition) => blocked.has(partition)));
    expect(others.length).toBeGreaterThan(0);

    const successful = attempts.filter((attempt) => attempt.ok);
    const delivered = successful.flatMap((attempt) => positionsOf(attempt.event));
    expect(delivered).toHaveLength(total);
    expect(new Set(delivered).size).toBe(total);
    assertOffsetOrder(successful.map((attempt) => attempt.event));
    expect(trigger.stats()).toMatchObject({ failedInvocations: 2, retries: 2, recordsDelivered: total });
  });

  it('resumes from the committed offsets after a restart: nothing processed twice, nothing lost', async () => {
    const partitions = 4;
    const topic = await createTopic(partitions);
    const groupId = `msk-trigger-test-${randomUUID().slice(0, 8)}`;
    const firstRun: string[] = [];
    const first = await startTrigger({
      topic,
      groupId,
      batchSize: 10,
      batchingWindowMs: 50,
      // Long enough that the stop below comes in the middle of a backoff.
      retry: { initialDelayMs: 5_000, maxDelayMs: 5_000 },
      invoke: async (event) => {
        if (recordsOf(event).some((record) => record.partition === 3 && record.offset >= 10)) {
          throw new Error('partition 3 is failing (test)');
        }
        firstRun.push(...positionsOf(event));
      },
    });
    await produce(topic, numberedMessages(0, 40, partitions));
    await pollUntil(
      async () =>
        first.stats().partitions.filter((partition) => partition.committedOffset === 10).length === partitions
          ? true
          : undefined,
      { timeoutMs: 15_000, what: 'the first 40 records committed' },
    );
    // Five more on partition 3: their batch fails, so it is never committed.
    await produce(
      topic,
      Array.from({ length: 5 }, (_, index) => ({ partition: 3, value: `late-${index}` })),
    );
    await pollUntil(async () => (first.stats().failedInvocations > 0 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'a failed invocation',
    });
    const stopStarted = Date.now();
    await first.stop();
    expect(Date.now() - stopStarted).toBeLessThan(2_000);
    expect(await committedOffsets(groupId, topic)).toEqual({ 0: '10', 1: '10', 2: '10', 3: '10' });

    await produce(topic, numberedMessages(40, 40, partitions));
    const secondRun: string[] = [];
    const second = await startTrigger({
      topic,
      groupId,
      batchSize: 10,
      batchingWindowMs: 50,
      invoke: async (event) => {
        secondRun.push(...positionsOf(event));
      },
    });
    await pollUntil(async () => (second.stats().recordsDelivered === 45 ? true : undefined), {
      timeoutMs: 15_000,
      what: '45 records in the second run',
    });

    const range = (partition: number, from: number, to: number) =>
      Array.from({ length: to - from }, (_, index) => `${partition}:${from + index}`);
    expect(new Set(firstRun)).toEqual(new Set([0, 1, 2, 3].flatMap((partition) => range(partition, 0, 10))));
    expect(firstRun).toHaveLength(40);
    expect(secondRun.sort()).toEqual(
      [...range(0, 10, 20), ...range(1, 10, 20), ...range(2, 10, 20), ...range(3, 10, 25)].sort(),
    );
    await pollUntil(
      async () =>
        second.stats().partitions.every((partition) => partition.inFlight === false) ? true : undefined,
      { timeoutMs: 5_000, what: 'the last commit' },
    );
    expect(await committedOffsets(groupId, topic)).toEqual({ 0: '20', 1: '20', 2: '20', 3: '25' });
  });

  it('stop() waits for the invocation in flight and commits its success', async () => {
    const topic = await createTopic(1);
    const groupId = `msk-trigger-test-${randomUUID().slice(0, 8)}`;
    let entered: () => void = () => {};
    const invocationEntered = new Promise<void>((resolveEntered) => {
      entered = resolveEntered;
    });
    let release: () => void = () => {};
    const invocationReleased = new Promise<void>((resolveRelease) => {
      release = resolveRelease;
    });
    const trigger = await startTrigger({
      topic,
      groupId,
      batchSize: 5,
      invoke: async () => {
        entered();
        await invocationReleased;
      },
    });
    await produce(topic, numberedMessages(0, 5, 1));
    await withTimeout(invocationEntered, 10_000, () => 'the invocation did not start');
    let stopped = false;
    const stopping = trigger.stop().then(() => {
      stopped = true;
    });
    // A bounded look: stop() must still be waiting while the handler runs.
    await sleep(300);
    expect(stopped).toBe(false);
    release();
    await withTimeout(stopping, 5_000, () => 'stop() did not finish after the invocation ended');
    expect(await committedOffsets(groupId, topic)).toEqual({ 0: '5' });
  });

  it('never has two invocations in flight for one partition, even with several invocations at once', async () => {
    const partitions = 4;
    const total = 400;
    const topic = await createTopic(partitions);
    await produce(topic, numberedMessages(0, total, partitions));
    const activePerPartition = new Map<number, number>();
    let active = 0;
    let maxActive = 0;
    let maxPerPartition = 0;
    const started: MskTriggerEvent[] = [];
    const trigger = await startTrigger({
      topic,
      batchSize: 7,
      batchingWindowMs: 20,
      maxConcurrentInvocations: 4,
      invoke: async (event) => {
        started.push(event);
        const touched = [...partitionsOf(event)];
        active++;
        maxActive = Math.max(maxActive, active);
        for (const partition of touched) {
          const count = (activePerPartition.get(partition) ?? 0) + 1;
          activePerPartition.set(partition, count);
          maxPerPartition = Math.max(maxPerPartition, count);
        }
        await sleep(2 + Math.floor(Math.random() * 15)); // simulated work of varying length
        for (const partition of touched) {
          activePerPartition.set(partition, (activePerPartition.get(partition) ?? 1) - 1);
        }
        active--;
      },
    });
    await pollUntil(async () => (trigger.stats().recordsDelivered === total ? true : undefined), {
      timeoutMs: 30_000,
      what: `${total} records delivered`,
    });
    expect(maxPerPartition).toBe(1);
    expect(maxActive).toBeGreaterThan(1);
    const positions = started.flatMap(positionsOf);
    expect(positions).toHaveLength(total);
    expect(new Set(positions).size).toBe(total);
    assertOffsetOrder(started);
  });
});
