/**
 * Replay: streams one dataset object into `data_raw` at a chosen rate, transport-neutral.
 *
 * - Streams (never loads an object whole); `.gz` is decompressed on the fly; the analysis frames rows.
 * - Every row goes to the partition Kafka's default partitioner gives its key (dt: ORBIT_CNT), so
 *   rows packed into one record (rowsPerRecord > 1) share a partition and a key never spans two.
 * - Records carry (analysis, run, sequence) headers. Packing is deterministic: partition buffers
 *   are flushed every `checkpointRows` rows, exactly where the checkpoint is written. A replay that
 *   resumes from a checkpoint — after a crash, near the Lambda deadline, or for a duplicated S3
 *   event — therefore produces byte-identical records under the same sequence numbers, which the
 *   aggregate side applies once. Exactly-once end to end, with at-least-once transports.
 * - Progress (rows sent, bytes read of the object, rate) is the checkpoint item, read by the API.
 * - A lease in the checkpoint keeps a duplicated event from replaying the same object concurrently.
 */

import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { AnyAnalysis, Json, JsonObject } from '../core/analysis.ts';
import { ObjectFormatError } from '../core/analysis.ts';
import { partitionForKey } from '../core/kafka-partitioner.ts';
import { originHeaders } from '../core/record-headers.ts';
import type { ItemStore, ObjectSource, OutgoingMessage, Publisher, StoredItem } from './ports.ts';
import { replayKey } from './state-keys.ts';

export interface ReplayRequest {
  readonly bucket: string;
  readonly key: string;
}

export interface ReplayDependencies {
  readonly analysisForKey: (key: string) => AnyAnalysis | undefined;
  readonly source: ObjectSource;
  readonly publisher: Publisher;
  readonly store: ItemStore;
  readonly rawTopic: string;
  readonly partitions: number;
  readonly defaults: { readonly rowsPerRecord: number; readonly rate: number };
  /** Identifies this invocation (the Lambda request id) as the lease owner. */
  readonly invocationId: string;
  readonly remainingMs: () => number;
  /** Asks for a new invocation that continues from the checkpoint (Lambda's 15-minute limit). */
  readonly continueLater: (request: ReplayRequest) => Promise<void>;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: (message: string, details?: JsonObject) => void;
  /** Stop and continue elsewhere when less than this is left (default 60 s). */
  readonly deadlineMarginMs?: number;
}

export type ReplayStatus =
  | 'done'
  | 'continued'
  | 'already-done'
  | 'busy-elsewhere'
  | 'refused'
  | 'lease-lost'
  | 'reference-data';

export interface ReplayOutcome {
  readonly status: ReplayStatus;
  readonly rowsSent: number;
  readonly recordsSent: number;
  readonly message?: string;
}

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
  readonly rowsSent: number;
  readonly recordsSent: number;
  /** Next sequence number per partition. */
  readonly sequences: number[];
  readonly objectBytes: number;
  readonly bytesRead: number;
  readonly startedAtMs: number;
  readonly updatedAtMs: number;
  readonly finishedAtMs?: number;
  readonly leaseOwner: string;
  readonly leaseUntilMs: number;
  readonly invocations: number;
}

const SEND_CHUNK_RECORDS = 1000;

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

