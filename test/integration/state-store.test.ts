/**
 * The state store on the real emulators: DynamoDB (dynalite) refuses an item over 400 KB, as AWS
 * does; the same write through the state store lands, with the payload in the state bucket (s3rver)
 * behind a pointer item, and the replaced blob is deleted when the item moves on.
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createDynamoDbItemStore } from '../../shared/adapters/dynamodb.ts';
import { createStateStore } from '../../shared/adapters/state-store.ts';
import type { Json } from '../../shared/core/analysis.ts';
import { stackClients } from '../support/stack-clients.ts';

const stack = inject('stack');
const clients = stackClients(stack);

afterAll(() => {
  clients.s3.destroy();
  clients.dynamodb.destroy();
});

/** About `bytes` of JSON that does not compress away: random hex. */
function payloadOf(bytes: number, tag: string): Json {
  const hex = Array.from({ length: Math.ceil(bytes / 8) }, () =>
    Math.floor(Math.random() * 0xffffffff)
      .toString(16)
      .padStart(8, '0'),
  ).join('');
  return { tag, keys: hex.slice(0, bytes) };
}

async function blobKeysUnder(prefix: string): Promise<string[]> {
  const listed = await clients.s3.send(
    new ListObjectsV2Command({ Bucket: stack.stateBucket, Prefix: prefix }),
  );
  return (listed.Contents ?? []).map((object) => object.Key ?? '');
}

describe('the state store on the local emulators', () => {
  const key = { pk: 'state#it', sk: `overflow-${Date.now()}#data_raw#0` };
  const raw = createDynamoDbItemStore(clients.dynamodb, stack.stateTable);
  const store = createStateStore(clients.config);

  it('DynamoDB itself refuses a 500 KB item', async () => {
    await expect(
      raw.put(
        { pk: key.pk, sk: `${key.sk}-direct`, version: 1, payload: payloadOf(500_000, 'direct') },
        undefined,
      ),
    ).rejects.toThrow(/size/i);
  });

  it('keeps a 500 KB state in the state bucket behind a pointer, and deletes the blob it replaces', async () => {
    const first = payloadOf(500_000, 'first');
    expect(await store.put({ ...key, version: 1, payload: first }, { kind: 'absent' })).toBe(true);

    const pointer = await raw.get(key);
    expect(JSON.stringify(pointer?.payload).length).toBeLessThan(300);
    expect(await store.get(key)).toEqual({ ...key, version: 1, payload: first });
    const blobsAfterFirst = await blobKeysUnder('items/');
    expect(blobsAfterFirst.length).toBeGreaterThan(0);

    const second = payloadOf(450_000, 'second');
    expect(await store.put({ ...key, version: 2, payload: second }, { kind: 'version', version: 1 })).toBe(
      true,
    );
    expect(await store.put({ ...key, version: 2, payload: first }, { kind: 'version', version: 1 })).toBe(
      false,
    );

    expect((await store.query(key.pk)).find((item) => item.sk === key.sk)).toEqual({
      ...key,
      version: 2,
      payload: second,
    });
    // The first version's blob is gone, and the refused write left none: one blob for this item.
    const folderOfItem = (await blobKeysUnder('items/')).filter(
      (blobKey) => !blobsAfterFirst.includes(blobKey),
    );
    expect(folderOfItem).toHaveLength(1);
    expect(await blobKeysUnder('items/')).toHaveLength(blobsAfterFirst.length);
  });
});
