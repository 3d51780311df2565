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
 *
 * The steps, one file each under replay/: checkpoint and lease (checkpoint.ts), per-object settings
 * (settings.ts), the partition packer, pacing, and the streaming run itself (replay-run.ts);
 * decompression is shared with offline analysis (decompression.ts). With metadata `order=event-time`
 * the rows are sorted by event time before the run (event-time-replay.ts, event-time-order.ts).
 */
import type { AnyAnalysis, JsonObject } from '../core/analysis.ts';
import { ObjectFormatError } from '../core/analysis.ts';
import type { ItemStore, ObjectInfo, ObjectSource, Publisher, StoredItem } from './ports.ts';
import {
  CheckpointWriter,
  checkpointRowsFor,
  leaseUntil,
  type ReplayProgress,
  readProgress,
} from './replay/checkpoint.ts';
import { eventTimeRefusal, sortedForReplay } from './replay/event-time-replay.ts';
import { type ReplayOutcome, type ReplayPlan, ReplayRun, type RunContext } from './replay/replay-run.ts';
import { type ReplayDefaults, replaySettings } from './replay/settings.ts';
import { replayKey, replayRunOf } from './state-keys.ts';

export { checkpointRowsFor, LEASE_MS, type ReplayProgress, readProgress } from './replay/checkpoint.ts';
export type { ReplayOutcome, ReplayStatus } from './replay/replay-run.ts';
export { replaySettings } from './replay/settings.ts';

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
  readonly defaults: ReplayDefaults;
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

const NOTHING_SENT = { rowsSent: 0, recordsSent: 0 } as const;

/** The object as found: its head, and its checkpoint if that is of this very version (ETag). */
interface Admitted {
  readonly info: ObjectInfo;
  readonly item: StoredItem | undefined;
  /** The checkpoint of this object version, to resume; undefined for a new object or version. */
  readonly resumed: ReplayProgress | undefined;
}

/** Decides from the checkpoint whether this invocation may replay the object now. */
async function admit(request: ReplayRequest, deps: ReplayDependencies): Promise<Admitted | ReplayOutcome> {
  const { bucket, key } = request;
  const info = await deps.source.head(bucket, key);
  const item = await deps.store.get(replayKey(bucket, key));
  const existing = item ? readProgress(item) : undefined;
  // Resume only the same object version; a new version (other ETag) is a new run.
  const resumed = existing?.etag === info.etag ? existing : undefined;
  if (resumed?.status === 'done') {
    deps.log('replay: object already replayed, nothing to send', { bucket, key, etag: info.etag });
    return { status: 'already-done', ...NOTHING_SENT };
  }
  if (resumed?.status === 'refused') {
    return { status: 'refused', ...NOTHING_SENT, ...(resumed.message ? { message: resumed.message } : {}) };
  }
  if (resumed && resumed.leaseUntilMs > deps.now() && resumed.leaseOwner !== deps.invocationId) {
    deps.log('replay: another invocation holds this object, leaving it to it', {
      bucket,
      key,
      owner: resumed.leaseOwner,
    });
    return { status: 'busy-elsewhere', ...NOTHING_SENT };
  }
  return { info, item, resumed };
}

/** The progress item of an object refused before any row was read. */
function refusedProgress(
  request: ReplayRequest,
  admitted: Admitted,
  deps: ReplayDependencies,
  message: string,
  analysisId: string,
): ReplayProgress {
  const now = deps.now();
  return {
    ...request,
    etag: admitted.info.etag,
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
    objectBytes: admitted.info.size,
    bytesRead: 0,
    startedAtMs: now,
    updatedAtMs: now,
    leaseOwner: deps.invocationId,
    leaseUntilMs: 0,
    invocations: 1,
  };
}

/** The progress this invocation starts from: the checkpoint's settings if resuming, else the object's. */
function startingProgress(
  request: ReplayRequest,
  admitted: Admitted,
  analysis: AnyAnalysis,
  settings: Exclude<ReturnType<typeof replaySettings>, { error: string }>,
  deps: ReplayDependencies,
): ReplayProgress {
  const { info, resumed } = admitted;
  const now = deps.now();
  const rowsPerRecord = resumed?.rowsPerRecord ?? settings.rowsPerRecord;
  const rate = resumed?.rate ?? settings.rate;
  const fixedPartition = resumed ? resumed.fixedPartition : settings.partition;
  const order = resumed ? resumed.order : settings.order === 'event-time' ? 'event-time' : undefined;
  const sequences = resumed ? [...resumed.sequences] : new Array<number>(deps.partitions).fill(0);
  if (sequences.length !== deps.partitions) {
    throw new Error(
      `checkpoint has ${sequences.length} partitions, the topic has ${deps.partitions}: replay it under a new key`,
    );
  }
  return {
    ...request,
    etag: info.etag,
    analysis: analysis.id,
    run: resumed?.run ?? replayRunOf(request.key, info.etag),
    status: 'running',
    rowsPerRecord,
    rate,
    checkpointRows: resumed?.checkpointRows ?? checkpointRowsFor(rowsPerRecord, deps.partitions, rate),
    ...(fixedPartition === undefined ? {} : { fixedPartition }),
    ...(order === undefined ? {} : { order }),
    rowsSent: resumed?.rowsSent ?? 0,
    recordsSent: resumed?.recordsSent ?? 0,
    sequences,
    // In event-time order the length of the sorted row stream (replay/event-time-replay.ts).
    objectBytes: resumed?.objectBytes ?? info.size,
    bytesRead: resumed?.bytesRead ?? 0,
    startedAtMs: resumed?.startedAtMs ?? now,
    updatedAtMs: now,
    // From its last checkpoint to now nobody replayed it (seconds for a continuation, hours for a
    // replay interrupted by a stopped runtime).
    ...(resumed ? { pausedMs: (resumed.pausedMs ?? 0) + Math.max(0, now - resumed.updatedAtMs) } : {}),
    leaseOwner: deps.invocationId,
    leaseUntilMs: leaseUntil(now, deps.remainingMs()),
    invocations: (resumed?.invocations ?? 0) + 1,
    ...(resumed?.flushAtRow === undefined ? {} : { flushAtRow: resumed.flushAtRow }),
  };
}

