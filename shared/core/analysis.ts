/**
 * The plug-in seam. An analysis is a pure module: it knows how to cut a dataset object into rows,
 * how to key a row, how to fold a batch of Kafka/Kinesis records into rolling state, and how to
 * describe the result as JSON. It never imports an AWS SDK or a Kafka client: the handlers and
 * adapters do the I/O and call these functions with plain bytes and arrays.
 *
 * Adding an analysis = one folder under shared/analyses/ + one line in shared/analyses/registry.ts.
 */
import type { SummaryBody } from '../contracts/summary-body.ts';

/** JSON values that may travel in summaries, state snapshots and API responses. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A JSON object (not null, not an array): the guard every decoder of stored JSON starts with. */
export function isJsonObject(json: Json | undefined): json is JsonObject {
  return typeof json === 'object' && json !== null && !Array.isArray(json);
}

/** How the rows of one wire record are encoded (set by replay, carried in a record header). */
export type WireFormat = 'text' | 'binary';

/**
 * Replay side: turns the bytes of an object into rows, incrementally (objects are streamed, never
 * loaded whole). One framer instance per object.
 */
export interface RowFramer {
  /** Feed the next chunk of the (already decompressed) object; returns the complete rows in it. */
  push(chunk: Uint8Array): Uint8Array[];
  /** End of object: returns the last row(s) still buffered, or throws ObjectFormatError. */
  end(): Uint8Array[];
}

/** What replay needs from an analysis. */
export interface ReplayCodec {
  /**
   * Picks the framing for an object from its key (extension without `.gz`, e.g. `csv`, `txt`,
   * `bin`, `json`, `ndjson`), or throws ObjectFormatError with a message naming the supported ones.
   */
  framerFor(objectKey: string): { framer: RowFramer; wireFormat: WireFormat };
  /**
   * The partition key of one row (dt: ORBIT_CNT). A row whose key cannot be read gets
   * `undefined`: replay still sends it (so the aggregate side can reject it with a reason), unkeyed.
   */
  partitionKey(row: Uint8Array, wireFormat: WireFormat): string | undefined;
  /** Packs several rows into one record value (rowsPerRecord > 1); `[row]` must give `row` back. */
  pack(rows: readonly Uint8Array[], wireFormat: WireFormat): Uint8Array;
  /**
   * Replay in event-time order (S3 metadata `order=event-time`, pipeline/replay/event-time-order.ts):
   * how to read a row's event time, or why this analysis' rows are never sorted (the object is then
   * refused with that reason). Absent: refused with a general reason.
   */
  readonly eventTimeOrder?: EventTimeOrder;
}

/**
 * `eventTimeMs`: a row's event time in ms, or undefined when it has none (such rows go first, in file
 * order). `refusal`: why `order=event-time` does not apply to this analysis.
 */
export type EventTimeOrder =
  | { readonly eventTimeMs: (row: Uint8Array, wireFormat: WireFormat) => number | undefined }
  | { readonly refusal: string };

/** One record of a batch as the aggregate side sees it, transport-neutral. */
export interface RecordInput {
  readonly value: Uint8Array;
  readonly wireFormat: WireFormat;
  /** Broker coordinates, kept so a rejected row can be traced back. */
  readonly partition: number;
  readonly offset: string;
  /** Producer timestamp (ms since epoch). */
  readonly timestampMs: number;
}

/** A row that could not be used: counted per reason, sent to `data_dead`, never silently dropped. */
export interface Rejection {
  /** Stable machine-readable reason, e.g. `field-count`, `not-a-number`, `out-of-range`. */
  readonly reason: string;
  /** Human-readable explanation, e.g. `TDC_CHANNEL 999 is outside 0..511`. */
  readonly detail: string;
  /** The row as received (text, or hex for binary words), truncated to a sane length. */
  readonly row: string;
  readonly partition: number;
  readonly offset: string;
  /** Index of the row inside its record (records may pack several rows). */
  readonly rowIndex: number;
}

/** Result of folding one batch into a partition's state. */
export interface BatchStep<State, Batch> {
  readonly state: State;
  /** What this batch contributed (additive across partitions and time buckets). */
  readonly batch: Batch;
  readonly rejections: readonly Rejection[];
  /** Rows read, accepted or not. */
  readonly inputRows: number;
  /** Optional event-time facts for the progress report (event-time analyses only). */
  readonly eventTime?: { readonly minMs: number; readonly maxMs: number; readonly watermarkMs: number };
}

/** Encodes a value as JSON for storage and decodes it back, validating what it reads. */
export interface JsonCodec<T> {
  encode(value: T): Json;
  decode(json: Json): T;
}

/**
 * Reference data an analysis joins into its summaries (sf: radio codes → disposition descriptions).
 * It is not state: it lives as an object in the dataset bucket, is read by whoever serves summaries
 * (the api λ), and can change without a replay. Replay skips that object.
 */
export interface ReferenceData<Reference> {
  /** Key of the reference object in the dataset bucket, e.g. `sf/radio_code.json`. */
  readonly objectKey: string;
  /** Reads the object; throws with a message when it is malformed. */
  parse(bytes: Uint8Array): Reference;
  /** Adds what the reference explains to a summary; returns it unchanged when nothing applies. */
  enrich(summary: JsonObject, reference: Reference): JsonObject;
}

export interface Analysis<State, Batch> {
  /** Also the S3 key prefix (`dt/…`) and the id in API paths. */
  readonly id: string;
  readonly title: string;
  readonly replay: ReplayCodec;

  emptyState(): State;
  emptyBatch(): Batch;
  /**
   * Pure: fold one batch of records (one topic-partition slice, in offset order) into `state`.
   * Contract: the cumulative result (`summarizeState` after the last batch) must not depend on where
   * the stream was cut into batches — the trigger cuts by count and by time, and a retry may cut
   * differently. (Per-batch contributions may, and do, depend on the cut.)
   */
  applyBatch(state: State, records: readonly RecordInput[]): BatchStep<State, Batch>;
  /** Adds two batch contributions (time-bucket rollups, the per-batch summary of several buckets). */
  mergeBatches(a: Batch, b: Batch): Batch;
  /** The cumulative view over all partitions' states (the API merges partitions on read). */
  mergeStates(states: readonly State[]): State;

  /**
   * Analysis-specific body of a `data_clean` message for one batch. It carries the message's
   * rejection counts (`rows_rejected`, `rejected_by_reason`): one per Rejection of the batch.
   */
  summarizeBatch(batch: Batch): SummaryBody;
  /** Analysis-specific body of the cumulative summary. */
  summarizeState(state: State): JsonObject;

  readonly stateCodec: JsonCodec<State>;
  readonly batchCodec: JsonCodec<Batch>;
  /** Optional reference data joined into summaries at read time. */
  readonly reference?: ReferenceData<unknown>;
  /**
   * Fields of `summarizeState` that depend on the order of rows *within* a partition, and so on how
   * rows are spread over partitions: the merged states of a replay over several partitions may differ
   * there from one stream of the same rows (`driftline analyze`). Field → why, in a sentence
   * (`driftline reconcile` prints it). Every other field must be the same however rows are spread.
   */
  readonly orderDependentFields?: Readonly<Record<string, string>>;
}

/**
 * An analysis whose state and batch types are hidden, as the registry hands them out. (Method
 * parameters are bivariant, so every `Analysis<S, B>` is assignable to this.)
 */
export type AnyAnalysis = Analysis<unknown, unknown>;

/** The object cannot be read as the analysis' format: replay refuses it with this message. */
export class ObjectFormatError extends Error {
  override readonly name = 'ObjectFormatError';
}