export function readProgress(item: StoredItem): ReplayProgress {
  const payload = item.payload;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    throw new Error('replay checkpoint is not an object');
  const status = stringField(payload, 'status');
  if (status !== 'running' && status !== 'done' && status !== 'refused')
    throw new Error(`replay checkpoint: bad status ${status}`);
  const sequences = payload.sequences;
  if (!Array.isArray(sequences) || !sequences.every((value) => typeof value === 'number')) {
    throw new Error('replay checkpoint: sequences is not a list of numbers');
  }
  const message = payload.message;
  const finished = payload.finishedAtMs;
  return {
    bucket: stringField(payload, 'bucket'),
    key: stringField(payload, 'key'),
    etag: stringField(payload, 'etag'),
    analysis: stringField(payload, 'analysis'),
    run: stringField(payload, 'run'),
    status,
    ...(typeof message === 'string' ? { message } : {}),
    rowsPerRecord: numberField(payload, 'rowsPerRecord'),
    rate: numberField(payload, 'rate'),
    checkpointRows: numberField(payload, 'checkpointRows'),
    ...(typeof payload.fixedPartition === 'number' ? { fixedPartition: payload.fixedPartition } : {}),
    rowsSent: numberField(payload, 'rowsSent'),
    recordsSent: numberField(payload, 'recordsSent'),
    sequences: sequences.filter((value): value is number => typeof value === 'number'),
    objectBytes: numberField(payload, 'objectBytes'),
    bytesRead: numberField(payload, 'bytesRead'),
    startedAtMs: numberField(payload, 'startedAtMs'),
    updatedAtMs: numberField(payload, 'updatedAtMs'),
    ...(typeof finished === 'number' ? { finishedAtMs: finished } : {}),
    leaseOwner: stringField(payload, 'leaseOwner'),
    leaseUntilMs: numberField(payload, 'leaseUntilMs'),
    invocations: numberField(payload, 'invocations'),
  };
}

function progressJson(progress: ReplayProgress): Json {
  return { ...progress, sequences: [...progress.sequences] };
}

/**
 * Per-object settings from S3 metadata, else the defaults: `rows-per-record`, `rate`, and
 * `partition`, which sends every row to that one partition of data_raw (for runs that must
 * reproduce a single-partition source, e.g. the sf job's batches of 200).
 */
