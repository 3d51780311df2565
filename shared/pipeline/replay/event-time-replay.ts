/**
 * One invocation of a replay in event-time order (S3 metadata `order=event-time`, kept in the
 * checkpoint as `order`): before a row is sent, the whole object is read and its rows sorted by event
 * time in bounded memory (event-time-order.ts); the run then reads the sorted rows through a
 * length-prefixed framing (length-prefixed.ts), so everything after the sort — packing, pacing,
 * checkpoints, the deadline, resuming — is the run of a file-order replay, unchanged.
 *
 * - Resume: every invocation sorts the object again (nothing survives an invocation for sure) and
 *   skips the rows already sent, counted from the start of the sorted stream. The sort is stable (ties
 *   in file order), so that stream is the same in every invocation and the skip is exact.
 * - Progress: the run counts bytes of the sorted stream, so the progress item's `objectBytes` is that
 *   stream's length (rows + 4 bytes each), known once the sort is done.
 * - The sort reads the object to its end first: an object that cannot be framed is refused before any
 *   row is sent. A long sort renews the lease every LEASE_RENEW_MS, so no other invocation takes the
 *   object meanwhile; a lost lease stops it.
 */
import type { AnyAnalysis, JsonObject, WireFormat } from '../../core/analysis.ts';
import { ObjectFormatError } from '../../core/analysis.ts';
import { gunzipChunks } from '../decompression.ts';
import { type CheckpointWriter, leaseUntil, type ReplayProgress } from './checkpoint.ts';
import { type SortLimits, SortStopped, sortByEventTime } from './event-time-order.ts';
import { LengthPrefixedFramer, lengthPrefixed, lengthPrefixedSize } from './length-prefixed.ts';
import type { ReplayOutcome, ReplayPlan } from './replay-run.ts';

/** How often a sort still running writes the checkpoint again, to keep its lease (LEASE_MS is 120 s). */
export const LEASE_RENEW_MS = 20_000;

/** Why `order=event-time` is refused for this analysis, or undefined when its rows can be sorted. */
export function eventTimeRefusal(analysis: AnyAnalysis): string | undefined {
  const order = analysis.replay.eventTimeOrder;
  if (order === undefined) {
    return `metadata order=event-time: ${analysis.id} rows have no event time to sort by; upload the file without it`;
  }
  return 'refusal' in order ? order.refusal : undefined;
}

/** A row's event time for the sort, as the analysis reads it. */
export function eventTimeOf(
  analysis: AnyAnalysis,
  wireFormat: WireFormat,
): (row: Uint8Array) => number | undefined {
  const order = analysis.replay.eventTimeOrder;
  if (order === undefined || 'refusal' in order) {
    throw new Error(`${analysis.id} has no event time to sort by (${eventTimeRefusal(analysis)})`);
  }
  return (row) => order.eventTimeMs(row, wireFormat);
}

/** The rows of an object as stored: gunzipped if it is `.gz`, framed by the analysis. */
export async function* objectRows(
  raw: AsyncIterable<Uint8Array>,
  framing: Pick<ReplayPlan, 'framer' | 'gzipped'>,
): AsyncGenerator<Uint8Array> {
  const chunks = framing.gzipped ? gunzipChunks(raw, 'the object') : raw;
  for await (const chunk of chunks) yield* framing.framer.push(chunk);
  yield* framing.framer.end();
}

export interface EventTimeContext {
  readonly writer: CheckpointWriter;
  readonly now: () => number;
  readonly remainingMs: () => number;
  readonly log: (message: string, details?: JsonObject) => void;
  /** Where the sort's run files go (default: the system's temporary directory, /tmp on Lambda). */
  readonly tempDir?: string;
  readonly limits?: Partial<SortLimits>;
}

/**
 * Sorts the object's rows and returns the plan and bytes the run streams; or, when no row can be sent,
 * how this invocation ends (refused: the object cannot be framed; lease-lost). An infrastructure
 * fault releases the lease and is thrown.
 */
export async function sortedForReplay(
  plan: ReplayPlan,
  raw: AsyncIterable<Uint8Array>,
  context: EventTimeContext,
): Promise<{ readonly plan: ReplayPlan; readonly bytes: AsyncIterable<Uint8Array> } | ReplayOutcome> {
  const startedAt = context.now();
  let progress: ReplayProgress = plan.progress;
  let renewedAt = startedAt;
  const keepLease = async (): Promise<boolean> => {
    const now = context.now();
    if (now - renewedAt < LEASE_RENEW_MS) return true;
    renewedAt = now;
    progress = { ...progress, updatedAtMs: now, leaseUntilMs: leaseUntil(now, context.remainingMs()) };
    return context.writer.write(progress);
  };
  let sorted: Awaited<ReturnType<typeof sortByEventTime>>;
  try {
    sorted = await sortByEventTime(objectRows(raw, plan), {
      eventTimeMs: eventTimeOf(plan.analysis, plan.wireFormat),
      onRun: keepLease,
      ...(context.tempDir === undefined ? {} : { tempDir: context.tempDir }),
      ...(context.limits === undefined ? {} : { limits: context.limits }),
    });
  } catch (error) {
    return endWithoutSending(error, progress, context);
  }
  const streamBytes = lengthPrefixedSize(sorted.rowCount, sorted.rowBytes);
  context.log('replay: rows sorted by event time', {
    bucket: progress.bucket,
    key: progress.key,
    rows: sorted.rowCount,
    runsOnDisk: sorted.runsOnDisk,
    ms: context.now() - startedAt,
  });
  return {
    plan: {
      ...plan,
      framer: new LengthPrefixedFramer(),
      gzipped: false,
      objectSize: streamBytes,
      progress: { ...progress, objectBytes: streamBytes },
    },
    bytes: lengthPrefixed(sorted.rows()),
  };
}

async function endWithoutSending(
  error: unknown,
  progress: ReplayProgress,
  context: EventTimeContext,
): Promise<ReplayOutcome> {
  const nothing = { rowsSent: 0, recordsSent: 0 } as const;
  const where = { bucket: progress.bucket, key: progress.key };
  if (error instanceof SortStopped) {
    context.log('replay: another invocation took over this object while its rows were sorted', where);
    return { status: 'lease-lost', ...nothing };
  }
  if (error instanceof ObjectFormatError) {
    const message = `${error.message} (found while sorting its rows by event time: no row was sent)`;
    await context.writer.write({
      ...progress,
      status: 'refused',
      message,
      updatedAtMs: context.now(),
      leaseUntilMs: 0,
    });
    context.log('replay: object refused', { ...where, reason: message });
    return { status: 'refused', ...nothing, message };
  }
  try {
    await context.writer.write({ ...progress, leaseUntilMs: 0, updatedAtMs: context.now() });
  } catch (releaseError) {
    context.log('replay: could not release the lease after a failure', { error: String(releaseError) });
  }
  throw error;
}
