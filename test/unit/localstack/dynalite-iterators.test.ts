import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import {
  dynaliteIteratorPrototype,
  type RunningEmulators,
  startEmulators,
} from '../../../localstack/emulators.ts';
import { createDynamoDbClient } from '../../../shared/adapters/dynamodb.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Counts the closes of dynalite's LevelDB iterators from now on. */
function countIteratorCloses(): { readonly count: () => number } {
  const prototype = dynaliteIteratorPrototype();
  const close = prototype.close;
  let closes = 0;
  prototype.close = function (this: typeof prototype) {
    closes++;
    return close.call(this);
  };
  cleanups.push(async () => {
    prototype.close = close;
  });
  return { count: () => closes };
}

async function emulators(): Promise<RunningEmulators> {
  const dataDir = await mkdtemp(join(tmpdir(), 'driftline-dynalite-'));
  const running = await startEmulators({ dataDir, s3Port: 0, dynamodbPort: 0, kinesisPort: 0, buckets: [] });
  cleanups.push(async () => {
    await running.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return running;
}

// Regression test; the bug it caught was: dynalite 4 never closed the LevelDB iterator of a Query
// or Scan (its stream's destroy calls `iterator.return`, which abstract-level's iterators lack), and
// each held a snapshot: every table file stayed on disk and open, and the stack daemon's memory
// grew ~28 MiB per million rows in the soak. Fixed by: giving the iterators that `return`.
describe("the DynamoDB emulator's LevelDB iterators", () => {
  it('are closed after each Query, whether it read to the end of its range or stopped at its Limit', async () => {
    // Arrange
    const running = await emulators();
    const client = createDynamoDbClient({
      region: 'us-east-1',
      dynamodbEndpoint: `http://127.0.0.1:${running.dynamodbPort}`,
    });
    cleanups.push(async () => client.destroy());
    await client.send(
      new CreateTableCommand({
        TableName: 'iterators',
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
      }),
    );
    for (let index = 0; index < 20; index++) {
      await client.send(
        new PutItemCommand({ TableName: 'iterators', Item: { pk: { S: 'p' }, sk: { S: `item-${index}` } } }),
      );
    }
    const closes = countIteratorCloses();

    // Act: three queries to the end of the range, three stopped by their Limit.
    for (const limit of [undefined, 3, undefined, 1, undefined, 5]) {
      const answer = await client.send(
        new QueryCommand({
          TableName: 'iterators',
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': { S: 'p' } },
          ...(limit === undefined ? {} : { Limit: limit }),
        }),
      );
      expect(answer.Items?.length).toBe(limit ?? 20);
    }

    // Assert: the closes come just after the answers; poll with a deadline.
    const deadline = Date.now() + 10_000;
    while (closes.count() < 6 && Date.now() < deadline) await new Promise((wait) => setTimeout(wait, 20));
    expect(closes.count(), 'LevelDB iterators closed after 6 Queries').toBeGreaterThanOrEqual(6);
  });
});
