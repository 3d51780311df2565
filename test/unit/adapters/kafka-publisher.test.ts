/**
 * The Kafka publisher replaces an idempotent producer whose session the broker no longer accepts
 * (OUT_OF_ORDER_SEQUENCE_NUMBER after a broker restart with sends in flight): before, every later
 * send of that function container failed the same way, for ever.
 */
import { describe, expect, it } from 'vitest';
import type { Kafka } from '../../../shared/adapters/kafka.ts';
import { createKafkaPublisher } from '../../../shared/adapters/kafka.ts';

/** A stand-in Kafka whose first producer fails every send as kafkajs does for a broken session. */
function standInKafka() {
  const producers: { sends: number; disconnected: boolean }[] = [];
  const kafka = {
    producer() {
      const record = { sends: 0, disconnected: false };
      const broken = producers.length === 0;
      producers.push(record);
      return {
        connect: async () => {},
        disconnect: async () => {
          record.disconnected = true;
        },
        send: async () => {
          record.sends += 1;
          if (broken) {
            const cause = Object.assign(new Error('The broker received an out of order sequence number'), {
              type: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
            });
            throw new Error('non-retriable', { cause });
          }
          return [];
        },
      };
    },
  };
  // Only `producer` is used by the publisher.
  return { kafka: kafka as unknown as Kafka, producers };
}

describe('createKafkaPublisher: a producer session the broker refuses', () => {
  it('fails that send, then publishes with a new producer', async () => {
    // Arrange
    const { kafka, producers } = standInKafka();
    const publisher = createKafkaPublisher(kafka);
    const message = { key: 'k', value: 'v' };

    // Act
    const first = await publisher.publish('data_raw', [message]).then(
      () => 'sent',
      (error: unknown) => error,
    );
    await publisher.publish('data_raw', [message]);

    // Assert
    expect(first).toBeInstanceOf(Error);
    expect(producers).toHaveLength(2);
    expect(producers[0]).toEqual({ sends: 1, disconnected: true });
    expect(producers[1]?.sends).toBe(1);
  });
});
