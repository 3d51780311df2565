/**
 * State items too large for DynamoDB, kept in a blob store behind a pointer item. The point of the
 * layer: callers see the same ItemStore semantics (conditional puts, versions, queries) whatever the
 * payload size, and no blob is left behind by ordinary use.
 */
import { describe, expect, it } from 'vitest';
import type { Json } from '../../../shared/core/analysis.ts';
import { MissingBlobError, withBlobOverflow } from '../../../shared/pipeline/overflow-store.ts';
import type { StoredItem } from '../../../shared/pipeline/ports.ts';
import { InMemoryBlobStore, InMemoryItemStore } from '../../support/fakes.ts';

const INLINE_MAX = 1_000;
const KEY = { pk: 'state#sf', sk: 'sf/run.json@abc#data_raw#3' };

/** A payload whose JSON is about `bytes` long. */
function payloadOf(bytes: number, tag = 'x'): Json {
  return { tag, fill: 'k'.repeat(Math.max(0, bytes - 30)) };
}

function setup() {
  const items = new InMemoryItemStore();
  const blobs = new InMemoryBlobStore();
  const orphans: string[] = [];
  let ids = 0;
  const store = withBlobOverflow(items, blobs, {
    inlineMaxBytes: INLINE_MAX,
    newId: () => `id${++ids}`,
    onOrphan: (blobKey) => orphans.push(blobKey),
  });
  return { items, blobs, store, orphans };
}

function item(version: number, payload: Json, extra: Partial<StoredItem> = {}): StoredItem {
  return { ...KEY, version, payload, ...extra };
}

describe('withBlobOverflow', () => {
  it('keeps small payloads in the item itself and writes no blob', async () => {
    const { items, blobs, store } = setup();
    expect(await store.put(item(1, payloadOf(200)), { kind: 'absent' })).toBe(true);
    expect(blobs.objects.size).toBe(0);
    expect(items.snapshot()[0]?.payload).toEqual(payloadOf(200));
    expect((await store.get(KEY))?.payload).toEqual(payloadOf(200));
  });

  it('moves a large payload to a blob; the item holds a small pointer; get and query give it back', async () => {
    const { items, blobs, store } = setup();
    const big = payloadOf(50_000);
    expect(await store.put(item(1, big), { kind: 'absent' })).toBe(true);

    expect(blobs.objects.size).toBe(1);
    const raw = items.snapshot()[0];
    expect(JSON.stringify(raw?.payload).length).toBeLessThan(200);
    expect(raw?.version).toBe(1);
    expect(await store.get(KEY)).toEqual(item(1, big));
    expect(await store.query(KEY.pk)).toEqual([item(1, big)]);
  });

  it('keeps the conditional-write semantics: a stale version is refused and its blob removed', async () => {
    const { blobs, store } = setup();
    await store.put(item(1, payloadOf(5_000, 'first')), { kind: 'absent' });
    await store.get(KEY);
    expect(await store.put(item(2, payloadOf(5_000, 'second')), { kind: 'version', version: 1 })).toBe(true);

    // A writer that read version 1 loses the race.
    expect(await store.put(item(2, payloadOf(5_000, 'late')), { kind: 'version', version: 1 })).toBe(false);
    expect((await store.get(KEY))?.payload).toEqual(payloadOf(5_000, 'second'));
    expect(blobs.objects.size).toBe(1);
  });

  it('deletes the blob a write replaced, so a long run leaves one blob per item', async () => {
    const { blobs, store } = setup();
    await store.put(item(1, payloadOf(3_000, 'v1')), { kind: 'absent' });
    for (let version = 2; version <= 20; version++) {
      const current = await store.get(KEY);
      expect(current?.version).toBe(version - 1);
      await store.put(item(version, payloadOf(3_000, `v${version}`)), {
        kind: 'version',
        version: version - 1,
      });
    }
    expect(blobs.objects.size).toBe(1);
    expect((await store.get(KEY))?.payload).toEqual(payloadOf(3_000, 'v20'));
  });

  it('an item that shrinks back under the limit goes inline and its blob is deleted', async () => {
    const { blobs, items, store } = setup();
    await store.put(item(1, payloadOf(3_000)), { kind: 'absent' });
    await store.get(KEY);
    await store.put(item(2, payloadOf(100, 'small')), { kind: 'version', version: 1 });
    expect(blobs.objects.size).toBe(0);
    expect(items.snapshot()[0]?.payload).toEqual(payloadOf(100, 'small'));
  });

  it('reports a blob it could not delete instead of failing the write', async () => {
    const { blobs, store, orphans } = setup();
    await store.put(item(1, payloadOf(3_000)), { kind: 'absent' });
    const first = [...blobs.objects.keys()][0] ?? '';
    blobs.failDeletes.add(first);
    await store.get(KEY);
    expect(await store.put(item(2, payloadOf(3_000, 'next')), { kind: 'version', version: 1 })).toBe(true);
    expect(orphans).toEqual([first]);
  });

  it('a reader whose pointer went stale between its two reads reads the item again', async () => {
    const { items, blobs, store } = setup();
    await store.put(item(1, payloadOf(3_000, 'old')), { kind: 'absent' });
    const stalePointer = items.snapshot()[0];
    await store.get(KEY);
    await store.put(item(2, payloadOf(3_000, 'new')), { kind: 'version', version: 1 });
    expect(blobs.objects.size).toBe(1);

    // Simulate the race: the item store answers the query with the version-1 pointer once.
    const racing = withBlobOverflow(
      {
        get: (key) => items.get(key),
        put: (next, condition) => items.put(next, condition),
        query: async () => (stalePointer ? [stalePointer] : []),
      },
      blobs,
      { inlineMaxBytes: INLINE_MAX },
    );
    expect(await racing.query(KEY.pk)).toEqual([item(2, payloadOf(3_000, 'new'))]);
  });

  it('a pointer to a blob that is gone for good is a clear error, not a silent empty state', async () => {
    const { blobs, store } = setup();
    await store.put(item(1, payloadOf(3_000)), { kind: 'absent' });
    blobs.objects.clear();
    await expect(store.get(KEY)).rejects.toThrow(MissingBlobError);
    await expect(store.get(KEY)).rejects.toThrow(/points to .* which is missing/);
  });

  it('puts blobs of items with a TTL under expiring/ (a bucket lifecycle rule removes them)', async () => {
    const { blobs, store } = setup();
    await store.put(item(1, payloadOf(3_000), { expiresAt: 4_000_000_000 }), { kind: 'absent' });
    await store.put({ pk: 'state#dt', sk: 'r#data_raw#0', version: 1, payload: payloadOf(3_000) }, undefined);
    const keys = [...blobs.objects.keys()].sort();
    expect(keys[0]).toMatch(/^expiring\/[0-9a-f]{32}\/1-id\d\.json$/);
    expect(keys[1]).toMatch(/^items\/[0-9a-f]{32}\/1-id\d\.json$/);
  });

  it('refuses an inline limit DynamoDB could not hold', () => {
    const { items, blobs } = setup();
    expect(() => withBlobOverflow(items, blobs, { inlineMaxBytes: 500_000 })).toThrow(RangeError);
  });
});
