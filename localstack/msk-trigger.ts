/**
 * The Amazon MSK event source mapping, reproduced on the local broker: a kafkajs consumer feeds the
 * very same Lambda handler with MSK-shaped events and the trigger's delivery semantics.
 *
 * Design: kafkajs only *fetches*; a small dispatcher decides what to deliver.
 *  1. Intake (`eachBatch`, returns at once): the fetched records of one partition are converted to
 *     MSK records and appended to that partition's buffer, at most `batchSize` per partition. The
 *     kafkajs fetch position is moved to just after the last record taken (`resolveOffset`: with
 *     `autoCommit: false` that is *not* a commit), and a partition whose buffer is full is paused, so
 *     memory stays below partitions × batchSize records. The rest of a fetch is simply fetched
 *     again after `resume`.
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
import type { MSKEvent, MSKRecord } from 'aws-lambda';
import type { Consumer, EachBatchPayload, Kafka } from '../shared/adapters/kafka.ts';

/**
 * One record as the trigger delivers it. AWS leaves `key` out of a record whose Kafka key is null
 * (aws-powertools/powertools-lambda-python#6508 shows such an event; Powertools for TypeScript reads
 * a missing key as undefined), and leaves `value` out of a tombstone (null value,
 * aws-powertools/powertools-lambda-typescript#5016). `MSKRecord` from @types/aws-lambda declares both
 * as always present, so this type makes them optional rather than invent an empty string.
 */
export type MskTriggerRecord = Omit<MSKRecord, 'key' | 'value'> & {
  readonly key?: string;
  readonly value?: string;
};

/** `MSKEvent` with records as AWS really sends them (see `MskTriggerRecord`). */
export type MskTriggerEvent = Omit<MSKEvent, 'records'> & {
  readonly records: Record<string, MskTriggerRecord[]>;
};

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
  /** Runs the handler; a rejection means "retry this whole batch". The result is ignored. */
  readonly invoke: (event: MskTriggerEvent) => Promise<unknown>;
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
}

export interface MskPartitionStats {
  readonly partition: number;
  /** The offset this trigger last committed for the partition (the next one to process). */
  readonly committedOffset: number | undefined;
  readonly bufferedRecords: number;
  readonly inFlight: boolean;
  readonly paused: boolean;
  /** The partition's end offset as of the last fetch. */
  readonly highWatermark: number | undefined;
  /** Records not yet processed successfully, as of the last fetch. */
  readonly lag: number | undefined;
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

type KafkaMessage = EachBatchPayload['batch']['messages'][number];

export const DEFAULT_BATCHING_WINDOW_MS = 500;
/** Lambda's limit for a synchronous invocation payload. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const DEFAULT_RETRY_INITIAL_DELAY_MS = 200;
const DEFAULT_RETRY_MAX_DELAY_MS = 10_000;
const DEFAULT_READY_TIMEOUT_MS = 30_000;
/** Bounds how late a resumed partition is fetched again, and how long `stop` waits for a fetch. */
const FETCH_MAX_WAIT_MS = 100;
/** kafkajs's value for a record batch whose timestamps were set by the broker. */
const KAFKAJS_LOG_APPEND_TIME = 1;

function timestampTypeOf(message: KafkaMessage): MSKRecord['timestampType'] {
  // kafkajs decodes the record batch's timestamp type (attribute bit 3) into an untyped
  // `batchContext` on each record; without it the type is CREATE_TIME, Kafka's default.
  const context: unknown = 'batchContext' in message ? message.batchContext : undefined;
  if (
    typeof context === 'object' &&
    context !== null &&
    'timestampType' in context &&
    context.timestampType === KAFKAJS_LOG_APPEND_TIME
  ) {
    return 'LOG_APPEND_TIME';
  }
  return 'CREATE_TIME';
}

/**
 * AWS gives one `{ name: bytes }` object per header, in record order. kafkajs merges repeated
 * names into an array under the first occurrence, so repeated headers come out next to each other:
 * the order between headers of different names is lost, the order within one name is kept.
 * A null header value becomes an empty byte array.
 */
function headersOf(message: KafkaMessage): Record<string, number[]>[] {
  const headers: Record<string, number[]>[] = [];
  for (const [name, raw] of Object.entries(message.headers ?? {})) {
    const values = Array.isArray(raw) ? raw : [raw];
    for (const value of values) {
      // kafkajs decodes a null header value as null, although its type does not say so.
      const bytes =
        value === undefined || value === null
          ? []
          : [...(typeof value === 'string' ? Buffer.from(value) : value)];
      headers.push({ [name]: bytes });
    }
  }
  return headers;
}

/** A kafkajs message in the shape the MSK trigger delivers (offsets and timestamps as numbers). */
export function toMskRecord(topic: string, partition: number, message: KafkaMessage): MskTriggerRecord {
  return {
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    timestampType: timestampTypeOf(message),
    ...(message.key === null ? {} : { key: message.key.toString('base64') }),
    ...(message.value === null ? {} : { value: message.value.toString('base64') }),
    headers: headersOf(message),
  };
}

/** Close to the record's JSON size (header bytes print as up to 4 characters each). */
function approximateJsonBytes(record: MskTriggerRecord): number {
  let bytes = 160 + record.topic.length + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const header of record.headers) {
    for (const [name, value] of Object.entries(header)) bytes += name.length + 8 + value.length * 4;
  }
  return bytes;
}

