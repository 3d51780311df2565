/**
 * One invocation's streaming part of a replay: rows in, records out at the object's rate, a
 * checkpoint every `checkpointRows` rows, and the way it ends (done, continued near the deadline,
 * lease lost, refused part-way, or an infrastructure fault with the lease released).
 */
import type { AnyAnalysis, JsonObject, RowFramer, WireFormat } from '../../core/analysis.ts';
import { ObjectFormatError } from '../../core/analysis.ts';
import { originHeaders } from '../../core/record-headers.ts';
import { countingBytes, gunzipChunks } from '../decompression.ts';
import type { Publisher } from '../ports.ts';
import { type CheckpointWriter, leaseUntil, type ReplayProgress } from './checkpoint.ts';
import { Pacer } from './pacing.ts';
import { PartitionPacker } from './partition-packer.ts';
import { rowPartition } from './row-partition.ts';

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

/**
 * Decompressed bytes in a row without a single row: more is not a dataset (64 MiB of newlines ran to
 * the end without a checkpoint). The sf framers refuse a single row over 64 KiB; this bounds the
 * stretches between rows, so rows, and with them checkpoints, keep coming.
 */
export const MAX_BYTES_WITHOUT_ROW = 8 * 1024 * 1024;

/** Below the hard margin, how long to run for the next checkpoint row before cutting where it is. */
const HURRY_BEFORE_CUT_MS = 2_000;

/** Full speed: records are sent in chunks of this many. */
const SEND_CHUNK_RECORDS = 1000;

/** What a run needs besides its plan: the ports and this invocation's clock and deadline. */
export interface RunContext {
  readonly publisher: Publisher;
  readonly rawTopic: string;
  readonly partitions: number;
  readonly remainingMs: () => number;
  /** At a checkpoint row, stop when less than this is left. */
  readonly marginMs: number;
  /** Between checkpoint rows (checked per chunk read), cut where it is and stop below this. */
  readonly hardMarginMs: number;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: (message: string, details?: JsonObject) => void;
  readonly continueLater: () => Promise<void>;
}

/** The replay as planned from the checkpoint and the object: where to start, how to pack. */
export interface ReplayPlan {
  readonly analysis: AnyAnalysis;
  readonly framer: RowFramer;
  readonly wireFormat: WireFormat;
  /** The progress as written when this invocation took the lease. */
  readonly progress: ReplayProgress;
  /** Rows an earlier invocation already sent: read again, not sent again. */
  readonly skipRows: number;
  readonly objectSize: number;
  readonly gzipped: boolean;
}

export class ReplayRun {
  private progress: ReplayProgress;
  private readonly packer: PartitionPacker;
  private readonly pacer: Pacer;
  private readonly sequences: number[];
  /** Rows of the object seen so far, including skipped ones. */
  private rowIndex = 0;
  private rowsSentNow = 0;
  private recordsSentNow = 0;
  private bytesRead = 0;
  private bytesWithoutRow = 0;
  /** When the hard margin was first seen (see watchDeadline). */
  private hurryingSince: number | undefined;
  /** Set once the invocation had no time left: pacing is over, the next checkpoint ends it. */
  private hurrying = false;

  constructor(
    private readonly plan: ReplayPlan,
    private readonly writer: CheckpointWriter,
    private readonly context: RunContext,
  ) {
    this.progress = plan.progress;
    this.sequences = [...plan.progress.sequences];
    const { analysis, wireFormat, progress } = plan;
    this.packer = new PartitionPacker({
      partitions: context.partitions,
      rowsPerRecord: progress.rowsPerRecord,
      sequences: this.sequences,
      pack: (rows) => analysis.replay.pack(rows, wireFormat),
      headersFor: (sequence) =>
        originHeaders({ analysis: analysis.id, run: progress.run, sequence, wireFormat }),
    });
    this.pacer = new Pacer(progress.rate, context.now, context.sleep);
  }

  async stream(raw: AsyncIterable<Uint8Array>): Promise<ReplayOutcome> {
    try {
      const stop = await this.sendAll(raw);
      if (stop === 'lease-lost') {
        this.context.log('replay: another invocation took over this object; stopping', this.where());
        return this.outcome('lease-lost');
      }
      if (stop === 'continued') return await this.continueElsewhere();
      return await this.finish();
    } catch (error) {
      if (error instanceof ObjectFormatError) return this.refusePartWay(error);
      await this.releaseAfterFault();
      throw error;
    }
  }

