import { afterAll, describe, expect, inject, it } from 'vitest';
import { stackClients, withTimeout } from '../support/stack-clients.ts';

const stack = inject('stack');
const MESSAGES = 100_000;
const SEND_BATCH = 2_000;

describe('the embedded Kafka broker', () => {
  const { kafka, config } = stackClients(stack);
  const topic = config.topics.raw;
  const admin = kafka.admin();

  afterAll(async () => {
    // Leave data_raw empty for the tests that follow (they read it from the beginning).
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.deleteTopicRecords({
      topic,
      partitions: offsets.map(({ partition, high }) => ({ partition, offset: high })),
    });
    await admin.disconnect();
  });

  it('round-trips 100,000 messages over the 10 partitions of data_raw: none lost, order kept per partition', async () => {
    await admin.connect();
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = metadata.topics[0]?.partitions.length ?? 0;
    expect(partitions).toBe(10);
    const before = await admin.fetchTopicOffsets(topic);

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    // Message i goes to partition i % 10 with value "i": per partition the values must come back
    // in increasing order, and all of 0..N-1 exactly once.
    for (let start = 0; start < MESSAGES; start += SEND_BATCH) {
      const messages = [];
      for (let i = start; i < Math.min(start + SEND_BATCH, MESSAGES); i++) {
        messages.push({ partition: i % partitions, key: `k${i}`, value: String(i) });
      }
      await producer.send({ topic, acks: -1, messages });
    }
    await producer.disconnect();

    const seen = new Uint8Array(MESSAGES);
    const lastPerPartition = new Array<number>(partitions).fill(-1);
    let received = 0;
    let outOfOrder = 0;
    let wrongPartition = 0;
    const consumer = kafka.consumer({ groupId: `roundtrip-${Date.now()}`, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise<void>((resolveDone) => {
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) {
            // Only what this test produced (after the offsets read before producing).
            const start = Number(before.find((entry) => entry.partition === batch.partition)?.high ?? 0);
            if (Number(message.offset) < start) continue;
            const value = Number(message.value?.toString());
            if (value % partitions !== batch.partition) wrongPartition++;
            if (value <= (lastPerPartition[batch.partition] ?? -1)) outOfOrder++;
            lastPerPartition[batch.partition] = value;
            if (seen[value] === 0) received++;
            seen[value] = (seen[value] ?? 0) + 1;
          }
          if (received === MESSAGES) resolveDone();
        },
      });
    });
    try {
      await withTimeout(done, 120_000, () => `only ${received} of ${MESSAGES} messages arrived within 120 s`);
    } finally {
      await consumer.disconnect();
    }

    expect(received).toBe(MESSAGES);
    expect(seen.every((count) => count === 1)).toBe(true);
    expect(outOfOrder).toBe(0);
    expect(wrongPartition).toBe(0);
  });
});