export interface BatchLimits {
  readonly batchSize: number;
  readonly batchingWindowMs: number;
  readonly maxPayloadBytes: number;
}

/** Records of one event, per partition, each list in offset order. */
export interface TakenBatch {
  readonly partitions: readonly {
    readonly partition: number;
    readonly records: readonly MskTriggerRecord[];
  }[];
  readonly recordCount: number;
}

interface BufferedRecord {
  readonly record: MskTriggerRecord;
  readonly arrivedAt: number;
  readonly bytes: number;
}

interface PartitionLane {
  readonly partition: number;
  buffer: BufferedRecord[];
  /** Just after the last record taken from Kafka: where fetching continues. Undefined: from the commit. */
  nextOffset: number | undefined;
  /** The first record not yet processed successfully. */
  pendingOffset: number | undefined;
  committedOffset: number | undefined;
  highWatermark: number | undefined;
  /** An event holding this partition is being invoked or committed. */
  inFlight: boolean;
}

/**
 * The trigger's buffers and batching rules, free of Kafka and clocks (time is passed in), so the
 * rules can be tested on plain arrays.
 */
export class TriggerBuffer {
  private readonly lanes = new Map<number, PartitionLane>();

  constructor(private readonly limits: BatchLimits) {}

  private lane(partition: number): PartitionLane {
    let lane = this.lanes.get(partition);
    if (!lane) {
      lane = {
        partition,
        buffer: [],
        nextOffset: undefined,
        pendingOffset: undefined,
        committedOffset: undefined,
        highWatermark: undefined,
        inFlight: false,
      };
      this.lanes.set(partition, lane);
    }
    return lane;
  }

  /**
   * Takes fetched records of one partition, in offset order: skips those already taken (a fetch
   * after a rebalance may overlap), stops at `batchSize` buffered records. Returns where fetching
   * must continue and whether the partition's buffer is full (then it should be paused).
   */
  accept(
    partition: number,
    records: readonly MskTriggerRecord[],
    now: number,
    highWatermark?: number,
  ): { readonly resumeFrom: number | undefined; readonly full: boolean } {
    const lane = this.lane(partition);
    if (highWatermark !== undefined) lane.highWatermark = highWatermark;
    for (const record of records) {
      if (lane.nextOffset !== undefined && record.offset < lane.nextOffset) continue;
      if (lane.buffer.length >= this.limits.batchSize) break;
      lane.buffer.push({ record, arrivedAt: now, bytes: approximateJsonBytes(record) });
      lane.nextOffset = record.offset + 1;
      lane.pendingOffset ??= record.offset;
    }
    return { resumeFrom: lane.nextOffset, full: this.isFull(partition) };
  }

  isFull(partition: number): boolean {
    return (this.lanes.get(partition)?.buffer.length ?? 0) >= this.limits.batchSize;
  }

