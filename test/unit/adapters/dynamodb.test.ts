/**
 * The DynamoDB adapter's read-your-writes check, against a stand-in client that can answer a read
 * with an older version of an item, as the local emulator was seen doing under load.
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { createDynamoDbItemStore } from '../../../shared/adapters/dynamodb.ts';
import { RetryableError } from '../../../shared/pipeline/ports.ts';

type Item = Record<string, AttributeValue>;

/** Keeps every version of every item; `staleReads` makes the next reads answer the previous one. */
function standInClient() {
  const history = new Map<string, Item[]>();
  const state = { staleReads: 0 };
  const id = (key: Item) => `${key.pk?.S}\u0000${key.sk?.S}`;
  const client = {
    async send(command: unknown) {
      if (command instanceof PutItemCommand) {
        const item = command.input.Item ?? {};
        history.set(id(item), [...(history.get(id(item)) ?? []), item]);
        return {};
      }
      if (command instanceof GetItemCommand) {
        const versions = history.get(id(command.input.Key ?? {})) ?? [];
        const back = state.staleReads > 0 ? 2 : 1;
        if (state.staleReads > 0) state.staleReads -= 1;
        const item = versions[versions.length - back];
        return item ? { Item: item } : {};
      }
      throw new Error('unexpected command');
    },
  };
  // Only `send` is used by the adapter.
  return { client: client as unknown as DynamoDBClient, state };
}

const KEY = { pk: 'state#sf', sk: 'run#data_raw#3' };

describe('createDynamoDbItemStore: read-your-writes', () => {
  it('refuses, as retryable, a read older than a version this process wrote', async () => {
    const { client, state } = standInClient();
    const stale: Record<string, unknown>[] = [];
    const store = createDynamoDbItemStore(client, 'table', { onStaleRead: (details) => stale.push(details) });
    await store.put({ ...KEY, version: 1, payload: { rows: 10 } }, { kind: 'absent' });
    await store.put({ ...KEY, version: 2, payload: { rows: 20 } }, { kind: 'version', version: 1 });

    state.staleReads = 1;
    await expect(store.get(KEY)).rejects.toThrow(RetryableError);
    expect(stale).toEqual([{ pk: KEY.pk, sk: KEY.sk, read: 1, written: 2 }]);
    // The retry reads the current version.
    expect(await store.get(KEY)).toMatchObject({ version: 2, payload: { rows: 20 } });
  });

  it('does not hold another process to its writes: a fresh store reads what is there', async () => {
    const { client, state } = standInClient();
    await createDynamoDbItemStore(client, 'table').put({ ...KEY, version: 1, payload: {} }, undefined);
    await createDynamoDbItemStore(client, 'table').put({ ...KEY, version: 2, payload: {} }, undefined);
    state.staleReads = 1;
    expect(await createDynamoDbItemStore(client, 'table').get(KEY)).toMatchObject({ version: 1 });
  });

  it('does not expect an item whose TTL has passed to be there', async () => {
    const { client, state } = standInClient();
    const store = createDynamoDbItemStore(client, 'table');
    const expired = Math.floor(Date.now() / 1000) - 10;
    await store.put({ ...KEY, version: 1, payload: {}, expiresAt: expired }, undefined);
    await store.put({ ...KEY, version: 2, payload: {}, expiresAt: expired }, undefined);
    state.staleReads = 1;
    expect(await store.get(KEY)).toBeUndefined();
  });
});
