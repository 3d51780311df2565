/**
 * Lambda's Kinesis event source mapping, reproduced on kinesalite: the same handler gets
 * Kinesis-shaped events with the mapping's delivery semantics.
 *
 * - Every shard is read by its own loop, concurrently (ParallelizationFactor 1): one batch in
 *   flight per shard, shards independent of each other.
 * - Batching (trigger-buffer.ts, one lane per shard): an event is delivered when `batchSize`
 *   records wait, or the oldest has waited `batchingWindowMs` (0 by default, as on AWS for Kinesis),
 *   or the payload reaches 6 MB. One event holds records of one shard, in sequence order.
 * - Success: the shard's checkpoint moves to the batch's last sequence number, only then is the
 *   next batch of that shard delivered. A restarted trigger resumes after its checkpoints.
 * - Failure: the whole batch again after an exponential backoff (retry-policy.ts). With
 *   `bisectBatchOnFunctionError` a failed batch is split in two halves retried in order (a split
 *   does not count as a retry, as on AWS). After `maximumRetryAttempts` retries (-1 = until the
 *   trigger stops, AWS's default) the batch's metadata goes to the on-failure destination and the
 *   shard goes on past it. While stopping, a failed batch stays unchecked: delivered again next time.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { listShards } from '../shared/adapters/kinesis.ts';
import {
  type BufferedKinesisRecord,
  eventRecordBytes,
  type FetchedRecord,
  failureRecordOf,
  type KinesisEventSource,
  type KinesisFailureRecord,
  kinesisEventOf,
  toKinesisEventRecord,
} from './kinesis-record.ts';
import { retryDelayMs } from './retry-policy.ts';
import { type TakenBatch, TriggerBuffer } from './trigger-buffer.ts';
import { createWakeup } from './wakeup.ts';

/** Where each shard's trigger has got to: the last sequence number processed successfully. */
export interface CheckpointStore {
  get(shardId: string): Promise<string | undefined>;
  put(shardId: string, sequenceNumber: string): Promise<void>;
}

export function inMemoryCheckpoints(): CheckpointStore & { readonly all: Map<string, string> } {
  const all = new Map<string, string>();
  return {
    all,
    get: async (shardId) => all.get(shardId),
    put: async (shardId, seq) => void all.set(shardId, seq),
  };
}

export interface KinesisTriggerOptions extends KinesisEventSource {
  readonly client: KinesisClient;
  readonly stream: string;
  /** AWS `BatchSize`, 1–10,000. */
  readonly batchSize: number;
  /** AWS `MaximumBatchingWindowInSeconds` in ms; 0 when unset, as on AWS for Kinesis. */
  readonly batchingWindowMs?: number;
  /** Where a shard without a checkpoint starts. */
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  readonly bisectBatchOnFunctionError?: boolean;
  /** Retries of a failed batch before it goes to `onFailure`; -1 (default): never give up. */
  readonly maximumRetryAttempts?: number;
  /** The on-failure destination: receives the metadata of each batch given up on. */
  readonly onFailure?: (failure: KinesisFailureRecord) => Promise<void>;
  readonly functionArn: string;
  readonly checkpoints: CheckpointStore;
  /** Runs the handler; a rejection means the batch failed. */
  readonly invoke: (event: KinesisStreamEvent) => Promise<unknown>;
  readonly retry?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  /** How often an idle shard is read again (AWS: about once a second). */
  readonly pollIntervalMs?: number;
  readonly log?: (line: string) => void;
}

export interface KinesisTriggerStats {
  readonly invocations: number;
  readonly successfulInvocations: number;
  readonly failedInvocations: number;
  readonly retries: number;
  readonly bisections: number;
  readonly recordsDelivered: number;
  readonly batchesSentToDestination: number;
  readonly inFlightInvocations: number;
  readonly lastError: string | undefined;
  readonly shards: readonly { readonly shardId: string; readonly checkpoint: string | undefined }[];
}

export interface RunningKinesisTrigger {
  /** Stops reading; lets the batches in flight finish (checkpointing a success). */
  stop(): Promise<void>;
  readonly stats: () => KinesisTriggerStats;
}

const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const DEFAULT_POLL_INTERVAL_MS = 200;
const GET_RECORDS_LIMIT = 10_000;

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The batch was left unprocessed because the trigger is stopping. */
class Stopping extends Error {}

type Counters = {
  -readonly [K in
    | 'invocations'
    | 'successfulInvocations'
    | 'failedInvocations'
    | 'retries'
    | 'bisections'
    | 'recordsDelivered'
    | 'batchesSentToDestination'
    | 'inFlightInvocations']: number;
};

/** What the shard readers of one trigger share: options, counters, the stop signal. */
interface TriggerContext {
  readonly options: KinesisTriggerOptions;
  readonly counters: Counters;
  readonly stopping: AbortSignal;
  lastError: string | undefined;
  log(line: string): void;
}