  /**
   * The event to deliver now, if one is due: from partitions not in flight, `batchSize` records
   * waiting, or the oldest one waiting for the whole window, or a payload at the size limit.
   * Otherwise when to look again (undefined: when more records arrive or a batch settles).
   */
  next(now: number): { readonly batch: TakenBatch } | { readonly wakeAt: number | undefined } {
    const candidates = [...this.lanes.values()].filter((lane) => !lane.inFlight && lane.buffer.length > 0);
    if (candidates.length === 0) return { wakeAt: undefined };
    let waiting = 0;
    let waitingBytes = 0;
    let oldest = Number.POSITIVE_INFINITY;
    for (const lane of candidates) {
      waiting += lane.buffer.length;
      for (const buffered of lane.buffer) waitingBytes += buffered.bytes;
      oldest = Math.min(oldest, lane.buffer[0]?.arrivedAt ?? oldest);
    }
    const windowEnd = oldest + this.limits.batchingWindowMs;
    const due =
      waiting >= this.limits.batchSize || waitingBytes >= this.limits.maxPayloadBytes || now >= windowEnd;
    if (!due) return { wakeAt: windowEnd };
    // Oldest records first, so that no partition starves when several compete for one event.
    candidates.sort(
      (a, b) => (a.buffer[0]?.arrivedAt ?? 0) - (b.buffer[0]?.arrivedAt ?? 0) || a.partition - b.partition,
    );
    const partitions: { partition: number; records: MskTriggerRecord[] }[] = [];
    let count = 0;
    let bytes = 0;
    let cutBySize = false;
    for (const lane of candidates) {
      let taken = 0;
      for (const buffered of lane.buffer) {
        if (count >= this.limits.batchSize) break;
        // The first record always goes, even alone over the limit (AWS would fail it; we deliver it).
        if (count > 0 && bytes + buffered.bytes > this.limits.maxPayloadBytes) {
          cutBySize = true;
          break;
        }
        bytes += buffered.bytes;
        count++;
        taken++;
      }
      if (taken > 0) {
        partitions.push({
          partition: lane.partition,
          records: lane.buffer.slice(0, taken).map((buffered) => buffered.record),
        });
        lane.buffer = lane.buffer.slice(taken);
        lane.inFlight = true;
      }
      if (cutBySize || count >= this.limits.batchSize) break;
    }
    return { batch: { partitions, recordCount: count } };
  }

  /** The offsets to commit once `batch` succeeded: for each partition, the one after its last record. */
  static commitsFor(batch: TakenBatch): { readonly partition: number; readonly offset: number }[] {
    return batch.partitions.flatMap(({ partition, records }) => {
      const last = records[records.length - 1];
      return last ? [{ partition, offset: last.offset + 1 }] : [];
    });
  }

  /** After a success (and its commit): the partitions are free again, and their records processed. */
  succeeded(batch: TakenBatch, committed: boolean): void {
    for (const { partition, offset } of TriggerBuffer.commitsFor(batch)) {
      const lane = this.lane(partition);
      lane.inFlight = false;
      lane.pendingOffset = lane.buffer[0]?.record.offset ?? lane.nextOffset ?? offset;
      if (committed) lane.committedOffset = offset;
    }
  }

  /** Only while stopping: the batch is given up uncommitted, so the group redelivers it next time. */
  abandoned(batch: TakenBatch): void {
    for (const { partition } of batch.partitions) this.lane(partition).inFlight = false;
  }

  /**
   * After a rebalance: partitions no longer assigned lose their buffers and their fetch position
   * (if assigned again, fetching starts from the group's commit). Returns where each still-assigned
   * partition must continue, since kafkajs itself would restart from the commit and fetch records
   * that are already buffered or in flight.
   */
  reassigned(assigned: ReadonlySet<number>): { readonly partition: number; readonly offset: number }[] {
    const positions: { partition: number; offset: number }[] = [];
    for (const lane of this.lanes.values()) {
      if (assigned.has(lane.partition)) {
        if (lane.nextOffset !== undefined)
          positions.push({ partition: lane.partition, offset: lane.nextOffset });
      } else {
        lane.buffer = [];
        lane.nextOffset = undefined;
        lane.pendingOffset = undefined;
      }
    }
    return positions;
  }

  clear(): void {
    for (const lane of this.lanes.values()) lane.buffer = [];
  }

  partitionStats(paused: ReadonlySet<number>): MskPartitionStats[] {
    return [...this.lanes.values()]
      .sort((a, b) => a.partition - b.partition)
      .map((lane) => ({
        partition: lane.partition,
        committedOffset: lane.committedOffset,
        bufferedRecords: lane.buffer.length,
        inFlight: lane.inFlight,
        paused: paused.has(lane.partition),
        highWatermark: lane.highWatermark,
        lag:
          lane.highWatermark === undefined || lane.pendingOffset === undefined
            ? undefined
            : Math.max(0, lane.highWatermark - lane.pendingOffset),
      }));
  }
}

/** The n-th retry's delay: initial × 2^(n−1), capped. */
export function retryDelayMs(failedAttempts: number, initialDelayMs: number, maxDelayMs: number): number {
  return Math.min(maxDelayMs, initialDelayMs * 2 ** Math.max(0, failedAttempts - 1));
}

