import { ConditionalCheckFailedException, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { stackClients, withTimeout } from '../support/stack-clients.ts';

const stack = inject('stack');
const clients = stackClients(stack);

afterAll(() => {
  clients.s3.destroy();
  clients.dynamodb.destroy();
  clients.kinesis.destroy();
});

describe('S3 emulator', () => {
  it('stores an object, serves a byte range of it, and emits an AWS-shaped ObjectCreated notification', async () => {
    const key = `it/notify me ${Date.now()}.csv`;
    const body = 'HEAD,FPGA,TDC_CHANNEL\n1,2,3\n4,5,6\n';
    const consumer = clients.kafka.consumer({
      groupId: `s3-notifications-${Date.now()}`,
      maxWaitTimeInMs: 200,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: stack.s3NotificationTopic, fromBeginning: true });
    const notification = new Promise<unknown>((resolveNotification) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          const event = JSON.parse(message.value?.toString() ?? '{}');
          if (
            event.Records?.[0]?.s3?.object?.key ===
            encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/')
          ) {
            resolveNotification(event);
          }
        },
      });
    });

    const put = await clients.s3.send(
      new PutObjectCommand({ Bucket: stack.datasetBucket, Key: key, Body: body }),
    );
    const range = await clients.s3.send(
      new GetObjectCommand({ Bucket: stack.datasetBucket, Key: key, Range: 'bytes=22-26' }),
    );

    expect(await range.Body?.transformToString()).toBe(body.slice(22, 27));
    expect(range.ContentRange).toBe(`bytes 22-26/${body.length}`);
    const event = await withTimeout(notification, 30_000, () => 'no S3 notification within 30 s').finally(
      () => consumer.disconnect(),
    );
    expect(event).toMatchObject({
      Records: [
        {
          eventSource: 'aws:s3',
          eventName: 'ObjectCreated:Put',
          s3: {
            bucket: { name: stack.datasetBucket, arn: `arn:aws:s3:::${stack.datasetBucket}` },
            // AWS delivers keys form-encoded: spaces become "+", slashes stay.
            object: { key: key.replaceAll(' ', '+'), size: body.length, eTag: put.ETag?.replaceAll('"', '') },
          },
        },
      ],
    });
  });
});

describe('DynamoDB emulator', () => {
  it('applies a conditional update once and refuses the same condition afterwards', async () => {
    const key = { pk: { S: `it#${Date.now()}` }, sk: { S: 'partition#0' } };
    const applyIfNewer = (offset: number) =>
      clients.dynamodb.send(
        new UpdateItemCommand({
          TableName: stack.stateTable,
          Key: key,
          UpdateExpression: 'SET lastOffset = :offset ADD hits :hits',
          ConditionExpression: 'attribute_not_exists(lastOffset) OR lastOffset < :offset',
          ExpressionAttributeValues: { ':offset': { N: String(offset) }, ':hits': { N: '5' } },
        }),
      );

    await applyIfNewer(10);
    await expect(applyIfNewer(10)).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    await expect(applyIfNewer(9)).rejects.toBeInstanceOf(ConditionalCheckFailedException);

    const item = await clients.dynamodb.send(
      new GetItemCommand({ TableName: stack.stateTable, Key: key, ConsistentRead: true }),
    );
    expect(item.Item?.hits).toEqual({ N: '5' });
    expect(item.Item?.lastOffset).toEqual({ N: '10' });
  });
});

describe('Kinesis emulator', () => {
  it('puts records on the data_raw stream and reads them back from their shards', async () => {
    const stream = clients.config.streams.raw;
    const tag = `it-${Date.now()}`;
    const payloads = Array.from({ length: 20 }, (_, i) => `${tag}:${i}`);
    const put = await clients.kinesis.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: payloads.map((payload, i) => ({ PartitionKey: `orbit-${i}`, Data: Buffer.from(payload) })),
      }),
    );
    expect(put.FailedRecordCount).toBe(0);

    const shards = (await clients.kinesis.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
    expect(shards).toHaveLength(10);
    // The stream is shared by the whole run (the Kinesis pipeline tests fill it): read each shard
    // from this test's first record in it, not from the shard's start.
    const firstOfShard = new Map<string, string>();
    for (const entry of put.Records ?? []) {
      const { ShardId, SequenceNumber } = entry;
      if (!ShardId || !SequenceNumber) continue;
      const known = firstOfShard.get(ShardId);
      if (known === undefined || BigInt(SequenceNumber) < BigInt(known))
        firstOfShard.set(ShardId, SequenceNumber);
    }
    const read: string[] = [];
    for (const [shardId, sequenceNumber] of firstOfShard) {
      expect(shards.map((shard) => shard.ShardId)).toContain(shardId);
      const iterator = await clients.kinesis.send(
        new GetShardIteratorCommand({
          StreamName: stream,
          ShardId: shardId,
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          StartingSequenceNumber: sequenceNumber,
        }),
      );
      const records = await clients.kinesis.send(
        new GetRecordsCommand({ ShardIterator: iterator.ShardIterator, Limit: 1000 }),
      );
      for (const record of records.Records ?? []) {
        const text = Buffer.from(record.Data ?? new Uint8Array()).toString();
        if (text.startsWith(tag)) read.push(text);
      }
    }
    expect(read.sort()).toEqual([...payloads].sort());
  });
});
