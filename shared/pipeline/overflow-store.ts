/**
 * State items larger than a DynamoDB item may be (400 KB), or larger than is cheap to write there,
 * kept in a blob store (S3) behind a small pointer item.
 *
 * Why: the exact sf deduplication keeps 8 bytes per distinct call per partition, so one state item
 * passes 400 KB at roughly 37,000 distinct calls per partition; a DynamoDB write costs one unit per
 * KB while an S3 put costs the same whatever its size. Items above `inlineMaxBytes` therefore go to
 * the blob store and the item holds only a pointer.
 *
 * Exactly-once is unchanged: the pointer item is still the one conditionally written item, so a
 * batch's effect is still one compare-and-set. The blob is written first under a key of its own
 * (never overwritten), then the pointer: a crash in between leaves an unreferenced blob, never a
 * pointer to nothing. After a successful write the blob it replaced is deleted (best effort: the
 * previous pointer is known from the `get` that preceded the write, which is how aggregate and
 * replay write). A reader that finds a pointer's blob already deleted (the item moved on between
 * its two reads) reads the item again.
 */
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { isJsonObject, type Json } from '../core/analysis.ts';
import { setRecent } from '../core/recent-map.ts';
import type { BlobStore, ItemKey, ItemStore, StoredItem, WriteCondition } from './ports.ts';
import { itemIdentity } from './state-keys.ts';

/** The pointer payload's single field; nothing else stores an object with this key. */
const POINTER_FIELD = 'driftline.blob';

interface BlobPointer {
  readonly key: string;
  readonly bytes: number;
}

interface BlobEnvelope {
  readonly pk: string;
  readonly sk: string;
  readonly version: number;
  readonly payload: Json;
}

export interface OverflowOptions {
  /** Payloads whose JSON is longer than this (bytes, UTF-8) go to the blob store. */
  readonly inlineMaxBytes: number;
  /** A unique id per blob; injectable for tests. */
  readonly newId?: () => string;
  /** Told about blobs it could not delete (they are only wasted space). */
  readonly onOrphan?: (blobKey: string, error: unknown) => void;
}

/** The largest DynamoDB item is 400 KB including names and key attributes: keep clear of it. */
export const MAX_INLINE_BYTES = 350_000;

/** Previous blobs remembered per item, for deleting them once replaced; bounded. */
const REMEMBERED_POINTERS = 10_000;

export class MissingBlobError extends Error {
  override readonly name = 'MissingBlobError';
}

function pointerOf(payload: Json): BlobPointer | undefined {
  if (!isJsonObject(payload)) return undefined;
  const pointer = payload[POINTER_FIELD];
  if (!isJsonObject(pointer)) return undefined;
  const { key, bytes } = pointer;
  return typeof key === 'string' && typeof bytes === 'number' ? { key, bytes } : undefined;
}

/**
 * Blob keys: items with a TTL under `expiring/` (a bucket lifecycle rule removes them, as DynamoDB
 * removes their items), the others under `items/`; one folder per item (a hash: sort keys may hold
 * any character), one object per written version.
 */
function blobKeyFor(item: StoredItem, id: string): string {
  const folder = createHash('sha256').update(itemIdentity(item)).digest('hex').slice(0, 32);
  const prefix = item.expiresAt === undefined ? 'items' : 'expiring';
  return `${prefix}/${folder}/${item.version}-${id}.json`;
}

/** A blob's contents: the item it belongs to (checked on read) and its real payload. */
const blobEnvelope = z.object({
  pk: z.string(),
  sk: z.string(),
  version: z.number(),
  payload: z.json(),
});

function readEnvelope(body: Uint8Array, blobKey: string): BlobEnvelope {
  const parsed = blobEnvelope.safeParse(JSON.parse(Buffer.from(body).toString('utf8')));
  if (!parsed.success)
    throw new MissingBlobError(`blob ${blobKey} is not a state blob: ${parsed.error.message}`);
  return parsed.data;
}

class BlobOverflowStore implements ItemStore {
  private readonly newId: () => string;
  private readonly lastBlobOf = new Map<string, string | undefined>();

  constructor(
    private readonly inner: ItemStore,
    private readonly blobs: BlobStore,
    private readonly options: OverflowOptions,
  ) {
    this.newId = options.newId ?? randomUUID;
  }