export function replaySettings(
  metadata: Readonly<Record<string, string>>,
  defaults: ReplayDependencies['defaults'],
  partitions: number,
): { rowsPerRecord: number; rate: number; partition: number | undefined } | { error: string } {
  const rowsText = metadata['rows-per-record'];
  const rateText = metadata.rate;
  const decimal = (text: string) => (/^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : Number.NaN);
  const rowsPerRecord = rowsText === undefined ? defaults.rowsPerRecord : decimal(rowsText);
  const rate = rateText === undefined ? defaults.rate : decimal(rateText);
  if (!Number.isInteger(rowsPerRecord) || rowsPerRecord < 1 || rowsPerRecord > 100_000) {
    return { error: `metadata rows-per-record "${rowsText}" must be a whole number from 1 to 100000` };
  }
  if (!Number.isFinite(rate) || rate < 0)
    return { error: `metadata rate "${rateText}" must be a number ≥ 0 (rows/s, 0 = full speed)` };
  const partitionText = metadata.partition;
  const partition = partitionText === undefined ? undefined : decimal(partitionText);
  if (partition !== undefined && (!Number.isInteger(partition) || partition >= partitions)) {
    return {
      error: `metadata partition "${partitionText}" must be a partition number from 0 to ${partitions - 1}`,
    };
  }
  return { rowsPerRecord, rate, partition };
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

async function* gunzipStream(input: AsyncIterable<Uint8Array>, onCompressedBytes: (bytes: number) => void) {
  const counted = Readable.from(
    (async function* () {
      for await (const chunk of input) {
        onCompressedBytes(chunk.length);
        yield chunk;
      }
    })(),
  );
  try {
    yield* counted.pipe(createGunzip()) as AsyncIterable<Uint8Array>;
  } catch (error) {
    // zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR, unexpected end) mean the object is not valid gzip.
    if (error instanceof Error && 'code' in error && String(error.code).startsWith('Z_')) {
      throw new ObjectFormatError(`not a valid gzip file: ${error.message}`);
    }
    throw error;
  }
}

export async function replayObject(request: ReplayRequest, deps: ReplayDependencies): Promise<ReplayOutcome> {
  const { bucket, key } = request;
  // Reference data (sf's radio codes) lives in the bucket for the API to read; it is not a dataset.
  if (deps.analysisForKey(key)?.reference?.objectKey === key) {
    deps.log('replay: reference data, read by the API, not replayed', { bucket, key });
    return { status: 'reference-data', rowsSent: 0, recordsSent: 0 };
  }
  const key_ = replayKey(bucket, key);
  const info = await deps.source.head(bucket, key);
  const existingItem = await deps.store.get(key_);
  const existing = existingItem ? readProgress(existingItem) : undefined;
  const sameObject = existing !== undefined && existing.etag === info.etag;
  const now = deps.now();

  if (sameObject && existing.status === 'done') {
    deps.log('replay: object already replayed, nothing to send', { bucket, key, etag: info.etag });
    return { status: 'already-done', rowsSent: 0, recordsSent: 0 };
  }
  if (sameObject && existing.status === 'refused') {
    return {
      status: 'refused',
      rowsSent: 0,
      recordsSent: 0,
      ...(existing.message ? { message: existing.message } : {}),
    };
  }
  if (sameObject && existing.leaseUntilMs > now && existing.leaseOwner !== deps.invocationId) {
    deps.log('replay: another invocation holds this object, leaving it to it', {
      bucket,
      key,
      owner: existing.leaseOwner,
    });
    return { status: 'busy-elsewhere', rowsSent: 0, recordsSent: 0 };
  }

  let version = existingItem?.version ?? 0;
  const writeProgress = async (progress: ReplayProgress): Promise<boolean> => {
    const written = await deps.store.put(
      { ...key_, version: version + 1, payload: progressJson(progress) },
      version === 0 ? { kind: 'absent' } : { kind: 'version', version },
    );
    if (written) version += 1;
    return written;
  };

  const analysis = deps.analysisForKey(key);
  const settings = replaySettings(info.metadata, deps.defaults, deps.partitions);
  const refuse = async (message: string, analysisId: string): Promise<ReplayOutcome> => {
    deps.log('replay: object refused', { bucket, key, reason: message });
    await writeProgress({
      bucket,
      key,
      etag: info.etag,
      analysis: analysisId,
      run: '',
      status: 'refused',
      message,
      rowsPerRecord: 0,
      rate: 0,
      checkpointRows: 0,
      rowsSent: 0,
      recordsSent: 0,
      sequences: [],
      objectBytes: info.size,
      bytesRead: 0,
      startedAtMs: now,
      updatedAtMs: now,
      leaseOwner: deps.invocationId,
      leaseUntilMs: 0,
      invocations: 1,
    });
    return { status: 'refused', rowsSent: 0, recordsSent: 0, message };
  };
  if (!analysis) {
    return refuse(`no analysis for key "${key}": the first path segment must name one (e.g. dt/…)`, '');
  }
  if ('error' in settings) return refuse(settings.error, analysis.id);
  let framing: ReturnType<typeof analysis.replay.framerFor>;
  try {
    framing = analysis.replay.framerFor(key.replace(/\.gz$/i, ''));
  } catch (error) {
    if (error instanceof ObjectFormatError) return refuse(error.message, analysis.id);
    throw error;
  }

  // Resume only the same object version; a new version (other ETag) is a new run.
  const resumed = sameObject ? existing : undefined;
  const rowsPerRecord = resumed?.rowsPerRecord ?? settings.rowsPerRecord;
  const rate = resumed?.rate ?? settings.rate;
  const checkpointRows = resumed?.checkpointRows ?? checkpointRowsFor(rowsPerRecord, deps.partitions, rate);
  const fixedPartition = resumed ? resumed.fixedPartition : settings.partition;
  const run = resumed?.run ?? `${key}@${info.etag.replaceAll('"', '').slice(0, 12)}`;
  const sequences = resumed ? [...resumed.sequences] : new Array<number>(deps.partitions).fill(0);
  if (sequences.length !== deps.partitions) {
    throw new Error(
      `checkpoint has ${sequences.length} partitions, the topic has ${deps.partitions}: replay it under a new key`,
    );
  }
  const skipRows = resumed?.rowsSent ?? 0;
  const marginMs = deps.deadlineMarginMs ?? 60_000;
  let progress: ReplayProgress = {
    bucket,
    key,
    etag: info.etag,
    analysis: analysis.id,
    run,
    status: 'running',
    rowsPerRecord,
    rate,
    checkpointRows,
    ...(fixedPartition === undefined ? {} : { fixedPartition }),
    rowsSent: skipRows,
    recordsSent: resumed?.recordsSent ?? 0,
    sequences,
    objectBytes: info.size,
    bytesRead: resumed?.bytesRead ?? 0,
    startedAtMs: resumed?.startedAtMs ?? now,
    updatedAtMs: now,
    leaseOwner: deps.invocationId,
    leaseUntilMs: now + Math.min(deps.remainingMs(), LEASE_MS),
    invocations: (resumed?.invocations ?? 0) + 1,
  };
  if (!(await writeProgress(progress))) return { status: 'busy-elsewhere', rowsSent: 0, recordsSent: 0 };
  deps.log(resumed ? 'replay: resuming from checkpoint' : 'replay: starting', {
    bucket,
    key,
    run,
    rowsPerRecord,
    rate,
    fromRow: skipRows,
  });

  const { framer, wireFormat } = framing;
  const buffers: Uint8Array[][] = Array.from({ length: deps.partitions }, () => []);
  const bufferKeys: (string | undefined)[] = new Array(deps.partitions).fill(undefined);
  let pending: OutgoingMessage[] = [];
  let pendingRows = 0;
  let rowIndex = 0; // rows of the object seen so far (including skipped ones)
  let rowsSentNow = 0;
  let recordsSentNow = 0;
  let bytesRead = 0;
  const startedAt = deps.now();

  const emit = (partition: number) => {
    const rows = buffers[partition];
    if (!rows || rows.length === 0) return;
    const sequence = sequences[partition] ?? 0;
    sequences[partition] = sequence + 1;
    pending.push({
      key: bufferKeys[partition],
      partition,
      value: analysis.replay.pack(rows, wireFormat),
      headers: originHeaders({ analysis: analysis.id, run, sequence, wireFormat }),
    });
    pendingRows += rows.length;
    buffers[partition] = [];
    bufferKeys[partition] = undefined;
  };
  const flushBuffers = () => {
    for (let partition = 0; partition < deps.partitions; partition++) emit(partition);
  };
  const send = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    const rows = pendingRows;
    pending = [];
    pendingRows = 0;
    await deps.publisher.publish(deps.rawTopic, batch);
    recordsSentNow += batch.length;
    rowsSentNow += rows;
  };
  /** Waits until the rows sent so far are due at `rate` rows/s since this invocation started. */
  const pace = async () => {
    if (rate <= 0) return;
    const dueAt = startedAt + (rowsSentNow / rate) * 1000;
    const wait = dueAt - deps.now();
    if (wait > 0) await deps.sleep(wait);
  };

  const checkpoint = async (status: 'running' | 'done'): Promise<boolean> => {
    flushBuffers();
    await send();
    await pace();
    const at = deps.now();
    progress = {
      ...progress,
      status,
      rowsSent: skipRows + rowsSentNow,
      recordsSent: (resumed?.recordsSent ?? 0) + recordsSentNow,
      sequences: [...sequences],
      bytesRead: status === 'done' ? info.size : Math.max(progress.bytesRead, bytesRead),
      updatedAtMs: at,
      leaseUntilMs: status === 'done' ? 0 : at + Math.min(deps.remainingMs(), LEASE_MS),
      ...(status === 'done' ? { finishedAtMs: at } : {}),
    };
    return writeProgress(progress);
  };

  const raw = await deps.source.read(bucket, key);
  const gzipped = /\.gz$/i.test(key);
  const countBytes = (bytes: number) => {
    bytesRead += bytes;
  };
  const decompressed = gzipped
    ? gunzipStream(raw, countBytes)
    : (async function* () {
        for await (const chunk of raw) {
          countBytes(chunk.length);
          yield chunk;
        }
      })();

  const sendRow = async (row: Uint8Array): Promise<ReplayStatus | undefined> => {
    rowIndex += 1;
    if (rowIndex <= skipRows) return undefined;
    const rowKey = analysis.replay.partitionKey(row, wireFormat);
    // A row without a readable key (to be rejected downstream) is spread by its position, which
    // every invocation computes alike.
    const partition =
      fixedPartition ??
      (rowKey === undefined ? (rowIndex - 1) % deps.partitions : partitionForKey(rowKey, deps.partitions));
    const buffer = buffers[partition];
    if (!buffer) throw new Error(`partition ${partition} out of range`);
    if (buffer.length === 0) bufferKeys[partition] = rowKey;
    // Copy: framers may hand out views into a chunk that is reused.
    buffer.push(row.slice());
    if (buffer.length >= rowsPerRecord) emit(partition);
    // Paced: send about every 50 ms worth of rows; full speed: in chunks of records.
    if (pending.length >= SEND_CHUNK_RECORDS || (rate > 0 && pendingRows >= Math.max(1, rate / 20))) {
      await send();
      await pace();
    }
    if (rowIndex % checkpointRows === 0) {
      if (!(await checkpoint('running'))) return 'lease-lost';
      if (deps.remainingMs() < marginMs) return 'continued';
    }
    return undefined;
  };

  try {
    let stop: ReplayStatus | undefined;
    for await (const chunk of decompressed) {
      for (const row of framer.push(chunk)) {
        stop = await sendRow(row);
        if (stop) break;
      }
      if (stop) break;
    }
    if (!stop) {
      for (const row of framer.end()) {
        stop = await sendRow(row);
        if (stop) break;
      }
    }
    if (stop === 'lease-lost') {
      deps.log('replay: another invocation took over this object; stopping', { bucket, key });
      return { status: 'lease-lost', rowsSent: rowsSentNow, recordsSent: recordsSentNow };
    }
    if (stop === 'continued') {
      // Free the object for the continuation (a new invocation, another lease owner).
      progress = { ...progress, leaseUntilMs: 0, updatedAtMs: deps.now() };
      if (!(await writeProgress(progress)))
        return { status: 'lease-lost', rowsSent: rowsSentNow, recordsSent: recordsSentNow };
      await deps.continueLater(request);
      deps.log('replay: near the deadline, continuing in a new invocation', {
        bucket,
        key,
        rowsSent: progress.rowsSent,
      });
      return { status: 'continued', rowsSent: rowsSentNow, recordsSent: recordsSentNow };
    }
    if (!(await checkpoint('done')))
      return { status: 'lease-lost', rowsSent: rowsSentNow, recordsSent: recordsSentNow };
    deps.log('replay: done', { bucket, key, run, rows: progress.rowsSent, records: progress.recordsSent });
    return { status: 'done', rowsSent: rowsSentNow, recordsSent: recordsSentNow };
  } catch (error) {
    if (error instanceof ObjectFormatError) {
      // Rows read so far are sent (and counted); the object is marked refused with the reason.
      flushBuffers();
      await send();
      const message = `${error.message} (after ${skipRows + rowsSentNow} rows)`;
      progress = { ...progress, status: 'refused', message, updatedAtMs: deps.now(), leaseUntilMs: 0 };
      await writeProgress(progress);
      deps.log('replay: object refused part-way', { bucket, key, reason: message });
      return { status: 'refused', rowsSent: rowsSentNow, recordsSent: recordsSentNow, message };
    }
    // An infrastructure fault: free the object at once so the retry can resume it, then rethrow.
    // (If the store is what failed, the short lease expires by itself.)
    try {
      await writeProgress({ ...progress, leaseUntilMs: 0, updatedAtMs: deps.now() });
    } catch (releaseError) {
      deps.log('replay: could not release the lease after a failure', { error: String(releaseError) });
    }
    throw error;
  }
}
