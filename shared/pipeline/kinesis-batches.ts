/**
 * How messages become Kinesis PutRecords requests, without the SDK: the entry of each message
 * (partition key, explicit hash key, data with the headers enveloped), requests cut within Kinesis'
 * limits, and the retry of the entries a request reports as failed (`FailedRecordCount`).
 *
 * Shards play the role of partitions: a message with an explicit partition goes to the shard of
 * that index (ExplicitHashKey = the shard's first hash key), so replay's rows of one partition (one
 * dt orbit, one sf call) stay in one shard, and the shard's number is the partition aggregate keys
 * its state by. Other messages are placed by their key, as Kafka's partitioner does.
 */
import { encodeEnvelope } from '../core/record-envelope.ts';
import { type OutgoingMessage, type Publisher, RetryableError } from './ports.ts';

/** Kinesis' limits of PutRecords: records per request, bytes per request and per record. */
export const KINESIS_LIMITS = {
  recordsPerRequest: 500,
  bytesPerRequest: 5 * 1024 * 1024,
  bytesPerRecord: 1024 * 1024,
  partitionKeyChars: 256,
} as const;

export interface KinesisEntry {
  readonly partitionKey: string;
  readonly explicitHashKey?: string;
  readonly data: Uint8Array;
}

/** A record's share of the request limits: its data and its partition key (UTF-8). */
function entryBytes(entry: KinesisEntry): number {
  return entry.data.length + Buffer.byteLength(entry.partitionKey);
}

/** A key Kinesis accepts (1–256 characters); an absent or empty key goes to any shard. */
function partitionKeyOf(key: string | undefined): string {
  if (key === undefined || key.length === 0) return '-';
  return key.length > KINESIS_LIMITS.partitionKeyChars ? key.slice(0, KINESIS_LIMITS.partitionKeyChars) : key;
}

/**
 * The entry of a message. `shardStartKeys`: each open shard's first hash key, in shard order; an
 * explicit partition beyond them wraps around (fewer shards than partitions).
 */
export function kinesisEntryOf(message: OutgoingMessage, shardStartKeys: readonly string[]): KinesisEntry {
  const data = encodeEnvelope(message.headers, message.value);
  if (data.length > KINESIS_LIMITS.bytesPerRecord) {
    throw new Error(`a record of ${data.length} bytes exceeds Kinesis' 1 MiB limit`);
  }
  const explicitHashKey =
    message.partition === undefined || shardStartKeys.length === 0
      ? undefined
      : shardStartKeys[message.partition % shardStartKeys.length];
  return {
    partitionKey: partitionKeyOf(
      message.key ?? (message.partition === undefined ? undefined : `p${message.partition}`),
    ),
    ...(explicitHashKey === undefined ? {} : { explicitHashKey }),
    data,
  };
}

/** Consecutive requests of at most 500 records and 5 MiB each, in the entries' order. */
export function requestsWithinLimits(entries: readonly KinesisEntry[]): KinesisEntry[][] {
  const requests: KinesisEntry[][] = [];
  let current: KinesisEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entryBytes(entry);
    const full =
      current.length >= KINESIS_LIMITS.recordsPerRequest || bytes + size > KINESIS_LIMITS.bytesPerRequest;
    if (full && current.length > 0) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

/** One PutRecords call: per entry, in order, undefined when stored, else Kinesis' error code. */
export type PutRecords = (entries: readonly KinesisEntry[]) => Promise<readonly (string | undefined)[]>;

export interface PutRetry {
  /** Attempts of one request, the first included, before the failure is thrown (retryable). */
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly sleep: (ms: number) => Promise<void>;
}

/**
 * Puts `entries` (one request's worth) until all are stored: each attempt re-sends only the entries
 * the previous one reported as failed, so no stored record is written twice by the retry. Throws a
 * RetryableError (the trigger or S3 retries the invocation) when some still fail after all attempts.
 *
 * A re-sent entry is the same bytes (its envelope, hence its replay sequence number, was made once),
 * but Kinesis may have stored later entries of its shard meanwhile: it lands after them. Aggregate's
 * gap-aware guard (aggregate/sequence-guard.ts) applies it all the same.
 */
export async function putAllWithRetries(
  entries: readonly KinesisEntry[],
  put: PutRecords,
  retry: PutRetry,
): Promise<void> {
  let pending = entries;
  for (let attempt = 1; ; attempt++) {
    const results = await put(pending);
    const failed = pending.filter((_, index) => results[index] !== undefined);
    if (failed.length === 0) return;
    if (attempt >= retry.maxAttempts) {
      const codes = [...new Set(results.filter((code) => code !== undefined))].join(', ');
      throw new RetryableError(
        `Kinesis PutRecords: ${failed.length} of ${pending.length} records still failed after ${attempt} attempts (${codes})`,
      );
    }
    pending = failed;
    await retry.sleep(retry.initialDelayMs * 2 ** (attempt - 1));
  }
}

/** What a Kinesis publisher needs of the service: each stream's shards and one PutRecords call. */
export interface KinesisPort {
  /** The first hash key of each open shard of `stream`, in shard order. */
  readonly shardStartKeys: (stream: string) => Promise<readonly string[]>;
  readonly putRecords: (stream: string) => PutRecords;
  readonly retry: PutRetry;
}

/**
 * A Publisher on PutRecords: messages in order, requests within 500 records / 5 MiB, failed entries
 * re-sent alone. One request at a time per publish, each request's failures re-sent until stored
 * before the next request goes: a later request never overtakes a re-send, so reordering in a shard
 * is bounded by one request (callers publish one call at a time per stream: replay awaits each).
 */
export function kinesisPublisher(port: KinesisPort): Publisher {
  return {
    async publish(stream, messages) {
      if (messages.length === 0) return;
      const keys = await port.shardStartKeys(stream);
      const entries = messages.map((message) => kinesisEntryOf(message, keys));
      for (const request of requestsWithinLimits(entries)) {
        await putAllWithRetries(request, port.putRecords(stream), port.retry);
      }
    },
  };
}
