/**
 * The Amazon MSK event source mapping, reproduced on the local broker: a kafkajs consumer feeds the
 * very same Lambda handler with MSK-shaped events and the trigger's delivery semantics.
 *
 * Design: kafkajs only *fetches*; a small dispatcher decides what to deliver.
 *  1. Intake (`eachBatch`, returns at once): the fetched records of one partition are converted to
 *     MSK records and appended to that partition's buffer, at most `batchSize` per partition (and
 *     the byte bounds of `MskRecordBuffer`). The kafkajs fetch position is moved to just after the
 *     last record taken (`resolveOffset`: with `autoCommit: false` that is *not* a commit), and a
 *     partition whose buffer is full is paused, so the memory held is bounded. The rest of a fetch
 *     is simply fetched again after `resume`.
 *  2. Dispatch: an event is taken from the buffers when `batchSize` records are waiting, or when the
 *     oldest waiting record has waited `batchingWindowMs`, or when the payload would exceed 6 MB —
 *     whichever comes first. Never an empty event. One event may hold several partitions, each
 *     under `records['<topic>-<partition>']` in offset order.
 *  3. Delivery: the event is invoked; on success the next offsets are committed for the group, and
 *     only then may its partitions be delivered again (one batch in flight per partition; by
 *     default one invocation at a time for the whole trigger). On failure the *same* event (same
 *     records, same offsets) is invoked again after an exponential backoff, for ever (AWS retries
 *     a Kafka batch until its records expire); its partitions stay blocked, their later records
 *     wait in the bounded buffers: never skipped, never reordered.
 *  4. Restart: a new trigger with the same group resumes from the committed offsets. A batch that
 *     failed, or succeeded without its commit landing, is delivered again: at least once, as on
 *     AWS, so handlers must be idempotent.
 * Because intake never blocks on the handler, kafkajs keeps heartbeating during long invocations.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, Kafka } from '../shared/adapters/kafka.ts';
import { MskRecordBuffer, type MskRecordText, mskEventJson, mskRecordText } from './msk-record.ts';
import { retryUntilSuccess } from './retry-policy.ts';
import type { SerializedEvent } from './serialized-event.ts';
import { type BatchLimits, type PartitionStats, type TakenBatch, TriggerBuffer } from './trigger-buffer.ts';
import { createWakeup } from './wakeup.ts';

export type { MskTriggerEvent, MskTriggerRecord } from './msk-record.ts';
export type MskPartitionStats = PartitionStats;

export interface MskTriggerOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  /** The event source mapping's consumer group: its committed offsets survive restarts. */
  readonly groupId: string;
  /** At most this many records in one event (AWS `BatchSize`, 1–10,000). */
  readonly batchSize: number;
  /** AWS `MaximumBatchingWindowInSeconds` in ms; 500 when unset, as on AWS for Kafka triggers. */
  readonly batchingWindowMs?: number;
  /** Where a group without committed offsets starts; a group with commits resumes from them. */
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  readonly eventSourceArn: string;
  readonly bootstrapServers: string;
  /**
   * Runs the handler with the event (an `MskTriggerEvent` as JSON text: the sandbox parses it, as
   * Lambda's runtime does); a rejection means "retry this whole batch". The result only goes to
   * `onDelivered`.
   */
  readonly invoke: (event: SerializedEvent) => Promise<unknown>;
  /**
   * Events in flight at once, never two holding the same partition. 1 (the default) runs one
   * invocation at a time for the whole trigger, the simplest faithful model; AWS may run several
   * partitions concurrently, which changes throughput, not per-partition order.
   */
  readonly maxConcurrentInvocations?: number;
  /** Lambda's synchronous payload limit; an event is cut before its JSON would exceed it. */
  readonly maxPayloadBytes?: number;
  /** Backoff between attempts of a failed batch: initialDelayMs doubling up to maxDelayMs. */
  readonly retry?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  /** How long `startMskTrigger` waits for the consumer to join its group and fetch once. */
  readonly readyTimeoutMs?: number;
  readonly log?: (line: string) => void;
  /** Told of every batch that succeeded, after its commit: when it went through each step. */
  readonly onDelivered?: (delivery: MskDelivery) => void;
}