/** A wake-up for one waiter: `wait` ends on `notify` or after `timeoutMs`; a notify in between is kept. */
function createWakeup() {
  let wakeWaiter: (() => void) | undefined;
  let notified = false;
  return {
    notify(): void {
      if (wakeWaiter) wakeWaiter();
      else notified = true;
    },
    wait(timeoutMs: number | undefined): Promise<void> {
      if (notified) {
        notified = false;
        return Promise.resolve();
      }
      return new Promise((resolveWait) => {
        let timer: NodeJS.Timeout | undefined;
        const finish = () => {
          clearTimeout(timer);
          wakeWaiter = undefined;
          resolveWait();
        };
        if (timeoutMs !== undefined) timer = setTimeout(finish, Math.max(0, timeoutMs));
        wakeWaiter = finish;
      });
    },
  };
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function validated(options: MskTriggerOptions): BatchLimits & {
  readonly maxConcurrentInvocations: number;
  readonly retryInitialDelayMs: number;
  readonly retryMaxDelayMs: number;
} {
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

export async function startMskTrigger(options: MskTriggerOptions): Promise<RunningMskTrigger> {
  const settings = validated(options);
  const { topic } = options;
  const log = (line: string) => options.log?.(`[msk-trigger ${topic}] ${line}`);
  const buffer = new TriggerBuffer(settings);
  const paused = new Set<number>();
  const wakeup = createWakeup();
  const stopping = new AbortController();
  const inFlight = new Set<Promise<void>>();
  const counters = {
    invocations: 0,
    successfulInvocations: 0,
    failedInvocations: 0,
    retries: 0,
    recordsDelivered: 0,
    commitFailures: 0,
  };
  let lastError: string | undefined;

  const consumer = options.kafka.consumer({
    groupId: options.groupId,
    maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
    allowAutoTopicCreation: false,
  });

  const pausePartition = (partition: number) => {
    if (paused.has(partition)) return;
    paused.add(partition);
    consumer.pause([{ topic, partitions: [partition] }]);
  };
  const resumeUnfilledPartitions = () => {
    for (const partition of [...paused]) {
      if (buffer.isFull(partition)) continue;
      paused.delete(partition);
      consumer.resume([{ topic, partitions: [partition] }]);
    }
  };

  // kafkajs restarts from the group's commit after every (re)join, and forgets pauses after a
  // crash-restart: put each partition back where this trigger is, and pause the full ones again.
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    const assigned = new Set(event.payload.memberAssignment[topic] ?? []);
    for (const { partition, offset } of buffer.reassigned(assigned)) {
      consumer.seek({ topic, partition, offset: String(offset) });
    }
    for (const partition of paused) {
      if (assigned.has(partition)) consumer.pause([{ topic, partitions: [partition] }]);
      else paused.delete(partition);
    }
    wakeup.notify();
  });
  consumer.on(consumer.events.CRASH, (event) => {
    lastError = describeError(event.payload.error);
    log(
      `consumer crashed (${event.payload.restart ? 'kafkajs restarts it' : 'not restarting'}): ${lastError}`,
    );
  });

  const intake = async ({ batch, resolveOffset, isStale }: EachBatchPayload): Promise<void> => {
    // A stale batch was fetched before a seek: the records after the seek position come next.
    if (stopping.signal.aborted || isStale()) return;
    const records = batch.messages.map((message) => toMskRecord(topic, batch.partition, message));
    const { resumeFrom, full } = buffer.accept(
      batch.partition,
      records,
      Date.now(),
      Number(batch.highWatermark),
    );
    // Moves only kafkajs's fetch position (autoCommit is off): records past the buffer's limit are
    // fetched again after the partition is resumed.
    if (resumeFrom !== undefined) resolveOffset(String(resumeFrom - 1));
    if (full) pausePartition(batch.partition);
    wakeup.notify();
  };

  const commit = async (batch: TakenBatch): Promise<boolean> => {
    const offsets = TriggerBuffer.commitsFor(batch);
    try {
      await consumer.commitOffsets(
        offsets.map(({ partition, offset }) => ({ topic, partition, offset: String(offset) })),
      );
      return true;
    } catch (error) {
      // The handler has succeeded: the next commit of these partitions covers this one; if none
      // comes before a restart, the batch is delivered again (at least once, as on AWS).
      counters.commitFailures++;
      lastError = describeError(error);
      log(`could not commit ${JSON.stringify(offsets)}: ${lastError}`);
      return false;
    }
  };

  const deliver = async (batch: TakenBatch): Promise<void> => {
    const records: Record<string, MskTriggerRecord[]> = {};
    for (const { partition, records: partitionRecords } of batch.partitions) {
      records[`${topic}-${partition}`] = [...partitionRecords];
    }
    const event: MskTriggerEvent = {
      eventSource: 'aws:kafka',
      eventSourceArn: options.eventSourceArn,
      bootstrapServers: options.bootstrapServers,
      records,
    };
    const where = batch.partitions
      .map(({ partition, records: partitionRecords }) => {
        const first = partitionRecords[0]?.offset;
        const last = partitionRecords[partitionRecords.length - 1]?.offset;
        return `${partition}@${first}-${last}`;
      })
      .join(', ');
    for (let attempt = 1; ; attempt++) {
      counters.invocations++;
      if (attempt > 1) counters.retries++;
      try {
        // A copy per attempt: a handler that edits its event must not change what a retry sees.
        await options.invoke(structuredClone(event));
      } catch (error) {
        counters.failedInvocations++;
        lastError = describeError(error);
        if (stopping.signal.aborted) {
          log(`invocation failed while stopping; batch ${where} left uncommitted: ${lastError}`);
          buffer.abandoned(batch);
          return;
        }
        const delay = retryDelayMs(attempt, settings.retryInitialDelayMs, settings.retryMaxDelayMs);
        log(`invocation failed (attempt ${attempt}) for ${where}, retrying in ${delay} ms: ${lastError}`);
        await sleep(delay, undefined, { signal: stopping.signal }).catch((sleepError: unknown) => {
          if (!stopping.signal.aborted) throw sleepError;
        });
        if (stopping.signal.aborted) {
          log(`stopped before retrying batch ${where}; it stays uncommitted`);
          buffer.abandoned(batch);
          return;
        }
        continue;
      }
      counters.successfulInvocations++;
      counters.recordsDelivered += batch.recordCount;
      // The partitions stay in flight until the commit is done, so commits never overtake each other.
      const committed = await commit(batch);
      buffer.succeeded(batch, committed);
      return;
    }
  };

  const launch = (batch: TakenBatch) => {
    const delivery: Promise<void> = deliver(batch)
      .catch((error: unknown) => {
        // deliver() handles the handler's errors itself; this is a bug in the trigger.
        lastError = describeError(error);
        log(`internal error, batch left uncommitted: ${lastError}`);
        buffer.abandoned(batch);
      })
      .finally(() => {
        inFlight.delete(delivery);
        wakeup.notify();
      });
    inFlight.add(delivery);
  };

  const dispatch = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      if (inFlight.size < settings.maxConcurrentInvocations) {
        const next = buffer.next(Date.now());
        if ('batch' in next) {
          launch(next.batch);
          resumeUnfilledPartitions();
          continue;
        }
        await wakeup.wait(next.wakeAt === undefined ? undefined : next.wakeAt - Date.now());
      } else {
        await wakeup.wait(undefined);
      }
    }
    await Promise.all(inFlight);
  };

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
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: intake });
    })();
    // Both at once, so that whichever fails first is reported and neither rejection goes unhandled.
    await Promise.all([running, ready]);
  } catch (error) {
    startupFailed.abort();
    await consumer
      .disconnect()
      .catch((disconnectError: unknown) =>
        log(`disconnect after a failed start: ${describeError(disconnectError)}`),
      );
    throw error;
  }
  const dispatching = dispatch();
  log(
    `consuming for group ${options.groupId} (batchSize ${settings.batchSize}, window ${settings.batchingWindowMs} ms)`,
  );

  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    stopping.abort();
    wakeup.notify();
    // Nothing more is taken in; the fetched records that wait are simply fetched again next time.
    paused.clear();
    try {
      consumer.pause([{ topic }]);
    } catch (error) {
      log(`could not pause before stopping: ${describeError(error)}`);
    }
    await dispatching;
    buffer.clear();
    // Only now: kafkajs drops commits once its consumer has stopped.
    await consumer.disconnect();
    log('stopped');
  };

  return {
    stop: () => {
      stopped ??= stop();
      return stopped;
    },
    stats: () => {
      const partitions = buffer.partitionStats(paused);
      return {
        ...counters,
        bufferedRecords: partitions.reduce((sum, partition) => sum + partition.bufferedRecords, 0),
        inFlightInvocations: inFlight.size,
        lastError,
        partitions,
      };
    },
  };
}
