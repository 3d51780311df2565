/**
 * Offline analysis: runs an analysis over one dataset file exactly as the pipeline folds it, with no
 * broker, no state table and no clock. It is the independent reference the integration tests compare
 * the pipeline against, and what `driftline analyze` prints, so it stays deliberately plain:
 *
 *   bytes ─(gunzip if `.gz`)─▶ analysis.replay framer ─▶ rows ─▶ batches of `batchRows` consecutive rows
 *   ─▶ one RecordInput per row (rowsPerRecord = 1) ─▶ analysis.applyBatch, threading the state
 *   ─▶ one result per batch: the batch's summary and the cumulative summary so far.
 *
 * Streaming: only the current batch's rows are held (rows are views into the chunks they came from,
 * so a batch keeps its chunks alive until it is applied). Without `batchRows` the whole file is
 * reported as one batch, but folded internally in chunks of WHOLE_FILE_FOLD_ROWS rows (their
 * contributions merged), so memory stays bounded: the seam requires an analysis' cumulative result
 * not to depend on where batches are cut (core/analysis.ts), and the tests check it for dt and sf.
 *
 * Record coordinates: partition 0, offset = the row's index in the file (0-based, as a string), and
 * `timestampMs` = OFFLINE_TIMESTAMP_MS for every row. A file has no producer time; a fixed value
 * keeps the output a pure function of the file's bytes (dt ignores record timestamps).
 */

import type { AnyAnalysis, JsonObject, RecordInput, RowFramer, WireFormat } from '../core/analysis.ts';
import { gunzipChunks } from './decompression.ts';

/** The producer timestamp given to every offline record (see the file comment). */
export const OFFLINE_TIMESTAMP_MS = 0;

/** Rows folded at a time when the whole file is reported as one batch. */
export const WHOLE_FILE_FOLD_ROWS = 50_000;

export interface OfflineAnalysisOptions {
  readonly analysis: AnyAnalysis;
  /** The file's name or path: picks the framing (extension after stripping `.gz`) and gunzip. */
  readonly fileName: string;
  /** The file's bytes as stored (still compressed when the name ends in `.gz`). */
  readonly bytes: AsyncIterable<Uint8Array>;
  /** Rows per batch; undefined = the whole file is one batch. */
  readonly batchRows?: number;
}

export interface OfflineBatchResult {
  /** 1-based batch number. */
  readonly batch: number;
  /** Rows framed into this batch (one record each). */
  readonly rows: number;
  /** `analysis.summarizeBatch` of this batch's contribution. */
  readonly summary: JsonObject;
  /** `analysis.summarizeState` of the state after this batch. */
  readonly cumulative: JsonObject;
  readonly rejectedRows: number;
  readonly rejectedByReason: Record<string, number>;
}

/**
 * Checks the options and picks the framing at once (so an unsupported extension or a bad batch size
 * throws here, before any byte is read), then returns the batches as an async iterable. An empty file
 * still gives one (empty) batch, so there is always a cumulative answer.
 */
export function analyzeOffline(options: OfflineAnalysisOptions): AsyncGenerator<OfflineBatchResult> {
  const { analysis, fileName, batchRows } = options;
  if (batchRows !== undefined && !(Number.isSafeInteger(batchRows) && batchRows >= 1)) {
    throw new RangeError(`batchRows must be a positive integer, got ${batchRows}`);
  }
  const gzipped = /\.gz$/i.test(fileName);
  const framing = analysis.replay.framerFor(fileName.replace(/\.gz$/i, ''));
  const bytes = gzipped ? gunzipChunks(options.bytes, `'${fileName}'`) : options.bytes;
  return foldBatches(analysis, framing, bytes, batchRows);
}

/** The state threaded through the file, and what the batch being reported has gathered so far. */
class OfflineFold {
  private state: unknown;
  private batchNumber = 0;
  private records: RecordInput[] = [];
  private batchRowsSoFar = 0;
  private batchContribution: unknown;
  private rejectedByReason: Record<string, number> = {};
  private rejectedRows = 0;

  constructor(private readonly analysis: AnyAnalysis) {
    this.state = analysis.emptyState();
    this.batchContribution = analysis.emptyBatch();
  }

  get pendingRecords(): number {
    return this.records.length;
  }

  get rowsInBatch(): number {
    return this.batchRowsSoFar;
  }

  get reported(): number {
    return this.batchNumber;
  }

  add(record: RecordInput): void {
    this.records.push(record);
  }

  /** Applies the records gathered since the last fold. */
  fold(): void {
    const step = this.analysis.applyBatch(this.state, this.records);
    this.state = step.state;
    this.batchContribution = this.analysis.mergeBatches(this.batchContribution, step.batch);
    this.batchRowsSoFar += this.records.length;
    this.rejectedRows += step.rejections.length;
    for (const rejection of step.rejections) {
      this.rejectedByReason[rejection.reason] = (this.rejectedByReason[rejection.reason] ?? 0) + 1;
    }
    this.records = [];
  }

  /** The batch gathered so far, as a result; the next batch starts empty. */
  report(): OfflineBatchResult {
    this.batchNumber += 1;
    const result: OfflineBatchResult = {
      batch: this.batchNumber,
      rows: this.batchRowsSoFar,
      summary: this.analysis.summarizeBatch(this.batchContribution),
      cumulative: this.analysis.summarizeState(this.state),
      rejectedRows: this.rejectedRows,
      rejectedByReason: this.rejectedByReason,
    };
    this.batchRowsSoFar = 0;
    this.batchContribution = this.analysis.emptyBatch();
    this.rejectedByReason = {};
    this.rejectedRows = 0;
    return result;
  }
}

async function* framedRows(bytes: AsyncIterable<Uint8Array>, framer: RowFramer): AsyncGenerator<Uint8Array> {
  for await (const chunk of bytes) yield* framer.push(chunk);
  yield* framer.end();
}

async function* foldBatches(
  analysis: AnyAnalysis,
  framing: { framer: RowFramer; wireFormat: WireFormat },
  bytes: AsyncIterable<Uint8Array>,
  batchRows: number | undefined,
): AsyncGenerator<OfflineBatchResult> {
  const foldRows = batchRows ?? WHOLE_FILE_FOLD_ROWS;
  const reportRows = batchRows ?? Number.POSITIVE_INFINITY;
  const fold = new OfflineFold(analysis);
  let rowIndex = 0;
  for await (const row of framedRows(bytes, framing.framer)) {
    const offset = String(rowIndex++);
    fold.add({
      value: row,
      wireFormat: framing.wireFormat,
      partition: 0,
      offset,
      timestampMs: OFFLINE_TIMESTAMP_MS,
    });
    // After each row: fold a full chunk, and report when the batch is complete.
    if (fold.pendingRecords >= foldRows) fold.fold();
    if (fold.rowsInBatch >= reportRows) yield fold.report();
  }
  if (fold.pendingRecords > 0) fold.fold();
  if (fold.rowsInBatch > 0 || fold.reported === 0) yield fold.report();
}