/** A delivered batch's steps, in ms since the epoch (the bench's per-hop latency breakdown). */
export interface MskDelivery {
  readonly topic: string;
  readonly slices: readonly {
    readonly partition: number;
    readonly firstOffset: number;
    readonly lastOffset: number;
    /** When the slice's first record was taken in from a fetch. */
    readonly fetchedAtMs: number;
  }[];
  /** Taken from the buffers to be invoked (before the event's JSON is built). */
  readonly takenAtMs: number;
  /** The successful invocation returned (after any failed attempts and their backoff). */
  readonly returnedAtMs: number;
  /** The commit settled (the partitions are free again). */
  readonly committedAtMs: number;
  /** What the successful invocation returned (aggregate: its outcome per batch). */
  readonly result: unknown;
}

export interface MskTriggerStats {
  /** Every invocation, successful or not. */
  readonly invocations: number;
  readonly successfulInvocations: number;
  readonly failedInvocations: number;
  /** Invocations that repeated a failed batch. */
  readonly retries: number;
  /** Records in successful invocations. */
  readonly recordsDelivered: number;
  readonly bufferedRecords: number;
  readonly inFlightInvocations: number;
  readonly commitFailures: number;
  readonly lastError: string | undefined;
  readonly partitions: readonly MskPartitionStats[];
}

export interface RunningMskTrigger {
  /** Stops fetching, lets the invocations in flight finish (committing a success), disconnects. */
  stop(): Promise<void>;
  readonly stats: () => MskTriggerStats;
}

export const DEFAULT_BATCHING_WINDOW_MS = 500;
/** Lambda's limit for a synchronous invocation payload. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const DEFAULT_RETRY_INITIAL_DELAY_MS = 200;
const DEFAULT_RETRY_MAX_DELAY_MS = 10_000;
const DEFAULT_READY_TIMEOUT_MS = 30_000;
/** Bounds how late a resumed partition is fetched again, and how long `stop` waits for a fetch. */
const FETCH_MAX_WAIT_MS = 100;

type TriggerSettings = BatchLimits & {
  readonly maxConcurrentInvocations: number;
  readonly retryInitialDelayMs: number;
  readonly retryMaxDelayMs: number;
};

type MskBatch = TakenBatch<MskRecordText>;

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The offsets of each partition of a batch, as `partition@first-last`, for logs. */
function offsetRanges(batch: TakenBatch): string {
  return batch.partitions
    .map(({ partition, records: partitionRecords }) => {
      const first = partitionRecords[0]?.offset;
      const last = partitionRecords[partitionRecords.length - 1]?.offset;
      return `${partition}@${first}-${last}`;
    })
    .join(', ');
}

function sliceTimes(batch: TakenBatch): MskDelivery['slices'] {
  return batch.partitions.map(({ partition, records, firstArrivedAt }) => ({
    partition,
    firstOffset: records[0]?.offset ?? -1,
    lastOffset: records[records.length - 1]?.offset ?? -1,
    fetchedAtMs: firstArrivedAt,
  }));
}

function validated(options: MskTriggerOptions): TriggerSettings {
  const limits = {
    batchSize: options.batchSize,
    batchingWindowMs: options.batchingWindowMs ?? DEFAULT_BATCHING_WINDOW_MS,
    maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    maxConcurrentInvocations: options.maxConcurrentInvocations ?? 1,
    retryInitialDelayMs: options.retry?.initialDelayMs ?? DEFAULT_RETRY_INITIAL_DELAY_MS,
    retryMaxDelayMs: options.retry?.maxDelayMs ?? DEFAULT_RETRY_MAX_DELAY_MS,
  };
  const rules: [boolean, string][] = [
    [
      Number.isInteger(limits.batchSize) && limits.batchSize >= 1 && limits.batchSize <= 10_000,
      'batchSize must be an integer from 1 to 10,000',
    ],
    [
      limits.batchingWindowMs >= 0 && limits.batchingWindowMs <= 300_000,
      'batchingWindowMs must be from 0 to 300,000',
    ],
    [limits.maxPayloadBytes > 0, 'maxPayloadBytes must be positive'],
    [
      Number.isInteger(limits.maxConcurrentInvocations) && limits.maxConcurrentInvocations >= 1,
      'maxConcurrentInvocations must be an integer ≥ 1',
    ],
    [
      limits.retryInitialDelayMs >= 0 && limits.retryMaxDelayMs >= limits.retryInitialDelayMs,
      'retry delays must satisfy 0 ≤ initialDelayMs ≤ maxDelayMs',
    ],
  ];
  const broken = rules.filter(([ok]) => !ok).map(([, message]) => message);
  if (broken.length > 0) throw new Error(`MSK trigger for ${options.topic}: ${broken.join('; ')}`);
  return limits;
}