/** One shard: its iterator, its buffer (one lane), its checkpoint and its delivery loop. */
class ShardReader {
  private readonly buffer: TriggerBuffer<BufferedKinesisRecord>;
  private readonly wakeup = createWakeup();
  private iterator: string | undefined;
  private lastFetched: string | undefined;
  private ordinal = 0;
  private closed = false;
  checkpoint: string | undefined;

  constructor(
    private readonly context: TriggerContext,
    readonly shardId: string,
  ) {
    const { options } = context;
    this.buffer = new TriggerBuffer(
      {
        batchSize: options.batchSize,
        batchingWindowMs: options.batchingWindowMs ?? 0,
        maxPayloadBytes: MAX_PAYLOAD_BYTES,
      },
      eventRecordBytes,
    );
  }

  /** Reads the checkpoint and takes the first iterator (so LATEST means "from now"). */
  async prepare(): Promise<void> {
    this.checkpoint = await this.context.options.checkpoints.get(this.shardId);
    this.lastFetched = this.checkpoint;
    await this.renewIterator();
  }

  private async renewIterator(): Promise<void> {
    const { options } = this.context;
    const input: GetShardIteratorCommandInput =
      this.lastFetched === undefined
        ? { StreamName: options.stream, ShardId: this.shardId, ShardIteratorType: options.startingPosition }
        : {
            StreamName: options.stream,
            ShardId: this.shardId,
            ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
            StartingSequenceNumber: this.lastFetched,
          };
    this.iterator = (await options.client.send(new GetShardIteratorCommand(input))).ShardIterator;
  }

  wake(): void {
    this.wakeup.notify();
  }

  /** Fetches once into the buffer; returns how many records came. Errors: a new iterator next time. */
  private async fetch(): Promise<number> {
    const buffered = this.buffer.partitionStats(new Set())[0]?.bufferedRecords ?? 0;
    const space = this.context.options.batchSize - buffered;
    if (this.closed || space <= 0) return 0;
    try {
      if (this.iterator === undefined) await this.renewIterator();
      const response = await this.context.options.client.send(
        new GetRecordsCommand({ ShardIterator: this.iterator, Limit: Math.min(GET_RECORDS_LIMIT, space) }),
      );
      this.iterator = response.NextShardIterator;
      if (this.iterator === undefined) this.closed = true; // a closed shard (after resharding) ends
      return this.accept(response.Records ?? []);
    } catch (error) {
      this.iterator = undefined; // expired or broken: start again after the last record taken
      this.context.lastError = describeError(error);
      this.context.log(`${this.shardId}: GetRecords failed, reading again: ${this.context.lastError}`);
      return 0;
    }
  }

  private accept(records: readonly FetchedRecord[]): number {
    if (records.length === 0) return 0;
    const converted = records.map((record) => ({
      offset: this.ordinal++,
      event: toKinesisEventRecord(this.shardId, record, this.context.options),
    }));
    this.buffer.accept(0, converted, Date.now());
    this.lastFetched = records[records.length - 1]?.SequenceNumber ?? this.lastFetched;
    return records.length;
  }

  /** Until the trigger stops: fetch, deliver what is due, else wait for the window or the next poll. */
  async run(): Promise<void> {
    const { options, stopping } = this.context;
    const pollMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    while (!stopping.aborted) {
      const fetched = await this.fetch();
      const next = this.buffer.next(Date.now());
      if ('batch' in next) {
        await this.deliver(next.batch);
        continue;
      }
      if (fetched > 0) continue; // more may be waiting in the shard: fill the window first
      const untilDue = next.wakeAt === undefined ? pollMs : Math.min(pollMs, next.wakeAt - Date.now());
      await this.wakeup.wait(untilDue);
    }
  }

  private async deliver(batch: TakenBatch<BufferedKinesisRecord>): Promise<void> {
    const records = batch.partitions[0]?.records ?? [];
    try {
      await this.processRange(records);
      this.buffer.succeeded(batch, true);
    } catch (error) {
      if (!(error instanceof Stopping)) throw error;
      this.buffer.abandoned(batch);
      this.context.log(`${this.shardId}: stopping; the rest of the batch is delivered again next time`);
    }
  }

  private async invokeOnce(records: readonly BufferedKinesisRecord[]): Promise<void> {
    const { counters, options } = this.context;
    counters.invocations++;
    counters.inFlightInvocations++;
    try {
      // A fresh event per attempt: a handler that edits its event must not change what a retry sees.
      await options.invoke(kinesisEventOf(records));
    } finally {
      counters.inFlightInvocations--;
    }
    counters.successfulInvocations++;
    counters.recordsDelivered += records.length;
  }

