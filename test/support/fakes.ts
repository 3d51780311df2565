/**
 * In-memory fakes of the pipeline's ports (shared/pipeline/ports.ts, replay's ObjectSource) and a
 * manual clock, for handler-level unit tests. They follow the adapters' documented semantics
 * (DynamoDB conditional puts and key-range queries, broker-acknowledged publishes, streamed S3
 * bodies) and add what tests need: inspection and injected failures.
 */
import { createHash } from 'node:crypto';
import type { Json } from '../../shared/core/analysis.ts';
import { partitionForKey } from '../../shared/core/kafka-partitioner.ts';
import { type BatchSlice, type SliceRecord, sliceOf } from '../../shared/pipeline/batch-slice.ts';
import {
  type BlobStore,
  type ItemKey,
  type ItemStore,
  type ObjectInfo,
  ObjectNotFoundError,
  type ObjectSource,
  type OutgoingMessage,
  type Publisher,
  type StoredItem,
  type WriteCondition,
} from '../../shared/pipeline/ports.ts';

// --- clock -------------------------------------------------------------------------------------

/** Manual time: nothing moves it but `advance` and `sleep` (which returns at once). */
export class FakeClock {
  private ms: number;
  /** Every duration `sleep` was asked for, in order. */
  readonly sleeps: number[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.ms = startMs;
  }

  readonly now = (): number => this.ms;

  readonly sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    if (ms > 0) this.ms += ms;
  };

  advance(ms: number): void {
    this.ms += ms;
  }

  /** Lambda's `getRemainingTimeInMillis` for an invocation that has `budgetMs` from now. */
  deadline(budgetMs: number): () => number {
    const deadlineAt = this.ms + budgetMs;
    return () => deadlineAt - this.ms;
  }
}

// --- item store --------------------------------------------------------------------------------

export type StoreOperation = 'get' | 'put' | 'query';

interface StoreFailure {
  readonly operation: StoreOperation;
  /** The item's or query's pk/sk; the failure applies only when this returns true. */
  readonly when: (key: { pk: string; sk?: string }) => boolean;
  remaining: number;
  readonly error: () => Error;
}

function clonePayload(payload: Json): Json {
  // The adapter stores JSON text: a stored item never aliases the caller's objects.
  const copy: Json = JSON.parse(JSON.stringify(payload));
  return copy;
}

function cloneItem(item: StoredItem): StoredItem {
  return {
    pk: item.pk,
    sk: item.sk,
    version: item.version,
    payload: clonePayload(item.payload),
    ...(item.expiresAt === undefined ? {} : { expiresAt: item.expiresAt }),
  };
}

/** DynamoDB orders string sort keys by their UTF-8 bytes. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * ItemStore in memory: conditions `absent` / `version` exactly as DynamoDB's conditional put; query
 * by pk, sort keys ordered as DynamoDB orders strings, [from, to] inclusive, limit, descending.
 * Items whose TTL (`expiresAt`, epoch seconds) has passed are invisible, as in the adapter.
 */
export class InMemoryItemStore implements ItemStore {
  private readonly tables = new Map<string, Map<string, StoredItem>>();
  private readonly failures: StoreFailure[] = [];
  private readonly now: () => number;
  /** Calls per operation, including failed and refused ones. */
  readonly calls: Record<StoreOperation, number> = { get: 0, put: 0, query: 0 };
  /** Puts refused because their condition did not hold. */
  refusedPuts = 0;

