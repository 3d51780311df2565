/**
 * Moves a trigger that has not started yet (`TriggerOverrides.paused`) past everything its source
 * holds now, so that it delivers only what is written later: over Kafka its consumer group's
 * offsets go to the partitions' ends; over Kinesis its checkpoints go to each shard's last record.
 * What another test file's runtime left unconsumed (a pipeline stopped mid-way leaves some, by
 * design) then cannot share a batch with this test's records.
 */
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { CheckpointStore } from '../../localstack/kinesis-trigger.ts';
import { kinesisTriggerCheckpoints } from '../../localstack/kinesis-triggers.ts';
import { triggerGroupId } from '../../localstack/runtime.ts';
import type { StackInfo } from '../../localstack/stack-files.ts';
import type { Kafka } from '../../shared/adapters/kafka.ts';
import { listShards } from '../../shared/adapters/kinesis.ts';

async function skipKafkaTopic(kafka: Kafka, groupId: string, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
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

/** The sequence number of the shard's last record after `from` (Kinesis has no "end offset" call). */
async function lastSequenceNumber(
  client: KinesisClient,
  stream: string,
  shardId: string,
  from: string | undefined,
): Promise<string | undefined> {
  let iterator = (
    await client.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: shardId,
        ...(from === undefined
          ? { ShardIteratorType: 'TRIM_HORIZON' }
          : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: from }),
      }),
    )
  ).ShardIterator;
  let last = from;
  while (iterator) {
    const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
    const records = page.Records ?? [];
    last = records[records.length - 1]?.SequenceNumber ?? last;
    // Caught up: an open shard's iterator never ends by itself.
    if (records.length === 0 && (page.MillisBehindLatest ?? 0) === 0) break;
    iterator = page.NextShardIterator;
  }
  return last;
}

async function skipKinesisStream(
  client: KinesisClient,
  checkpoints: CheckpointStore,
  stream: string,
): Promise<void> {
  for (const shard of await listShards(client, stream)) {
    const shardId = shard.ShardId ?? '';
    const from = await checkpoints.get(shardId);
    const last = await lastSequenceNumber(client, stream, shardId, from);
    if (last !== undefined && last !== from) await checkpoints.put(shardId, last);
  }
}

/** Moves `functionId`'s paused trigger on `source` (a topic, or the stream named like it) to its end. */
export function skipUnconsumedRecords(options: {
  readonly clients: { readonly kafka: Kafka; readonly kinesis: KinesisClient };
  readonly stack: StackInfo;
  readonly transport: 'kafka' | 'kinesis';
  readonly functionId: string;
  readonly source: string;
}): Promise<void> {
  const { clients, stack, functionId, source } = options;
  return options.transport === 'kafka'
    ? skipKafkaTopic(clients.kafka, triggerGroupId(stack.stage, functionId, source), source)
    : skipKinesisStream(
        clients.kinesis,
        kinesisTriggerCheckpoints(stack.dataDir, functionId, source),
        source,
      );
}