  /** Delivers `records` until they succeed, are bisected, or are given up on; then checkpoints. */
  private async processRange(records: readonly BufferedKinesisRecord[]): Promise<void> {
    const { options, counters, stopping } = this.context;
    for (let failures = 0; ; ) {
      if (failures > 0) counters.retries++;
      try {
        await this.invokeOnce(records);
        return await this.checkpointAfter(records);
      } catch (error) {
        failures++;
        counters.failedInvocations++;
        this.context.lastError = describeError(error);
        if (stopping.aborted) throw new Stopping();
        if (options.bisectBatchOnFunctionError && records.length > 1) {
          counters.bisections++;
          const half = Math.ceil(records.length / 2);
          this.context.log(
            `${this.shardId}: batch of ${records.length} failed, bisecting: ${this.context.lastError}`,
          );
          await this.processRange(records.slice(0, half));
          return await this.processRange(records.slice(half));
        }
        const maxRetries = options.maximumRetryAttempts ?? -1;
        if (maxRetries >= 0 && failures > maxRetries) return await this.giveUp(records, error);
        const delay = retryDelayMs(
          failures,
          options.retry?.initialDelayMs ?? 200,
          options.retry?.maxDelayMs ?? 10_000,
        );
        this.context.log(
          `${this.shardId}: batch of ${records.length} failed (attempt ${failures}), retrying in ${delay} ms: ${this.context.lastError}`,
        );
        await this.wakeup.wait(delay);
        if (stopping.aborted) throw new Stopping();
      }
    }
  }

  private async giveUp(records: readonly BufferedKinesisRecord[], error: unknown): Promise<void> {
    const { options, counters } = this.context;
    const failure = failureRecordOf(this.shardId, records, {
      functionArn: options.functionArn,
      streamArn: options.streamArn,
      error: describeError(error),
    });
    if (options.onFailure) await options.onFailure(failure);
    counters.batchesSentToDestination++;
    this.context.log(
      `${this.shardId}: gave up on ${records.length} records after ${options.maximumRetryAttempts} retries; ` +
        `sent to the on-failure destination: ${JSON.stringify(failure.KinesisBatchInfo)}`,
    );
    await this.checkpointAfter(records);
  }

  private async checkpointAfter(records: readonly BufferedKinesisRecord[]): Promise<void> {
    const last = records[records.length - 1]?.event.kinesis.sequenceNumber;
    if (last === undefined) return;
    await this.context.options.checkpoints.put(this.shardId, last);
    this.checkpoint = last;
  }
}

function validated(options: KinesisTriggerOptions): void {
  const rules: [boolean, string][] = [
    [
      Number.isInteger(options.batchSize) && options.batchSize >= 1 && options.batchSize <= 10_000,
      'batchSize must be an integer from 1 to 10,000',
    ],
    [
      (options.batchingWindowMs ?? 0) >= 0 && (options.batchingWindowMs ?? 0) <= 300_000,
      'batchingWindowMs must be from 0 to 300,000',
    ],
    [
      (options.maximumRetryAttempts ?? -1) >= -1 && (options.maximumRetryAttempts ?? -1) <= 10_000,
      'maximumRetryAttempts must be from -1 to 10,000',
    ],
  ];
  const broken = rules.filter(([ok]) => !ok).map(([, message]) => message);
  if (broken.length > 0) throw new Error(`Kinesis trigger for ${options.stream}: ${broken.join('; ')}`);
}

/** Lists the stream's shards, takes each one's first iterator, then reads them all concurrently. */
export async function startKinesisTrigger(options: KinesisTriggerOptions): Promise<RunningKinesisTrigger> {
  validated(options);
  const stopping = new AbortController();
  const context: TriggerContext = {
    options,
    stopping: stopping.signal,
    lastError: undefined,
    counters: {
      invocations: 0,
      successfulInvocations: 0,
      failedInvocations: 0,
      retries: 0,
      bisections: 0,
      recordsDelivered: 0,
      batchesSentToDestination: 0,
      inFlightInvocations: 0,
    },
    log: (line) => options.log?.(`[kinesis-trigger ${options.stream}] ${line}`),
  };
  const shards = await listShards(options.client, options.stream);
  const readers = shards.map((shard) => new ShardReader(context, shard.ShardId ?? ''));
  await Promise.all(readers.map((reader) => reader.prepare()));
  const running = Promise.all(
    readers.map((reader) =>
      reader.run().catch((error: unknown) => {
        context.lastError = describeError(error);
        context.log(`${reader.shardId}: internal error, the shard stops: ${context.lastError}`);
      }),
    ),
  );
  context.log(
    `reading ${readers.length} shard(s) (batchSize ${options.batchSize}, window ${options.batchingWindowMs ?? 0} ms)`,
  );
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        for (const reader of readers) reader.wake();
        await running;
        context.log('stopped');
      })();
      return stopped;
    },
    stats: () => ({
      ...context.counters,
      lastError: context.lastError,
      shards: readers.map((reader) => ({ shardId: reader.shardId, checkpoint: reader.checkpoint })),
    }),
  };
}
