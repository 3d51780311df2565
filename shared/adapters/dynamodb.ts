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
import { z } from 'zod';
import type { FunctionConfig } from '../config.ts';
import type { Json } from '../core/analysis.ts';
import type { ItemKey, ItemStore, StoredItem, WriteCondition } from '../pipeline/ports.ts';

export function createDynamoDbClient(
  aws: Pick<FunctionConfig['aws'], 'region' | 'dynamodbEndpoint'>,
): DynamoDBClient {
  if (!aws.dynamodbEndpoint) return new DynamoDBClient({ region: aws.region });
  return new DynamoDBClient({
    region: aws.region,
    endpoint: aws.dynamodbEndpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
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

export function createDynamoDbItemStore(client: DynamoDBClient, tableName: string): ItemStore {
  const keyOf = (key: ItemKey) => ({ pk: { S: key.pk }, sk: { S: key.sk } });
  return {
    async get(key) {
      const result = await client.send(
        new GetItemCommand({ TableName: tableName, Key: keyOf(key), ConsistentRead: true }),
      );
      if (!result.Item) return undefined;
      const item = toItem(result.Item);
      // TTL deletion is lazy on AWS and absent locally: an expired item counts as gone.
      return isExpired(item, Date.now() / 1000) ? undefined : item;
    },

    async put(item, condition?: WriteCondition) {
      const attributes: Record<string, AttributeValue> = {
        ...keyOf(item),
        version: { N: String(item.version) },
        payload: { S: JSON.stringify(item.payload) },
      };
      if (item.expiresAt !== undefined) attributes.expiresAt = { N: String(Math.floor(item.expiresAt)) };
      try {
        await client.send(
          new PutItemCommand({
            TableName: tableName,
            Item: attributes,
            ...(condition?.kind === 'absent' ? { ConditionExpression: 'attribute_not_exists(pk)' } : {}),
            ...(condition?.kind === 'version'
              ? {
                  ConditionExpression: '#version = :expected',
                  ExpressionAttributeNames: { '#version': 'version' },
                  ExpressionAttributeValues: { ':expected': { N: String(condition.version) } },
                }
              : {}),
          }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    },

    async query(pk, range = {}) {
      const items: StoredItem[] = [];
      let startKey: Record<string, AttributeValue> | undefined;
      const names: Record<string, string> = { '#pk': 'pk' };
      const values: Record<string, AttributeValue> = { ':pk': { S: pk } };
      let condition = '#pk = :pk';
      if (range.from !== undefined && range.to !== undefined) {
        condition += ' AND #sk BETWEEN :from AND :to';
        names['#sk'] = 'sk';
        values[':from'] = { S: range.from };
        values[':to'] = { S: range.to };
      } else if (range.from !== undefined) {
        condition += ' AND #sk >= :from';
        names['#sk'] = 'sk';
        values[':from'] = { S: range.from };
      } else if (range.to !== undefined) {
        condition += ' AND #sk <= :to';
        names['#sk'] = 'sk';
        values[':to'] = { S: range.to };
      }
      const nowSeconds = Date.now() / 1000;
      do {
        const page = await client.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: condition,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
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
    },
  };
}
