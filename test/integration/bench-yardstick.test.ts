/**
 * The bare kafkajs yardstick of `driftline bench` runs in a process of its own (its own event loop
 * and heap, bench-yardstick-kafkajs.ts): on the real broker it must produce and then read back
 * every record, and a failure in the child must come back as an error that says what failed.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { kafkajsInOwnProcess } from '../../localstack/commands/bench-yardstick-kafkajs.ts';
import { stackClients } from '../support/stack-clients.ts';

const stack = inject('stack');
const RECORDS = 20_000;

describe('the kafkajs yardstick in its own process', () => {
  const { kafka, config } = stackClients(stack);
  const admin = kafka.admin();
  const topic = `yardstick-test-${Date.now()}`;

  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('produces every record to the topic and reads every one back', async () => {
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] });
    const result = await kafkajsInOwnProcess({
      brokers: config.kafka.brokers,
      topic,
      records: RECORDS,
      recordBytes: 31,
    });
    expect(result.kafkajsProducer.records).toBe(RECORDS);
    expect(result.kafkajsConsumer.records).toBe(RECORDS);
    expect(result.kafkajsProducer.recordsPerSecond).toBeGreaterThan(0);
    expect(result.kafkajsConsumer.recordsPerSecond).toBeGreaterThan(0);
    // Counted by the broker, not by the child: the records are there.
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.reduce((sum, { high }) => sum + Number(high), 0)).toBe(RECORDS);
  }, 120_000);

  it('turns a failure in the child into an error naming it', async () => {
    await expect(
      kafkajsInOwnProcess({ brokers: ['127.0.0.1:1'], topic, records: 10, recordBytes: 31 }),
    ).rejects.toThrow(/the kafkajs yardstick failed: .*(connect|ECONNREFUSED)/i);
  }, 120_000);
});
