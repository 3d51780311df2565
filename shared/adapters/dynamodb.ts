/**
 * The DynamoDB adapter: the only file that imports the DynamoDB SDK. Implements the pipeline's
 * ItemStore with single-item conditional writes (no transactions). Item layout: pk, sk, version (N),
 * payload (S, JSON), expiresAt (N, epoch seconds, the table's TTL attribute).
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { z } from 'zod';
import type { FunctionConfig } from '../config.ts';
import type { Json } from '../core/analysis.ts';
import { setRecent } from '../core/recent-map.ts';
import {
  type ItemKey,
  type ItemStore,
  RetryableError,
  type StoredItem,
  type WriteCondition,
} from '../pipeline/ports.ts';
import { itemIdentity } from '../pipeline/state-keys.ts';

/** Used when the caller gives none (tools and tests); the functions' comes from the configuration. */
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export function createDynamoDbClient(
  aws: Pick<FunctionConfig['aws'], 'region' | 'dynamodbEndpoint' | 'dynamodbRequestTimeoutMs'>,
): DynamoDBClient {
  // The SDK's default is no timeout at all, and a timeout that only logs a warning: a request whose
  // answer never comes would hold its invocation, and the trigger's partitions, for ever.
  const requestHandler = new NodeHttpHandler({
    connectionTimeout: 3_000,
    requestTimeout: aws.dynamodbRequestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    throwOnRequestTimeout: true,
  });
  if (!aws.dynamodbEndpoint) return new DynamoDBClient({ region: aws.region, requestHandler });
  return new DynamoDBClient({
    region: aws.region,
    endpoint: aws.dynamodbEndpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler,
  });
}

const jsonValue: z.ZodType<Json> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonValue),
    z.record(z.string(), jsonValue),
  ]),
);

function toItem(raw: Record<string, AttributeValue>): StoredItem {
  const pk = raw.pk?.S;
  const sk = raw.sk?.S;
  const payloadText = raw.payload?.S;
  if (pk === undefined || sk === undefined || payloadText === undefined) {
    throw new Error(`malformed state item ${pk ?? '?'}/${sk ?? '?'}: pk, sk and payload are required`);
  }
  const expiresAt = raw.expiresAt?.N;
  return {
    pk,
    sk,
    version: Number(raw.version?.N ?? 0),
    payload: jsonValue.parse(JSON.parse(payloadText)),
    ...(expiresAt === undefined ? {} : { expiresAt: Number(expiresAt) }),
  };
}

function isExpired(item: StoredItem, nowSeconds: number): boolean {
  return item.expiresAt !== undefined && item.expiresAt < nowSeconds;
}

/** Versions this process wrote last, per item; bounded (the oldest are forgotten first). */
const REMEMBERED_WRITES = 20_000;

type QueryRange = NonNullable<Parameters<ItemStore['query']>[1]>;

function keyOf(key: ItemKey): Record<string, AttributeValue> {
  return { pk: { S: key.pk }, sk: { S: key.sk } };
}

function attributesOf(item: StoredItem): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {
    ...keyOf(item),
    version: { N: String(item.version) },
    payload: { S: JSON.stringify(item.payload) },
  };
  if (item.expiresAt !== undefined) attributes.expiresAt = { N: String(Math.floor(item.expiresAt)) };
  return attributes;
}

function conditionOf(condition: WriteCondition | undefined) {
  if (condition?.kind === 'absent') return { ConditionExpression: 'attribute_not_exists(pk)' };
  if (condition?.kind === 'version') {
    return {
      ConditionExpression: '#version = :expected',
      ExpressionAttributeNames: { '#version': 'version' },
      ExpressionAttributeValues: { ':expected': { N: String(condition.version) } },
    };
  }
  return {};
}

/** The key condition of a query: the partition key, and the sort key's range if one is given. */
function keyConditionOf(pk: string, range: QueryRange) {
  const names: Record<string, string> = { '#pk': 'pk' };
  const values: Record<string, AttributeValue> = { ':pk': { S: pk } };
  let condition = '#pk = :pk';
  if (range.from !== undefined || range.to !== undefined) names['#sk'] = 'sk';
  if (range.from !== undefined) values[':from'] = { S: range.from };
  if (range.to !== undefined) values[':to'] = { S: range.to };
  if (range.from !== undefined && range.to !== undefined) condition += ' AND #sk BETWEEN :from AND :to';
  else if (range.from !== undefined) condition += ' AND #sk >= :from';
  else if (range.to !== undefined) condition += ' AND #sk <= :to';
  return {
    KeyConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

class DynamoDbItemStore implements ItemStore {
  // Read-your-writes check. Every exactly-once guarantee here rests on "a consistent read returns
  // the last acknowledged write": a read older than a write this very process made would let the
  // next conditional write build on stale state and lose counts. DynamoDB never does that; the
  // local emulator (dynalite) was seen doing it for items of ~200 KB on a busy machine (README,
  // "State of any size"). The check costs a map lookup and turns such a lapse into a retry.
  private readonly lastWrite = new Map<
    string,
    { readonly version: number; readonly expiresAt: number | undefined }
  >();

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly onStaleRead: ((details: Record<string, unknown>) => void) | undefined,
  ) {}

  async get(key: ItemKey): Promise<StoredItem | undefined> {
    const result = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: keyOf(key), ConsistentRead: true }),
    );
    const item = result.Item ? toItem(result.Item) : undefined;
    const nowSeconds = Date.now() / 1000;
    this.refuseStaleRead(key, item, nowSeconds);
    if (!item) return undefined;
    // TTL deletion is lazy on AWS and absent locally: an expired item counts as gone.
    return isExpired(item, nowSeconds) ? undefined : item;
  }

  async put(item: StoredItem, condition: WriteCondition | undefined): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: attributesOf(item),
          ...conditionOf(condition),
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
    const written = { version: item.version, expiresAt: item.expiresAt };
    setRecent(this.lastWrite, itemIdentity(item), written, REMEMBERED_WRITES);
    return true;
  }

  async query(pk: string, range: QueryRange = {}): Promise<StoredItem[]> {
    const items: StoredItem[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    const nowSeconds = Date.now() / 1000;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          ...keyConditionOf(pk, range),
          ScanIndexForward: !range.descending,
          ConsistentRead: true,
          ...(range.limit === undefined ? {} : { Limit: range.limit - items.length }),
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const raw of page.Items ?? []) {
        const item = toItem(raw);
        if (!isExpired(item, nowSeconds)) items.push(item);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey && (range.limit === undefined || items.length < range.limit));
    return items;
  }

  /** Throws (retryably) when `item` is older than a version this process wrote itself. */
  private refuseStaleRead(key: ItemKey, item: StoredItem | undefined, nowSeconds: number): void {
    const written = this.lastWrite.get(itemIdentity(key));
    // An item this process wrote with a TTL that has passed may be gone for good: no check.
    const mayBeGone = written?.expiresAt !== undefined && written.expiresAt < nowSeconds;
    if (written === undefined || mayBeGone || (item?.version ?? 0) >= written.version) return;
    this.onStaleRead?.({ pk: key.pk, sk: key.sk, read: item?.version ?? null, written: written.version });
    throw new RetryableError(
      `stale read of ${key.pk}/${key.sk}: version ${item?.version ?? 'none'} after this process wrote version ${written.version}`,
    );
  }
}

export function createDynamoDbItemStore(
  client: DynamoDBClient,
  tableName: string,
  options: { readonly onStaleRead?: (details: Record<string, unknown>) => void } = {},
): ItemStore {
  return new DynamoDbItemStore(client, tableName, options.onStaleRead);
}