/** The plan of this invocation, or why the object is refused before a row is read. */
function planReplay(
  request: ReplayRequest,
  admitted: Admitted,
  deps: ReplayDependencies,
): ReplayPlan | { refusal: string; analysisId: string } {
  const { key } = request;
  const analysis = deps.analysisForKey(key);
  if (!analysis) {
    return {
      refusal: `no analysis for key "${key}": the first path segment must name one (e.g. dt/…)`,
      analysisId: '',
    };
  }
  const settings = replaySettings(admitted.info.metadata, deps.defaults, deps.partitions);
  if ('error' in settings) return { refusal: settings.error, analysisId: analysis.id };
  const order = admitted.resumed ? admitted.resumed.order : settings.order;
  const orderRefusal = order === 'event-time' ? eventTimeRefusal(analysis) : undefined;
  if (orderRefusal !== undefined) return { refusal: orderRefusal, analysisId: analysis.id };
  let framing: ReturnType<typeof analysis.replay.framerFor>;
  try {
    framing = analysis.replay.framerFor(key.replace(/\.gz$/i, ''));
  } catch (error) {
    if (error instanceof ObjectFormatError) return { refusal: error.message, analysisId: analysis.id };
    throw error;
  }
  return {
    analysis,
    ...framing,
    progress: startingProgress(request, admitted, analysis, settings, deps),
    skipRows: admitted.resumed?.rowsSent ?? 0,
    objectSize: admitted.info.size,
    gzipped: /\.gz$/i.test(key),
  };
}

export async function replayObject(request: ReplayRequest, deps: ReplayDependencies): Promise<ReplayOutcome> {
  const { bucket, key } = request;
  // Reference data (sf's radio codes) lives in the bucket for the API to read; it is not a dataset.
  if (deps.analysisForKey(key)?.reference?.objectKey === key) {
    deps.log('replay: reference data, read by the API, not replayed', { bucket, key });
    return { status: 'reference-data', ...NOTHING_SENT };
  }
  const admitted = await admit(request, deps);
  if ('status' in admitted) return admitted;
  const writer = new CheckpointWriter(deps.store, replayKey(bucket, key), admitted.item);
  const plan = planReplay(request, admitted, deps);
  if ('refusal' in plan) {
    deps.log('replay: object refused', { bucket, key, reason: plan.refusal });
    await writer.write(refusedProgress(request, admitted, deps, plan.refusal, plan.analysisId));
    return { status: 'refused', ...NOTHING_SENT, message: plan.refusal };
  }
  if (!(await writer.write(plan.progress))) return { status: 'busy-elsewhere', ...NOTHING_SENT };
  const { run, rowsPerRecord, rate } = plan.progress;
  deps.log(admitted.resumed ? 'replay: resuming from checkpoint' : 'replay: starting', {
    bucket,
    key,
    run,
    rowsPerRecord,
    rate,
    fromRow: plan.skipRows,
  });
  const context: RunContext = {
    publisher: deps.publisher,
    rawTopic: deps.rawTopic,
    partitions: deps.partitions,
    remainingMs: deps.remainingMs,
    marginMs: deps.deadlineMarginMs ?? 60_000,
    hardMarginMs: (deps.deadlineMarginMs ?? 60_000) / 4,
    now: deps.now,
    sleep: deps.sleep,
    log: deps.log,
    continueLater: () => deps.continueLater(request),
  };
  const raw = await deps.source.read(bucket, key);
  // Event-time order (metadata order=event-time): the rows are sorted first, then streamed as usual.
  if (plan.progress.order === 'event-time') {
    const sorted = await sortedForReplay(plan, raw, {
      writer,
      now: deps.now,
      remainingMs: deps.remainingMs,
      log: deps.log,
    });
    if ('status' in sorted) return sorted;
    return new ReplayRun(sorted.plan, writer, context).stream(sorted.bytes);
  }
  return new ReplayRun(plan, writer, context).stream(raw);
}
