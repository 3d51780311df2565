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

export function withBlobOverflow(inner: ItemStore, blobs: BlobStore, options: OverflowOptions): ItemStore {
  if (!(options.inlineMaxBytes >= 0 && options.inlineMaxBytes <= MAX_INLINE_BYTES)) {
    throw new RangeError(`inlineMaxBytes must be between 0 and ${MAX_INLINE_BYTES}`);
  }
  const newId = options.newId ?? randomUUID;
  const lastBlobOf = new Map<string, string | undefined>();
  const remember = (key: ItemKey, blobKey: string | undefined) =>
    setRecent(lastBlobOf, itemIdentity(key), blobKey, REMEMBERED_POINTERS);
  const deleteQuietly = async (blobKey: string) => {
    try {
      await blobs.delete(blobKey);
    } catch (error) {
      options.onOrphan?.(blobKey, error);
    }
  };

  /** The item with its real payload; re-reads it if the blob went away under a newer version. */
  const resolve = async (item: StoredItem): Promise<{ item: StoredItem; blobKey: string | undefined }> => {
    let current: StoredItem | undefined = item;
    for (let attempt = 0; attempt < 3 && current; attempt++) {
      const pointer = pointerOf(current.payload);
      if (!pointer) return { item: current, blobKey: undefined };
      const body = await blobs.get(pointer.key);
      if (body !== undefined) {
        const envelope = JSON.parse(Buffer.from(body).toString('utf8')) as BlobEnvelope;
        if (
          envelope.pk !== current.pk ||
          envelope.sk !== current.sk ||
          envelope.version !== current.version
        ) {
          throw new MissingBlobError(
            `blob ${pointer.key} holds ${envelope.pk}/${envelope.sk} v${envelope.version}, not ${current.pk}/${current.sk} v${current.version}`,
          );
        }
        return { item: { ...current, payload: envelope.payload }, blobKey: pointer.key };
      }
      const again: StoredItem | undefined = await inner.get(current);
      if (again && again.version === current.version) {
        throw new MissingBlobError(
          `state item ${current.pk}/${current.sk} v${current.version} points to ${pointer.key}, which is missing`,
        );
      }
      current = again;
    }
    if (!current) throw new MissingBlobError(`state item ${item.pk}/${item.sk} disappeared while being read`);
    throw new MissingBlobError(`state item ${item.pk}/${item.sk} kept changing while being read`);
  };

  return {
    async get(key) {
      const item = await inner.get(key);
      if (!item) {
        remember(key, undefined);
        return undefined;
      }
      const resolved = await resolve(item);
      remember(key, resolved.blobKey);
      return resolved.item;
    },

    async put(item, condition?: WriteCondition) {
      const text = JSON.stringify(item.payload);
      const bytes = Buffer.byteLength(text, 'utf8');
      const previousBlob = lastBlobOf.get(itemIdentity(item));
      if (bytes <= options.inlineMaxBytes) {
        const written = await inner.put(item, condition);
        if (written) {
          remember(item, undefined);
          if (previousBlob) await deleteQuietly(previousBlob);
        }
        return written;
      }
      const blobKey = blobKeyFor(item, newId());
      const envelope: BlobEnvelope = {
        pk: item.pk,
        sk: item.sk,
        version: item.version,
        payload: item.payload,
      };
      await blobs.put(blobKey, Buffer.from(JSON.stringify(envelope), 'utf8'));
      const pointer: Json = { [POINTER_FIELD]: { key: blobKey, bytes } };
      const written = await inner.put({ ...item, payload: pointer }, condition);
      if (!written) {
        // Lost the race: this blob is nobody's.
        await deleteQuietly(blobKey);
        return false;
      }
      remember(item, blobKey);
      if (previousBlob && previousBlob !== blobKey) await deleteQuietly(previousBlob);
      return true;
    },

    async query(pk, range) {
      const items = await inner.query(pk, range);
      return Promise.all(items.map(async (item) => (await resolve(item)).item));
    },
  };
}
