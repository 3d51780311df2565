/**
 * DynamoDB's Time to Live, which dynalite lacks (it has no UpdateTimeToLive and deletes nothing):
 * the stack deletes the items whose TTL attribute (serverless.yml's TimeToLiveSpecification) has
 * passed, as DynamoDB's background process does. Without it a local stack left running keeps every
 * batch summary and rollup for ever (~1 MiB on disk per million rows in the soak), though readers
 * already ignore expired items (shared/adapters/dynamodb.ts), so a sweep changes no answer.
 *
 * Each delete is conditional on the item being expired still: an item written again with a later
 * expiry between the scan and the delete stays. The deletes go one at a time: dynalite serves its
 * requests one after the other, and a burst of deletes would stall the pipeline's own writes.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import type { TableDefinition } from './service-definition.ts';

/** Items read per Scan page: bounds the sweep's memory whatever the table's size. */
const SCAN_PAGE_ITEMS = 500;

/**
 * Deletes the expired items of `table` (none without a TTL attribute); resolves with how many.
 * `stopped` is asked before each delete, so that a stack stopping does not wait for a whole sweep.
 */
export async function sweepExpired(
  client: DynamoDBClient,
  table: TableDefinition,
  nowSeconds: number,
  stopped: () => boolean = () => false,
): Promise<number> {
  const ttl = table.ttlAttribute;
  if (ttl === undefined) return 0;
  const keyNames = table.keySchema.map((entry) => entry.AttributeName);
  const names = Object.fromEntries([ttl, ...keyNames].map((name, index) => [`#a${index}`, name]));
  const now = { ':now': { N: String(Math.floor(nowSeconds)) } };
  const stillExpired: DeleteCondition = {
    ConditionExpression: '#a0 < :now',
    ExpressionAttributeNames: { '#a0': ttl },
    ExpressionAttributeValues: now,
  };
  let deleted = 0;
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: table.name,
        Limit: SCAN_PAGE_ITEMS,
        FilterExpression: '#a0 < :now',
        ProjectionExpression: Object.keys(names).slice(1).join(', '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: now,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const key of page.Items ?? []) {
      if (stopped()) return deleted;
      deleted += await deleteIfExpired(client, table.name, key, stillExpired);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined && !stopped());
  return deleted;
}

type DeleteCondition = Pick<
  ConstructorParameters<typeof DeleteItemCommand>[0],
  'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
>;

async function deleteIfExpired(
  client: DynamoDBClient,
  tableName: string,
  key: Record<string, AttributeValue>,
  condition: DeleteCondition,
): Promise<number> {
  try {
    await client.send(new DeleteItemCommand({ TableName: tableName, Key: key, ...condition }));
    return 1;
  } catch (error) {
    // Written again with a later expiry since the scan: it lives on.
    if (error instanceof ConditionalCheckFailedException) return 0;
    throw error;
  }
}

export interface TtlSweeper {
  /** Stops the timer and waits for a sweep in progress to finish its current delete. */
  stop(): Promise<void>;
}

/**
 * Sweeps every table with a TTL attribute every `intervalMs`, the first time at once (a restarted
 * stack clears what expired while it was down). A failed sweep is logged and tried again next time.
 */
export function startTtlSweeper(options: {
  readonly client: DynamoDBClient;
  readonly tables: readonly TableDefinition[];
  readonly intervalMs: number;
  readonly log: (line: string) => void;
  readonly nowSeconds?: () => number;
}): TtlSweeper {
  const nowSeconds = options.nowSeconds ?? (() => Date.now() / 1000);
  let running: Promise<void> = Promise.resolve();
  let stopping = false;
  const sweep = async () => {
    for (const table of options.tables) {
      if (stopping) return;
      try {
        const deleted = await sweepExpired(options.client, table, nowSeconds(), () => stopping);
        if (deleted > 0) options.log(`TTL: deleted ${deleted} expired items from ${table.name}`);
      } catch (error) {
        // Not created yet (a fresh stack's first sweep may come first): nothing to delete.
        if (error instanceof ResourceNotFoundException) continue;
        options.log(`TTL: the sweep of ${table.name} failed, tried again later: ${String(error)}`);
      }
    }
  };
  const tick = () => {
    running = running.then(sweep);
  };
  tick();
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      stopping = true;
      clearInterval(timer);
      await running;
    },
  };
}