/**
 * Resolves once the consumer has joined its group and fetched once (its start offsets are then
 * fixed, which matters for LATEST). Rejects on a crash kafkajs will not restart, or after
 * `timeoutMs`; resolves quietly if `cancel` fires (startup failed for another reason).
 */
function waitUntilReady(
  consumer: Consumer,
  topic: string,
  timeoutMs: number,
  cancel: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolveReady, rejectReady) => {
    const cleanups: (() => void)[] = [];
    const settle = (error?: Error) => {
      for (const cleanup of cleanups) cleanup();
      if (error) rejectReady(error);
      else resolveReady();
    };
    const timer = setTimeout(
      () => settle(new Error(`MSK trigger for ${topic}: the consumer was not ready within ${timeoutMs} ms`)),
      timeoutMs,
    );
    cleanups.push(() => clearTimeout(timer));
    const onCancel = () => settle();
    cancel.addEventListener('abort', onCancel);
    cleanups.push(() => cancel.removeEventListener('abort', onCancel));
    cleanups.push(consumer.on(consumer.events.FETCH, () => settle()));
    cleanups.push(
      consumer.on(consumer.events.CRASH, (event) => {
        if (!event.payload.restart) settle(event.payload.error);
      }),
    );
  });
}

/**
 * One running trigger: the consumer and its intake, the dispatch loop, the deliveries in flight,
 * and the counters they share.
 */
