/**
 * The stack's TTL deletion (localstack/dynamodb-ttl.ts), against the real DynamoDB emulator:
 * dynalite has no TTL of its own, so without the sweep every batch summary and rollup stays for ever.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { startTtlSweeper, sweepExpired } from '../../../localstack/dynamodb-ttl.ts';
import { startEmulators } from '../../../localstack/emulators.ts';
import type { TableDefinition } from '../../../localstack/service-definition.ts';
import { createDynamoDbClient } from '../../../shared/adapters/dynamodb.ts';
import { pollUntil } from '../../support/stack-clients.ts';

const NOW = 1_800_000_000;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function table(name: string, ttlAttribute: string | undefined): TableDefinition {
  return {
    name,
    keySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    attributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ],
    ttlAttribute,
  };
}

async function dynamodb(definition: TableDefinition): Promise<DynamoDBClient> {
  const dataDir = await mkdtemp(join(tmpdir(), 'driftline-ttl-'));
  const running = await startEmulators({ dataDir, s3Port: 0, dynamodbPort: 0, kinesisPort: 0, buckets: [] });
  const client = createDynamoDbClient({
    region: 'us-east-1',
    dynamodbEndpoint: `http://127.0.0.1:${running.dynamodbPort}`,
  });
  cleanups.push(async () => {
    client.destroy();
    await running.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  await client.send(
    new CreateTableCommand({
      TableName: definition.name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [...definition.keySchema],
      AttributeDefinitions: [...definition.attributeDefinitions],
    }),
  );
  // dynalite answers CreateTable before the table is ACTIVE (as DynamoDB does).
  await pollUntil(
    async () => {
      const described = await client.send(new DescribeTableCommand({ TableName: definition.name }));
      return described.Table?.TableStatus === 'ACTIVE' ? true : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 20, what: `table ${definition.name} to be ACTIVE` },
  );
  return client;
}

/** Items sk 00000…, each with expiresAt = `expiresAt(i)` (none when undefined). */
async function putItems(
  client: DynamoDBClient,
  name: string,
  count: number,
  expiresAt: (i: number) => number | undefined,
) {
  for (let start = 0; start < count; start += 25) {
    const requests = Array.from({ length: Math.min(25, count - start) }, (_, offset) => {
      const i = start + offset;
      const expiry = expiresAt(i);
      return {
        PutRequest: {
          Item: {
            pk: { S: 'p' },
            sk: { S: String(i).padStart(5, '0') },
            payload: { S: 'x'.repeat(100) },
            ...(expiry === undefined ? {} : { expiresAt: { N: String(expiry) } }),
          },
        },
      };
    });
    await client.send(new BatchWriteItemCommand({ RequestItems: { [name]: requests } }));
  }
}

async function remainingKeys(client: DynamoDBClient, name: string): Promise<string[]> {
  const keys: string[] = [];
  let startKey: Record<string, never> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: name, ExclusiveStartKey: startKey }));
    keys.push(...(page.Items ?? []).map((item) => item.sk?.S ?? '?'));
    startKey = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (startKey);
  return keys.sort();
}

describe('the local TTL sweep', () => {
  it('deletes exactly the expired items, over several scan pages, and keeps the rest', async () => {
    const definition = table('state', 'expiresAt');
    const client = await dynamodb(definition);
    // 1,200 items: every third without an expiry, of the rest the even ones expired a second ago.
    const expiry = (i: number) => (i % 3 === 0 ? undefined : i % 2 === 0 ? NOW - 1 : NOW + 60);
    await putItems(client, 'state', 1200, expiry);
    const expired = Array.from({ length: 1200 }, (_, i) => i).filter((i) => expiry(i) === NOW - 1);

    const deleted = await sweepExpired(client, definition, NOW);

    expect(deleted).toBe(expired.length);
    const kept = Array.from({ length: 1200 }, (_, i) => i)
      .filter((i) => expiry(i) !== NOW - 1)
      .map((i) => String(i).padStart(5, '0'));
    expect(await remainingKeys(client, 'state')).toEqual(kept);
  }, 60_000);

  it('keeps an item written again with a later expiry between the scan and its delete', async () => {
    const definition = table('state', 'expiresAt');
    const client = await dynamodb(definition);
    await putItems(client, 'state', 3, () => NOW - 10);
    // The pipeline rewrites item 00001 just before the sweep's delete of it reaches the table.
    const racing = {
      send: async (command: unknown) => {
        if (command instanceof DeleteItemCommand && command.input.Key?.sk?.S === '00001') {
          await client.send(
            new PutItemCommand({
              TableName: 'state',
              Item: { pk: { S: 'p' }, sk: { S: '00001' }, expiresAt: { N: String(NOW + 3600) } },
            }),
          );
        }
        return client.send(command as never);
      },
    } as unknown as DynamoDBClient;

    expect(await sweepExpired(racing, definition, NOW)).toBe(2);
    expect(await remainingKeys(client, 'state')).toEqual(['00001']);
  }, 60_000);

  it('leaves a table without a TTL attribute alone', async () => {
    const definition = table('plain', undefined);
    const client = await dynamodb(definition);
    await putItems(client, 'plain', 5, () => NOW - 10);
    expect(await sweepExpired(client, definition, NOW)).toBe(0);
    expect(await remainingKeys(client, 'plain')).toHaveLength(5);
  }, 60_000);

  it('sweeps once at start, then every interval, and says what it deleted', async () => {
    const definition = table('state', 'expiresAt');
    const client = await dynamodb(definition);
    await putItems(client, 'state', 4, (i) => (i < 2 ? NOW - 1 : NOW + 5));
    let now = NOW;
    const lines: string[] = [];
    const sweeper = startTtlSweeper({
      client,
      tables: [definition],
      intervalMs: 50,
      log: (line) => lines.push(line),
      nowSeconds: () => now,
    });
    cleanups.push(() => sweeper.stop());
    await pollUntil(async () => ((await remainingKeys(client, 'state')).length === 2 ? true : undefined), {
      timeoutMs: 20_000,
      what: 'the first sweep to delete the 2 expired items',
      explain: () => lines.join('\n'),
    });
    now = NOW + 10;
    await pollUntil(async () => ((await remainingKeys(client, 'state')).length === 0 ? true : undefined), {
      timeoutMs: 20_000,
      what: 'a later sweep to delete the 2 items that expired since',
      explain: () => lines.join('\n'),
    });
    await sweeper.stop();
    expect(lines).toEqual([
      'TTL: deleted 2 expired items from state',
      'TTL: deleted 2 expired items from state',
    ]);
  }, 60_000);
});
