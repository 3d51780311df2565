/**
 * One invocation's streaming part of a replay: rows in, records out at the object's rate, a
 * checkpoint every `checkpointRows` rows, and the way it ends (done, continued near the deadline,
 * lease lost, refused part-way, or an infrastructure fault with the lease released).
 */
import type { AnyAnalysis, JsonObject, RowFramer, WireFormat } from '../../core/analysis.ts';
import { ObjectFormatError } from '../../core/analysis.ts';
import { partitionForKey } from '../../core/kafka-partitioner.ts';
import { originHeaders } from '../../core/record-headers.ts';
import { countingBytes, gunzipChunks } from '../decompression.ts';
import type { Publisher } from '../ports.ts';
import { type CheckpointWriter, leaseUntil, type ReplayProgress } from './checkpoint.ts';
import { Pacer } from './pacing.ts';
import { PartitionPacker } from './partition-packer.ts';

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

/** Full speed: records are sent in chunks of this many. */
const SEND_CHUNK_RECORDS = 1000;

/** What a run needs besides its plan: the ports and this invocation's clock and deadline. */
export interface RunContext {
  readonly publisher: Publisher;
  readonly rawTopic: string;
  readonly partitions: number;
  readonly remainingMs: () => number;
  readonly marginMs: number;
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

/** Rows of the object in order: decompressed if `.gz`, framed by the analysis, bytes counted. */
async function* framedRows(
  raw: AsyncIterable<Uint8Array>,
  plan: ReplayPlan,
  onBytes: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  const counted = countingBytes(raw, onBytes);
  const chunks = plan.gzipped ? gunzipChunks(counted, 'the object') : counted;
  for await (const chunk of chunks) yield* plan.framer.push(chunk);
  yield* plan.framer.end();
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
      let stop: ReplayStatus | undefined;
      for await (const row of framedRows(raw, this.plan, (bytes) => this.countBytes(bytes))) {
        stop = await this.sendRow(row);
        if (stop) break;
      }
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

  private countBytes(bytes: number): void {
    this.bytesRead += bytes;
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

  /** Every row goes to the partition Kafka's default partitioner gives its key. */
  private partitionOf(rowKey: string | undefined): number {
    const fixed = this.progress.fixedPartition;
    if (fixed !== undefined) return fixed;
    // A row without a readable key (to be rejected downstream) is spread by its position, which
    // every invocation computes alike.
    const { partitions } = this.context;
    return rowKey === undefined ? (this.rowIndex - 1) % partitions : partitionForKey(rowKey, partitions);
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
      await this.pacer.waitFor(this.rowsSentNow);
    }
    if (this.rowIndex % this.progress.checkpointRows === 0) {
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

  /** Flushes every buffer, sends, waits for the rate, then writes the checkpoint. */
  private async checkpoint(status: 'running' | 'done'): Promise<boolean> {
    this.packer.flushAll();
    await this.sendPending();
    await this.pacer.waitFor(this.rowsSentNow);
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

  /** Rows read so far are sent (and counted); the object is marked refused with the reason. */
  private async refusePartWay(error: ObjectFormatError): Promise<ReplayOutcome> {
    this.packer.flushAll();
    await this.sendPending();
    const message = `${error.message} (after ${this.plan.skipRows + this.rowsSentNow} rows)`;
    this.progress = {
      ...this.progress,
      status: 'refused',
      message,
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
