/**
 * Everything a topic (Kafka) or stream (Kinesis) holds right now, as UTF-8 texts in order per
 * partition or shard: what a test reads from data_clean or data_dead over either transport.
 */
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { Kafka } from '../../shared/adapters/kafka.ts';
import { listShards } from '../../shared/adapters/kinesis.ts';
import { decodeEnvelope } from '../../shared/core/record-envelope.ts';

async function readKafkaTopic(kafka: Kafka, topic: string): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  await admin.disconnect();
  const pending = new Set([...ends].filter(([, end]) => end > 0).map(([partition]) => partition));
  const texts: string[] = [];
  if (pending.size === 0) return texts;
  const consumer = kafka.consumer({ groupId: `read-all-${Date.now()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolveAll, rejectAll) => {
    void consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          if (Number(message.offset) >= (ends.get(partition) ?? 0)) return;
          texts.push(message.value?.toString('utf8') ?? '');
          if (Number(message.offset) + 1 >= (ends.get(partition) ?? 0)) pending.delete(partition);
          if (pending.size === 0) resolveAll();
        },
      })
      .catch(rejectAll);
  });
  await consumer.disconnect();
  return texts;
}

async function readKinesisStream(client: KinesisClient, stream: string): Promise<string[]> {
  const texts: string[] = [];
  for (const shard of await listShards(client, stream)) {
    let iterator = (
      await client.send(
        new GetShardIteratorCommand({
          StreamName: stream,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      )
    ).ShardIterator;
    while (iterator) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      for (const record of page.Records ?? [])
        texts.push(Buffer.from(decodeEnvelope(record.Data ?? new Uint8Array()).value).toString('utf8'));
      // Caught up: nothing more right now (an open shard's iterator never ends by itself).
      if ((page.Records ?? []).length === 0 && (page.MillisBehindLatest ?? 0) === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return texts;
}

export function readAll(
  clients: { readonly kafka: Kafka; readonly kinesis: KinesisClient },
  transport: 'kafka' | 'kinesis',
  name: string,
): Promise<string[]> {
  return transport === 'kafka'
    ? readKafkaTopic(clients.kafka, name)
    : readKinesisStream(clients.kinesis, name);
}
