/**
 * The ports the pipeline talks through. Adapters implement them (shared/adapters/: DynamoDB, Kafka,
 * Kinesis, S3); unit tests use the in-memory fakes in test/support/. No SDK types leak in here.
 */
import type { Json } from '../core/analysis.ts';

export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

/** One stored item: a JSON payload with a version for optimistic concurrency and an optional TTL. */
export interface StoredItem extends ItemKey {
  readonly version: number;
  readonly payload: Json;
  /** Epoch seconds after which the item may be deleted (DynamoDB TTL); readers ignore it afterwards. */
  readonly expiresAt?: number;
}

export type WriteCondition =
  /** Only if no item exists under the key (first write, put-if-absent). */
  | { readonly kind: 'absent' }
  /** Only if the stored item still has this version (read-modify-write). */
  | { readonly kind: 'version'; readonly version: number };

/**
 * Single-item conditional reads and writes: everything exactly-once is built from these (no
 * transactions: the local DynamoDB emulator has none, and on AWS they cost double).
 */
export interface ItemStore {
  get(key: ItemKey): Promise<StoredItem | undefined>;
  /** Writes `item` with version = its `version`; resolves false when the condition does not hold. */
  put(item: StoredItem, condition: WriteCondition | undefined): Promise<boolean>;
  /** Items of one partition key, by sort key, optionally within [from, to] (inclusive). */
  query(
    pk: string,
    range?: {
      readonly from?: string;
      readonly to?: string;
      readonly limit?: number;
      readonly descending?: boolean;
    },
  ): Promise<StoredItem[]>;
}

export interface OutgoingMessage {
  readonly key: string | undefined;
  readonly value: Uint8Array | string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Explicit partition; otherwise the transport's default partitioner on `key`. */
  readonly partition?: number;
}

/** Publishes to a topic (Kafka) or stream (Kinesis); resolves once the broker has acknowledged all. */
export interface Publisher {
  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
}

/** Infrastructure fault that the trigger should retry (the batch is delivered again). */
export class RetryableError extends Error {
  override readonly name = 'RetryableError';
}

/** Whole objects by key (S3): for state items too large for the item store (overflow-store.ts). */
export interface BlobStore {
  put(key: string, body: Uint8Array): Promise<void>;
  /** The object's bytes, or undefined when there is no such object. */
  get(key: string): Promise<Uint8Array | undefined>;
  delete(key: string): Promise<void>;
}

export interface ObjectInfo {
  readonly size: number;
  readonly etag: string;
  /** User metadata (x-amz-meta-*), lower-case names. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** There is no such object (S3's 404): what `head` throws for it, so callers can tell it from a fault. */
export class ObjectNotFoundError extends Error {
  override readonly name = 'ObjectNotFoundError';
}

/** Dataset objects (S3): read by replay, reconcile and the API's reference data. */
export interface ObjectSource {
  /** The object's size, ETag and metadata; throws ObjectNotFoundError when there is none. */
  head(bucket: string, key: string): Promise<ObjectInfo>;
  /** The object's bytes as stored (compressed if it is `.gz`). */
  read(bucket: string, key: string): Promise<AsyncIterable<Uint8Array>>;
}