  async get(key: ItemKey): Promise<StoredItem | undefined> {
    const item = await this.inner.get(key);
    if (!item) {
      this.remember(key, undefined);
      return undefined;
    }
    const resolved = await this.resolve(item);
    this.remember(key, resolved.blobKey);
    return resolved.item;
  }

  async put(item: StoredItem, condition: WriteCondition | undefined): Promise<boolean> {
    const bytes = Buffer.byteLength(JSON.stringify(item.payload), 'utf8');
    const previousBlob = this.lastBlobOf.get(itemIdentity(item));
    const blobKey = bytes <= this.options.inlineMaxBytes ? undefined : blobKeyFor(item, this.newId());
    const written = blobKey
      ? await this.putBehindPointer(item, blobKey, bytes, condition)
      : await this.inner.put(item, condition);
    if (!written) return false;
    this.remember(item, blobKey);
    if (previousBlob && previousBlob !== blobKey) await this.deleteQuietly(previousBlob);
    return true;
  }

  async query(pk: string, range?: Parameters<ItemStore['query']>[1]): Promise<StoredItem[]> {
    const items = await this.inner.query(pk, range);
    return Promise.all(items.map(async (item) => (await this.resolve(item)).item));
  }

  /** The blob first (a key of its own, never overwritten), then the pointer item. */
  private async putBehindPointer(
    item: StoredItem,
    blobKey: string,
    bytes: number,
    condition: WriteCondition | undefined,
  ): Promise<boolean> {
    const envelope: BlobEnvelope = { pk: item.pk, sk: item.sk, version: item.version, payload: item.payload };
    await this.blobs.put(blobKey, Buffer.from(JSON.stringify(envelope), 'utf8'));
    const pointer: Json = { [POINTER_FIELD]: { key: blobKey, bytes } };
    const written = await this.inner.put({ ...item, payload: pointer }, condition);
    // Lost the race: this blob is nobody's.
    if (!written) await this.deleteQuietly(blobKey);
    return written;
  }

  /** The item with its real payload; re-reads it if the blob went away under a newer version. */
  private async resolve(item: StoredItem): Promise<{ item: StoredItem; blobKey: string | undefined }> {
    let current: StoredItem | undefined = item;
    for (let attempt = 0; attempt < 3 && current; attempt++) {
      const pointer = pointerOf(current.payload);
      if (!pointer) return { item: current, blobKey: undefined };
      const body = await this.blobs.get(pointer.key);
      if (body !== undefined)
        return { item: withBlobPayload(current, body, pointer.key), blobKey: pointer.key };
      const again: StoredItem | undefined = await this.inner.get(current);
      if (again && again.version === current.version) {
        throw new MissingBlobError(
          `state item ${current.pk}/${current.sk} v${current.version} points to ${pointer.key}, which is missing`,
        );
      }
      current = again;
    }
    if (!current) throw new MissingBlobError(`state item ${item.pk}/${item.sk} disappeared while being read`);
    throw new MissingBlobError(`state item ${item.pk}/${item.sk} kept changing while being read`);
  }

  private remember(key: ItemKey, blobKey: string | undefined): void {
    setRecent(this.lastBlobOf, itemIdentity(key), blobKey, REMEMBERED_POINTERS);
  }

  private async deleteQuietly(blobKey: string): Promise<void> {
    try {
      await this.blobs.delete(blobKey);
    } catch (error) {
      this.options.onOrphan?.(blobKey, error);
    }
  }
}

/** The pointer item with the blob's payload, after checking the blob is this very item version's. */
function withBlobPayload(item: StoredItem, body: Uint8Array, blobKey: string): StoredItem {
  const envelope = readEnvelope(body, blobKey);
  if (envelope.pk !== item.pk || envelope.sk !== item.sk || envelope.version !== item.version) {
    throw new MissingBlobError(
      `blob ${blobKey} holds ${envelope.pk}/${envelope.sk} v${envelope.version}, not ${item.pk}/${item.sk} v${item.version}`,
    );
  }
  return { ...item, payload: envelope.payload };
}

export function withBlobOverflow(inner: ItemStore, blobs: BlobStore, options: OverflowOptions): ItemStore {
  if (!(options.inlineMaxBytes >= 0 && options.inlineMaxBytes <= MAX_INLINE_BYTES)) {
    throw new RangeError(`inlineMaxBytes must be between 0 and ${MAX_INLINE_BYTES}`);
  }
  return new BlobOverflowStore(inner, blobs, options);
}