  constructor(options: { readonly now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  /** The next `times` calls of `operation` (optionally only for matching keys) throw. */
  failNext(
    operation: StoreOperation,
    options: {
      readonly times?: number;
      readonly when?: (key: { pk: string; sk?: string }) => boolean;
      readonly error?: () => Error;
    } = {},
  ): void {
    this.failures.push({
      operation,
      when: options.when ?? (() => true),
      remaining: options.times ?? 1,
      error: options.error ?? (() => new Error(`injected ${operation} failure`)),
    });
  }

  private maybeFail(operation: StoreOperation, key: { pk: string; sk?: string }): void {
    this.calls[operation] += 1;
    const failure = this.failures.find(
      (candidate) => candidate.operation === operation && candidate.remaining > 0 && candidate.when(key),
    );
    if (!failure) return;
    failure.remaining -= 1;
    throw failure.error();
  }

  private visible(item: StoredItem | undefined): StoredItem | undefined {
    if (!item) return undefined;
    if (item.expiresAt !== undefined && item.expiresAt < this.now() / 1000) return undefined;
    return item;
  }

  async get(key: ItemKey): Promise<StoredItem | undefined> {
    this.maybeFail('get', key);
    const item = this.visible(this.tables.get(key.pk)?.get(key.sk));
    return item ? cloneItem(item) : undefined;
  }

  async put(item: StoredItem, condition: WriteCondition | undefined): Promise<boolean> {
    this.maybeFail('put', item);
    const table = this.tables.get(item.pk) ?? new Map<string, StoredItem>();
    // Conditions see expired items as DynamoDB does until TTL deletion: still there.
    const existing = table.get(item.sk);
    if (condition?.kind === 'absent' && existing !== undefined) {
      this.refusedPuts += 1;
      return false;
    }
    if (condition?.kind === 'version' && existing?.version !== condition.version) {
      this.refusedPuts += 1;
      return false;
    }
    table.set(item.sk, cloneItem(item));
    this.tables.set(item.pk, table);
    return true;
  }

  async query(
    pk: string,
    range: {
      readonly from?: string;
      readonly to?: string;
      readonly limit?: number;
      readonly descending?: boolean;
    } = {},
  ): Promise<StoredItem[]> {
    this.maybeFail('query', { pk });
    const { from, to, limit, descending } = range;
    const items = [...(this.tables.get(pk)?.values() ?? [])]
      .filter((item) => from === undefined || compareKeys(item.sk, from) >= 0)
      .filter((item) => to === undefined || compareKeys(item.sk, to) <= 0)
      .sort((a, b) => compareKeys(a.sk, b.sk));
    if (descending) items.reverse();
    const visible = items.filter((item) => this.visible(item) !== undefined);
    return (limit === undefined ? visible : visible.slice(0, limit)).map(cloneItem);
  }

  /** Test inspection: every item (expired or not), by pk then sk. */
  snapshot(): StoredItem[] {
    return [...this.tables.keys()]
      .sort(compareKeys)
      .flatMap((pk) =>
        [...(this.tables.get(pk)?.values() ?? [])].sort((a, b) => compareKeys(a.sk, b.sk)).map(cloneItem),
      );
  }

  /** Test inspection: the items of one pk. */
  itemsOf(pk: string): StoredItem[] {
    return this.snapshot().filter((item) => item.pk === pk);
  }
}

// --- blob store --------------------------------------------------------------------------------

/** BlobStore in memory (S3 semantics: put overwrites, get of a missing key is undefined). */
export class InMemoryBlobStore implements BlobStore {
  readonly objects = new Map<string, Uint8Array>();
  /** Keys whose next delete throws (a blob left behind). */
  readonly failDeletes = new Set<string>();

  async put(key: string, body: Uint8Array): Promise<void> {
    this.objects.set(key, Uint8Array.from(body));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const body = this.objects.get(key);
    return body ? Uint8Array.from(body) : undefined;
  }

  async delete(key: string): Promise<void> {
    if (this.failDeletes.delete(key)) throw new Error(`injected delete failure for ${key}`);
    this.objects.delete(key);
  }
}

// --- publisher ---------------------------------------------------------------------------------

export interface PublishedMessage {
  readonly topic: string;
  readonly key: string | undefined;
  readonly value: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly partition: number | undefined;
  /** The publisher's clock when the broker acknowledged it (the record timestamp). */
  readonly timestampMs: number;
}

interface PublishFailure {
  /** Publishes to let through before failing. */
  succeedFirst: number;
  failures: number;
  /** Messages of a failing publish that reach the broker before it throws (a partial send). */
  readonly deliverBeforeFailing: number;
}

const encoder = new TextEncoder();

/** Publisher that records what reached each topic; can be told to fail publishes. */
export class RecordingPublisher implements Publisher {
  private readonly byTopic = new Map<string, PublishedMessage[]>();
  private readonly failures = new Map<string, PublishFailure>();
  private readonly now: () => number;
  /** publish() calls per topic, failed ones included. */
  readonly calls = new Map<string, number>();

  constructor(options: { readonly now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  /**
   * The next `count` publishes to `topic` throw (after `succeedFirst` more succeed). A failing
   * publish may first deliver some of its messages, as a producer that dies mid-send does.
   */
  failNext(
    topic: string,
    count = 1,
    options: { readonly succeedFirst?: number; readonly deliverBeforeFailing?: number } = {},
  ): void {
    this.failures.set(topic, {
      succeedFirst: options.succeedFirst ?? 0,
      failures: count,
      deliverBeforeFailing: options.deliverBeforeFailing ?? 0,
    });
  }

  async publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    this.calls.set(topic, (this.calls.get(topic) ?? 0) + 1);
    const failure = this.failures.get(topic);
    if (failure && failure.failures > 0) {
      if (failure.succeedFirst > 0) {
        failure.succeedFirst -= 1;
      } else {
        failure.failures -= 1;
        this.record(topic, messages.slice(0, failure.deliverBeforeFailing));
        throw new Error(`injected publish failure on ${topic}`);
      }
    }
    this.record(topic, messages);
  }

  private record(topic: string, messages: readonly OutgoingMessage[]): void {
    const log = this.byTopic.get(topic) ?? [];
    const timestampMs = this.now();
    for (const message of messages) {
      log.push({
        topic,
        key: message.key,
        value: typeof message.value === 'string' ? encoder.encode(message.value) : message.value.slice(),
        headers: { ...(message.headers ?? {}) },
        partition: message.partition,
        timestampMs,
      });
    }
    this.byTopic.set(topic, log);
  }

  /** Everything that reached `topic`, in order. */
  messages(topic: string): readonly PublishedMessage[] {
    return this.byTopic.get(topic) ?? [];
  }

  /** The values of `topic` as text (data_clean / data_dead carry JSON). */
  texts(topic: string): string[] {
    return this.messages(topic).map((message) => Buffer.from(message.value).toString('utf8'));
  }

  clear(topic?: string): void {
    if (topic === undefined) this.byTopic.clear();
    else this.byTopic.delete(topic);
  }
}

/**
 * The broker's view of a topic a RecordingPublisher wrote: records by partition with increasing
 * offsets from 0, in publish order, carrying headers and the publish timestamps. Messages without
 * an explicit partition go where Kafka's default partitioner puts their key (no key: partition 0).
 */
export function topicLog(
  publisher: RecordingPublisher,
  topic: string,
  partitionCount = 10,
): Map<number, SliceRecord[]> {
  const log = new Map<number, SliceRecord[]>();
  for (const message of publisher.messages(topic)) {
    const partition =
      message.partition ?? (message.key === undefined ? 0 : partitionForKey(message.key, partitionCount));
    const records = log.get(partition) ?? [];
    records.push({
      position: String(records.length),
      timestampMs: message.timestampMs,
      value: message.value,
      headers: new Map(Object.entries(message.headers)),
    });
    log.set(partition, records);
  }
  return log;
}

/**
 * A topic's log cut into trigger slices: per partition (ascending), consecutive runs of at most
 * `maxRecords` records (default: the whole partition in one slice).
 */
export function toBatchSlices(
  publisher: RecordingPublisher,
  topic: string,
  options: { readonly maxRecords?: number; readonly partitionCount?: number } = {},
): BatchSlice[] {
  const maxRecords = options.maxRecords ?? Number.POSITIVE_INFINITY;
  const log = topicLog(publisher, topic, options.partitionCount);
  const slices: BatchSlice[] = [];
  for (const partition of [...log.keys()].sort((a, b) => a - b)) {
    const records = log.get(partition) ?? [];
    for (let start = 0; start < records.length; start += maxRecords) {
      slices.push(sliceOf(topic, partition, records.slice(start, start + maxRecords)));
    }
  }
  return slices;
}

// --- object source -----------------------------------------------------------------------------

export interface StoredObject {
  readonly bytes: Uint8Array;
  readonly etag?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** ObjectSource over a Map of object key → bytes; bodies are streamed in chunks of `chunkSize`. */
export class InMemoryObjectSource implements ObjectSource {
  private readonly objects: Map<string, StoredObject>;
  private readonly chunkSize: number;
  /** Keys read, in order (one entry per read call). */
  readonly reads: string[] = [];

  constructor(
    objects: Map<string, StoredObject> = new Map(),
    options: { readonly chunkSize?: number; readonly bucket?: string } = {},
  ) {
    this.objects = objects;
    this.chunkSize = options.chunkSize ?? 64 * 1024;
    if (!Number.isSafeInteger(this.chunkSize) || this.chunkSize < 1)
      throw new RangeError('chunkSize must be a positive integer');
  }

  /** Deletes an object (head and read then find no such key). */
  delete(key: string): void {
    this.objects.delete(key);
  }

  /** Stores (or replaces) an object; without an etag, its MD5 as S3 computes one for a simple PUT. */
  put(key: string, bytes: Uint8Array, metadata: Readonly<Record<string, string>> = {}, etag?: string): void {
    this.objects.set(key, { bytes, metadata, etag: etag ?? createHash('md5').update(bytes).digest('hex') });
  }

  private find(bucket: string, key: string): StoredObject {
    const object = this.objects.get(key);
    if (!object) throw new ObjectNotFoundError(`NoSuchKey: ${bucket}/${key}`);
    return object;
  }

  async head(bucket: string, key: string): Promise<ObjectInfo> {
    const object = this.find(bucket, key);
    return {
      size: object.bytes.length,
      etag: object.etag ?? createHash('md5').update(object.bytes).digest('hex'),
      metadata: Object.fromEntries(
        Object.entries(object.metadata ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
      ),
    };
  }

  async read(bucket: string, key: string): Promise<AsyncIterable<Uint8Array>> {
    const { bytes } = this.find(bucket, key);
    this.reads.push(key);
    const chunkSize = this.chunkSize;
    return (async function* () {
      for (let start = 0; start < bytes.length; start += chunkSize) {
        // A fresh buffer per chunk, as a network body delivers.
        yield bytes.slice(start, start + chunkSize);
      }
    })();
  }
}