  /** Every row of the object (decompressed if `.gz`, framed by the analysis), the deadline watched per chunk. */
  private async sendAll(raw: AsyncIterable<Uint8Array>): Promise<ReplayStatus | undefined> {
    const counted = countingBytes(raw, (bytes) => {
      this.bytesRead += bytes;
    });
    const chunks = this.plan.gzipped ? gunzipChunks(counted, 'the object') : counted;
    for await (const chunk of chunks) {
      const stop =
        (await this.sendRows(this.plan.framer.push(chunk), chunk.length)) ?? (await this.watchDeadline());
      if (stop) return stop;
    }
    return this.sendRows(this.plan.framer.end(), 0);
  }

  private async sendRows(rows: Iterable<Uint8Array>, chunkBytes: number): Promise<ReplayStatus | undefined> {
    let any = false;
    for (const row of rows) {
      any = true;
      const stop = await this.sendRow(row);
      if (stop) return stop;
    }
    this.bytesWithoutRow = any ? 0 : this.bytesWithoutRow + chunkBytes;
    if (this.bytesWithoutRow > MAX_BYTES_WITHOUT_ROW) {
      throw new ObjectFormatError(
        `no row in ${MAX_BYTES_WITHOUT_ROW / 2 ** 20} MiB of input (after row ${this.rowIndex}): not a dataset this analysis reads`,
      );
    }
    return undefined;
  }

  /**
   * Checked once per chunk, so also while rows are sparse or none come out. Below the hard margin it
   * cuts records where it is: first a marker in the checkpoint (the row to cut at, see
   * ReplayProgress.flushAtRow), then the flush, then the checkpoint itself.
   */
  private async watchDeadline(): Promise<ReplayStatus | undefined> {
    if (this.context.remainingMs() >= this.context.hardMarginMs) return undefined;
    // First give the next checkpoint row a moment (dense rows reach it at once, and the records stay
    // those of an uninterrupted replay); cut here only if it does not come in time.
    const now = this.context.now();
    this.hurryingSince ??= now;
    if (now - this.hurryingSince < HURRY_BEFORE_CUT_MS) return undefined;
    const cutAt = this.rowIndex;
    if (cutAt <= this.plan.skipRows) {
      // Still re-reading rows an earlier invocation sent: no new row to keep, and the next
      // invocation would run out of time at the same place.
      throw new ObjectFormatError(
        `cannot resume: re-reading the ${this.plan.skipRows} rows already sent takes longer than one invocation; split the object`,
      );
    }
    // Nothing read since the last checkpoint; or a cut is already promised further on, and cutting
    // earlier would give its rows other records than those an earlier invocation may have sent.
    const promised = this.progress.flushAtRow;
    if (cutAt === this.progress.rowsSent || (promised !== undefined && cutAt < promised)) return 'continued';
    this.progress = { ...this.progress, flushAtRow: cutAt, updatedAtMs: this.context.now() };
    if (!(await this.writer.write(this.progress))) return 'lease-lost';
    if (!(await this.checkpoint('running'))) return 'lease-lost';
    return 'continued';
  }

  private where(): JsonObject {
    return { bucket: this.progress.bucket, key: this.progress.key };
  }

  private outcome(status: ReplayStatus, message?: string): ReplayOutcome {
    return {
      status,
      rowsSent: this.rowsSentNow,
      recordsSent: this.recordsSentNow,
      ...(message === undefined ? {} : { message }),
    };
  }

  private partitionOf(rowKey: string | undefined): number {
    return rowPartition(rowKey, this.rowIndex - 1, this.context.partitions, this.progress.fixedPartition);
  }

  private async sendRow(row: Uint8Array): Promise<ReplayStatus | undefined> {
    this.rowIndex += 1;
    if (this.rowIndex <= this.plan.skipRows) return undefined;
    const rowKey = this.plan.analysis.replay.partitionKey(row, this.plan.wireFormat);
    this.packer.add(this.partitionOf(rowKey), rowKey, row);
    // Paced: send about every 50 ms worth of rows; full speed: in chunks of records.
    const { rate } = this.progress;
    if (
      this.packer.pendingRecords >= SEND_CHUNK_RECORDS ||
      (rate > 0 && this.packer.pendingRows >= Math.max(1, rate / 20))
    ) {
      await this.sendPending();
      await this.pace();
    }
    if (this.rowIndex % this.progress.checkpointRows === 0 || this.rowIndex === this.progress.flushAtRow) {
      if (!(await this.checkpoint('running'))) return 'lease-lost';
      if (this.context.remainingMs() < this.context.marginMs) return 'continued';
    }
    return undefined;
  }

