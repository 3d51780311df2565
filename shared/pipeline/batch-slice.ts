/**
 * The input of aggregate, transport-neutral: the records of one partition (Kafka) or shard (Kinesis)
 * in one trigger event, in position order. An event decoder per trigger type (msk-event.ts) turns
 * what the trigger delivers into slices; aggregate never sees the event itself.
 */

export interface SliceRecord {
  /** The record's offset or sequence number, as a decimal string (see core/position.ts). */
  readonly position: string;
  /** When the producer (or the broker) stamped the record, ms since epoch. */
  readonly timestampMs: number;
  readonly value: Uint8Array;
  readonly headers: ReadonlyMap<string, string>;
}

export interface BatchSlice {
  /** The topic or stream the records came from. */
  readonly source: string;
  /** Kafka partition number; for a Kinesis shard, the number in its id (`shardId-000000000007` → 7). */
  readonly partition: number;
  /** In position order; the first and last positions are read from them, never stored twice. */
  readonly records: readonly SliceRecord[];
}

export function sliceOf(source: string, partition: number, records: readonly SliceRecord[]): BatchSlice {
  return { source, partition, records };
}

export function firstPosition(slice: BatchSlice): string {
  return slice.records[0]?.position ?? '0';
}

export function lastPosition(slice: BatchSlice): string {
  return slice.records[slice.records.length - 1]?.position ?? firstPosition(slice);
}

/** A batch's id: the same records always get the same id, so a retried batch is recognised. */
export function batchIdOf(slice: BatchSlice): string {
  return `${slice.source}-${slice.partition}-${firstPosition(slice)}-${lastPosition(slice)}`;
}
