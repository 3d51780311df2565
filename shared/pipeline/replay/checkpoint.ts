/**
 * Replay's checkpoint: one item per object (bucket, key) that is at once its progress report (read
 * by the API) and its lease. Every write is conditional on the version last read or written, so two
 * invocations can never both believe they hold the object.
 */
import type { Json, JsonObject } from '../../core/analysis.ts';
import type { ItemKey, ItemStore, StoredItem } from '../ports.ts';

/** The checkpoint/progress item's payload. */
export interface ReplayProgress {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly analysis: string;
  readonly run: string;
  readonly status: 'running' | 'done' | 'refused';
  readonly message?: string;
  readonly rowsPerRecord: number;
  readonly rate: number;
  readonly checkpointRows: number;
  /** Every row goes to this partition (metadata `partition`); otherwise by key. */
  readonly fixedPartition?: number;
  /**
   * Rows sorted by event time (metadata `order=event-time`); absent: file order. Kept here so that
   * every invocation of a replay, and reconcile, reads the rows in the order its first one chose.
   */
  readonly order?: 'event-time';
  readonly rowsSent: number;
  readonly recordsSent: number;
  /** Next sequence number per partition. */
  readonly sequences: number[];
  readonly objectBytes: number;
  readonly bytesRead: number;
  readonly startedAtMs: number;
  readonly updatedAtMs: number;
  readonly finishedAtMs?: number;
  /**
   * Time since startedAtMs with no invocation replaying (from one checkpoint to the invocation that
   * resumed from it): an interrupted replay continued hours later must not show hours in its rate.
   */
  readonly pausedMs?: number;
  readonly leaseOwner: string;
  readonly leaseUntilMs: number;
  readonly invocations: number;
  /**
   * Set just before an invocation cuts records at a row that is not a checkpoint row (it ran out of
   * time between two): whoever resumes from this checkpoint cuts at the same row, so records sent
   * before a crash in between are sent again byte for byte.
   */
  readonly flushAtRow?: number;
}

/** A paced replay writes a checkpoint at least this often, so a lease and the deadline stay in reach. */
const MAX_CHECKPOINT_SECONDS = 30;
/** How long a lease lasts past a checkpoint; an invocation that died frees its object after this. */
export const LEASE_MS = 120_000;

/**
 * Rows between checkpoints (and partition-buffer flushes). A function of the settings only, never
 * of timing, so every invocation of a replay cuts records at the same rows.
 */
export function checkpointRowsFor(rowsPerRecord: number, partitions: number, rate: number): number {
  const forPacking = Math.max(10_000, rowsPerRecord * partitions * 2);
  return rate > 0 ? Math.max(1, Math.min(forPacking, Math.floor(rate * MAX_CHECKPOINT_SECONDS))) : forPacking;
}

/** The lease's end when checkpointing at `nowMs`: never past the invocation's own deadline. */
export function leaseUntil(nowMs: number, remainingMs: number): number {
  return nowMs + Math.min(remainingMs, LEASE_MS);
}

function numberField(payload: JsonObject, name: string): number {
  const value = payload[name];
  if (typeof value !== 'number') throw new Error(`replay checkpoint: ${name} is not a number`);
  return value;
}

function stringField(payload: JsonObject, name: string): string {
  const value = payload[name];
  if (typeof value !== 'string') throw new Error(`replay checkpoint: ${name} is not a string`);
  return value;
}

function statusField(payload: JsonObject): ReplayProgress['status'] {
  const status = stringField(payload, 'status');
  if (status !== 'running' && status !== 'done' && status !== 'refused')
    throw new Error(`replay checkpoint: bad status ${status}`);
  return status;
}

function sequencesField(payload: JsonObject): number[] {
  const sequences = payload.sequences;
  if (!Array.isArray(sequences) || !sequences.every((value) => typeof value === 'number')) {
    throw new Error('replay checkpoint: sequences is not a list of numbers');
  }
  return sequences.filter((value): value is number => typeof value === 'number');
}

export function readProgress(item: StoredItem): ReplayProgress {
  const payload = item.payload;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    throw new Error('replay checkpoint is not an object');
  const { message, finishedAtMs, fixedPartition, flushAtRow, order, pausedMs } = payload;
  return {
    bucket: stringField(payload, 'bucket'),
    key: stringField(payload, 'key'),
    etag: stringField(payload, 'etag'),
    analysis: stringField(payload, 'analysis'),
    run: stringField(payload, 'run'),
    status: statusField(payload),
    ...(typeof message === 'string' ? { message } : {}),
    rowsPerRecord: numberField(payload, 'rowsPerRecord'),
    rate: numberField(payload, 'rate'),
    checkpointRows: numberField(payload, 'checkpointRows'),
    ...(typeof fixedPartition === 'number' ? { fixedPartition } : {}),
    ...(order === 'event-time' ? { order } : {}),
    rowsSent: numberField(payload, 'rowsSent'),
    recordsSent: numberField(payload, 'recordsSent'),
    sequences: sequencesField(payload),
    objectBytes: numberField(payload, 'objectBytes'),
    bytesRead: numberField(payload, 'bytesRead'),
    startedAtMs: numberField(payload, 'startedAtMs'),
    updatedAtMs: numberField(payload, 'updatedAtMs'),
    ...(typeof finishedAtMs === 'number' ? { finishedAtMs } : {}),
    ...(typeof pausedMs === 'number' ? { pausedMs } : {}),
    leaseOwner: stringField(payload, 'leaseOwner'),
    leaseUntilMs: numberField(payload, 'leaseUntilMs'),
    invocations: numberField(payload, 'invocations'),
    ...(typeof flushAtRow === 'number' ? { flushAtRow } : {}),
  };
}

function progressJson(progress: ReplayProgress): Json {
  return { ...progress, sequences: [...progress.sequences] };
}

/** Writes one object's checkpoint, each write conditional on the version this writer saw last. */
export class CheckpointWriter {
  private version: number;

  constructor(
    private readonly store: ItemStore,
    private readonly key: ItemKey,
    existing: StoredItem | undefined,
  ) {
    this.version = existing?.version ?? 0;
  }

  /** False when someone else wrote the item since (the lease is lost). */
  async write(progress: ReplayProgress): Promise<boolean> {
    const written = await this.store.put(
      { ...this.key, version: this.version + 1, payload: progressJson(progress) },
      this.version === 0 ? { kind: 'absent' } : { kind: 'version', version: this.version },
    );
    if (written) this.version += 1;
    return written;
  }
}