  private async sendPending(): Promise<void> {
    if (this.packer.pendingRecords === 0) return;
    const { messages, rows } = this.packer.takePending();
    await this.context.publisher.publish(this.context.rawTopic, messages);
    this.recordsSentNow += messages.length;
    this.rowsSentNow += rows;
  }

  /**
   * Holds the replay to its rate, unless the invocation has no time left at all: its deadline has
   * passed, or (locally) the runtime is stopping, which reports 0 ms left. Records must still be cut
   * at checkpoint rows only (a resume re-sends the same records under the same sequence numbers), so
   * the way to stop soon is to run to the next checkpoint row at full speed; there it checkpoints,
   * releases the object and asks for a continuation. Asked only when pacing, so a full-speed replay
   * asks for the time left at its checkpoints alone.
   */
  private async pace(): Promise<void> {
    if (this.progress.rate <= 0 || this.hurrying) return;
    if (this.context.remainingMs() <= 0) {
      this.hurrying = true;
      this.context.log('replay: no time left, running to the next checkpoint at full speed', {
        ...this.where(),
        rowsSent: this.plan.skipRows + this.rowsSentNow,
      });
      return;
    }
    await this.pacer.waitFor(this.rowsSentNow);
  }

  /** Flushes every buffer, sends, waits for the rate, then writes the checkpoint. */
  private async checkpoint(status: 'running' | 'done'): Promise<boolean> {
    this.packer.flushAll();
    await this.sendPending();
    await this.pace();
    const at = this.context.now();
    const done = status === 'done';
    this.progress = {
      ...this.progress,
      status,
      rowsSent: this.plan.skipRows + this.rowsSentNow,
      recordsSent: this.plan.progress.recordsSent + this.recordsSentNow,
      sequences: [...this.sequences],
      bytesRead: done ? this.plan.objectSize : Math.max(this.progress.bytesRead, this.bytesRead),
      updatedAtMs: at,
      leaseUntilMs: done ? 0 : leaseUntil(at, this.context.remainingMs()),
      ...(done ? { finishedAtMs: at } : {}),
      // Past any cut the marker asked for: the records are cut and this checkpoint records them.
      flushAtRow: undefined,
    };
    return this.writer.write(this.progress);
  }

  private async finish(): Promise<ReplayOutcome> {
    if (!(await this.checkpoint('done'))) return this.outcome('lease-lost');
    const { run, rowsSent, recordsSent } = this.progress;
    this.context.log('replay: done', { ...this.where(), run, rows: rowsSent, records: recordsSent });
    return this.outcome('done');
  }

  /** Near the deadline: free the object for the continuation (a new invocation, another owner). */
  private async continueElsewhere(): Promise<ReplayOutcome> {
    this.progress = { ...this.progress, leaseUntilMs: 0, updatedAtMs: this.context.now() };
    if (!(await this.writer.write(this.progress))) return this.outcome('lease-lost');
    await this.context.continueLater();
    this.context.log('replay: near the deadline, continuing in a new invocation', {
      ...this.where(),
      rowsSent: this.progress.rowsSent,
    });
    return this.outcome('continued');
  }

  /**
   * Rows read so far are sent (and counted); the object is marked refused with the reason, and its
   * progress says how many rows and records were sent, so the progress and the state agree. (A
   * stream shows it is unreadable only when it gets there; sending nothing of it would mean reading
   * every object twice.)
   */
  private async refusePartWay(error: ObjectFormatError): Promise<ReplayOutcome> {
    this.packer.flushAll();
    await this.sendPending();
    const rowsSent = this.plan.skipRows + this.rowsSentNow;
    const message = `${error.message} (after ${rowsSent} rows)`;
    this.progress = {
      ...this.progress,
      status: 'refused',
      message,
      rowsSent,
      recordsSent: this.plan.progress.recordsSent + this.recordsSentNow,
      sequences: [...this.sequences],
      bytesRead: Math.max(this.progress.bytesRead, this.bytesRead),
      updatedAtMs: this.context.now(),
      leaseUntilMs: 0,
    };
    await this.writer.write(this.progress);
    this.context.log('replay: object refused part-way', { ...this.where(), reason: message });
    return this.outcome('refused', message);
  }

  /**
   * An infrastructure fault: free the object at once so the retry can resume it (the caller
   * rethrows). If the store is what failed, the short lease expires by itself.
   */
  private async releaseAfterFault(): Promise<void> {
    try {
      await this.writer.write({ ...this.progress, leaseUntilMs: 0, updatedAtMs: this.context.now() });
    } catch (releaseError) {
      this.context.log('replay: could not release the lease after a failure', {
        error: String(releaseError),
      });
    }
  }
}