class MskTriggerRun {
  private readonly topic: string;
  /** `JSON.stringify(topic)`, once for every record's text. */
  private readonly quotedTopic: string;
  private readonly buffer: MskRecordBuffer;
  private readonly consumer: Consumer;
  private readonly paused = new Set<number>();
  private readonly wakeup = createWakeup();
  private readonly stopping = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly counters = {
    invocations: 0,
    successfulInvocations: 0,
    failedInvocations: 0,
    retries: 0,
    recordsDelivered: 0,
    commitFailures: 0,
  };
  private lastError: string | undefined;
  private dispatching: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly options: MskTriggerOptions,
    private readonly settings: TriggerSettings,
  ) {
    this.topic = options.topic;
    this.quotedTopic = JSON.stringify(options.topic);
    this.buffer = new MskRecordBuffer(settings);
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
      allowAutoTopicCreation: false,
    });
    this.watchConsumer();
  }

  private log(line: string): void {
    this.options.log?.(`[msk-trigger ${this.topic}] ${line}`);
  }

  private watchConsumer(): void {
    const { consumer } = this;
    // kafkajs restarts from the group's commit after every (re)join, and forgets pauses after a
    // crash-restart: put each partition back where this trigger is, and pause the full ones again.
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      this.rejoined(new Set(event.payload.memberAssignment[this.topic] ?? []));
    });
    consumer.on(consumer.events.CRASH, (event) => {
      this.lastError = describeError(event.payload.error);
      this.log(
        `consumer crashed (${event.payload.restart ? 'kafkajs restarts it' : 'not restarting'}): ${this.lastError}`,
      );
    });
  }

  private rejoined(assigned: ReadonlySet<number>): void {
    const { consumer, topic } = this;
    for (const { partition, offset } of this.buffer.reassigned(assigned)) {
      consumer.seek({ topic, partition, offset: String(offset) });
    }
    for (const partition of this.paused) {
      if (assigned.has(partition)) consumer.pause([{ topic, partitions: [partition] }]);
      else this.paused.delete(partition);
    }
    this.wakeup.notify();
  }

  private pausePartition(partition: number): void {
    if (this.paused.has(partition)) return;
    this.paused.add(partition);
    this.consumer.pause([{ topic: this.topic, partitions: [partition] }]);
  }

  private resumeUnfilledPartitions(): void {
    for (const partition of [...this.paused]) {
      if (this.buffer.isFull(partition)) continue;
      this.paused.delete(partition);
      this.consumer.resume([{ topic: this.topic, partitions: [partition] }]);
    }
  }

  private async intake({ batch, resolveOffset, isStale }: EachBatchPayload): Promise<void> {
    // A stale batch was fetched before a seek: the records after the seek position come next.
    if (this.stopping.signal.aborted || isStale()) return;
    const { resumeFrom, full } = this.acceptFetched(batch);
    // Moves only kafkajs's fetch position (autoCommit is off): records past the buffer's limit are
    // fetched again after the partition is resumed.
    if (resumeFrom !== undefined) resolveOffset(String(resumeFrom - 1));
    if (full) this.pausePartition(batch.partition);
    this.wakeup.notify();
  }

  /**
   * Converts and buffers a fetch's records one by one until the partition's buffer is full: what is
   * left is fetched again after `resume`, so converting it now (base64 of every value) would be
   * work thrown away, ~30 µs per 1000-row record. Each record becomes its JSON text here, once.
   */
  private acceptFetched(batch: EachBatchPayload['batch']): { resumeFrom: number | undefined; full: boolean } {
    const now = Date.now();
    const highWatermark = Number(batch.highWatermark);
    let accepted = this.buffer.accept(batch.partition, [], now, highWatermark);
    for (const message of batch.messages) {
      if (accepted.full) break;
      const record = mskRecordText(this.quotedTopic, batch.partition, message);
      accepted = this.buffer.accept(batch.partition, [record], now);
    }
    return accepted;
  }

  private async commit(batch: TakenBatch): Promise<boolean> {
    const offsets = MskRecordBuffer.commitsFor(batch);
    try {
      await this.consumer.commitOffsets(
        offsets.map(({ partition, offset }) => ({ topic: this.topic, partition, offset: String(offset) })),
      );
      return true;
    } catch (error) {
      // The handler has succeeded: the next commit of these partitions covers this one; if none
      // comes before a restart, the batch is delivered again (at least once, as on AWS).
      this.counters.commitFailures++;
      this.lastError = describeError(error);
      this.log(`could not commit ${JSON.stringify(offsets)}: ${this.lastError}`);
      return false;
    }
  }

  /**
   * `batch` holds only its positions (`TriggerBuffer.positionsOf`): its records are in `event`.
   * `takenAtMs`: when it was taken from the buffer, before its event was built (the latency hops).
   */
  private async deliver(event: SerializedEvent, batch: TakenBatch, takenAtMs: number): Promise<void> {
    const where = offsetRanges(batch);
    const { counters } = this;
    let result: unknown;
    const outcome = await retryUntilSuccess({
      // The same text every attempt: each is parsed afresh in the sandbox, so a handler that edits
      // its event cannot change what a retry sees (no copy needed).
      attempt: async () => {
        result = await this.options.invoke(event);
      },
      initialDelayMs: this.settings.retryInitialDelayMs,
      maxDelayMs: this.settings.retryMaxDelayMs,
      sleep: (ms, signal) => sleep(ms, undefined, { signal }),
      stopping: this.stopping.signal,
      onAttempt: (attempt) => {
        counters.invocations++;
        if (attempt > 1) counters.retries++;
      },
      onFailure: (error, attempt, retryInMs) => this.invocationFailed(where, error, attempt, retryInMs),
    });
    if (outcome !== 'succeeded') {
      if (outcome === 'stopped-before-retry') {
        this.log(`stopped before retrying batch ${where}; it stays uncommitted`);
      }
      this.buffer.abandoned(batch);
      return;
    }
    counters.successfulInvocations++;
    counters.recordsDelivered += batch.recordCount;
    const returnedAtMs = Date.now();
    // The partitions stay in flight until the commit is done, so commits never overtake each other.
    const committed = await this.commit(batch);
    this.buffer.succeeded(batch, committed);
    this.options.onDelivered?.({
      topic: this.topic,
      slices: sliceTimes(batch),
      takenAtMs,
      returnedAtMs,
      committedAtMs: Date.now(),
      result,
    });
  }

  private invocationFailed(
    where: string,
    error: unknown,
    attempt: number,
    retryInMs: number | undefined,
  ): void {
    this.counters.failedInvocations++;
    this.lastError = describeError(error);
    if (retryInMs === undefined) {
      this.log(`invocation failed while stopping; batch ${where} left uncommitted: ${this.lastError}`);
    } else {
      this.log(
        `invocation failed (attempt ${attempt}) for ${where}, retrying in ${retryInMs} ms: ${this.lastError}`,
      );
    }
  }

  private launch(taken: MskBatch): void {
    const takenAtMs = Date.now();
    const event = mskEventJson(taken, this.options);
    // Up to 6 MB of record text per event in flight, no longer needed once the event holds it.
    const batch = TriggerBuffer.positionsOf(taken);
    const delivery: Promise<void> = this.deliver(event, batch, takenAtMs)
      .catch((error: unknown) => {
        // deliver() handles the handler's errors itself; this is a bug in the trigger.
        this.lastError = describeError(error);
        this.log(`internal error, batch left uncommitted: ${this.lastError}`);
        this.buffer.abandoned(batch);
      })
      .finally(() => {
        this.inFlight.delete(delivery);
        this.wakeup.notify();
      });
    this.inFlight.add(delivery);
  }

  private async dispatch(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      if (this.inFlight.size < this.settings.maxConcurrentInvocations) {
        const next = this.buffer.next(Date.now());
        if ('batch' in next) {
          this.launch(next.batch);
          this.resumeUnfilledPartitions();
          continue;
        }
        await this.wakeup.wait(next.wakeAt === undefined ? undefined : next.wakeAt - Date.now());
      } else {
        await this.wakeup.wait(undefined);
      }
    }
    await Promise.all(this.inFlight);
  }

  /** Connects, subscribes, waits until ready, then starts dispatching; disconnects if that fails. */
  async start(): Promise<void> {
    const { consumer, topic, options } = this;
    await consumer.connect();
    const startupFailed = new AbortController();
    const ready = waitUntilReady(
      consumer,
      topic,
      options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
      startupFailed.signal,
    );
    try {
      const running = (async () => {
        await consumer.subscribe({ topic, fromBeginning: options.startingPosition === 'TRIM_HORIZON' });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: (payload) => this.intake(payload),
        });
      })();
      // Both at once, so that whichever fails first is reported and neither rejection goes unhandled.
      await Promise.all([running, ready]);
    } catch (error) {
      startupFailed.abort();
      await consumer
        .disconnect()
        .catch((disconnectError: unknown) =>
          this.log(`disconnect after a failed start: ${describeError(disconnectError)}`),
        );
      throw error;
    }
    this.dispatching = this.dispatch();
    this.log(
      `consuming for group ${options.groupId} (batchSize ${this.settings.batchSize}, window ${this.settings.batchingWindowMs} ms)`,
    );
  }

  /** Idempotent: every call after the first returns the same promise. */
  stop(): Promise<void> {
    this.stopped ??= this.shutDown();
    return this.stopped;
  }

  private async shutDown(): Promise<void> {
    this.stopping.abort();
    this.wakeup.notify();
    // Nothing more is taken in; the fetched records that wait are simply fetched again next time.
    this.paused.clear();
    try {
      this.consumer.pause([{ topic: this.topic }]);
    } catch (error) {
      this.log(`could not pause before stopping: ${describeError(error)}`);
    }
    await this.dispatching;
    this.buffer.clear();
    // Only now: kafkajs drops commits once its consumer has stopped.
    await this.consumer.disconnect();
    this.log('stopped');
  }

  stats(): MskTriggerStats {
    const partitions = this.buffer.partitionStats(this.paused);
    return {
      ...this.counters,
      bufferedRecords: partitions.reduce((sum, partition) => sum + partition.bufferedRecords, 0),
      inFlightInvocations: this.inFlight.size,
      lastError: this.lastError,
      partitions,
    };
  }
}

export async function startMskTrigger(options: MskTriggerOptions): Promise<RunningMskTrigger> {
  const run = new MskTriggerRun(options, validated(options));
  await run.start();
  return { stop: () => run.stop(), stats: () => run.stats() };
}
