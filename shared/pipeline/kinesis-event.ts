/**
 * Decodes a Kinesis trigger event (Lambda's Kinesis event source mapping) into transport-neutral
 * slices, validating its shape at the boundary. Data arrives base64-encoded, with replay's origin
 * headers inside it (core/record-envelope.ts); the shard comes from `eventID`
 * (`shardId-000000000007:<sequenceNumber>`), the stream from `eventSourceARN`. Sequence numbers are
 * decimal strings beyond 2^53: they are ordered as BigInt and never turned into numbers.
 */
import { z } from 'zod';
import { comparePositions } from '../core/position.ts';
import { decodeEnvelope } from '../core/record-envelope.ts';
import { type BatchSlice, type SliceRecord, sliceOf } from './batch-slice.ts';

const kinesisRecord = z.object({
  eventSource: z.literal('aws:kinesis'),
  eventID: z.string().regex(/^shardId-\d+:\d+$/, 'expected shardId-NNNNNNNNNNNN:<sequenceNumber>'),
  eventSourceARN: z.string().regex(/^arn:aws[a-z-]*:kinesis:[^:]*:[^:]*:stream\/.+$/),
  kinesis: z.object({
    partitionKey: z.string(),
    sequenceNumber: z.string().regex(/^\d+$/),
    data: z.string(),
    /** Seconds since epoch, with a fractional part. */
    approximateArrivalTimestamp: z.number(),
  }),
});

export const kinesisEventSchema = z.object({ Records: z.array(kinesisRecord) });

export type KinesisEvent = z.infer<typeof kinesisEventSchema>;
type KinesisEventRecord = KinesisEvent['Records'][number];

/** `shardId-000000000007:…` → 7. */
export function shardNumberOf(eventId: string): number {
  return Number(eventId.slice('shardId-'.length, eventId.indexOf(':')));
}

export function streamNameOf(arn: string): string {
  return arn.slice(arn.indexOf(':stream/') + ':stream/'.length);
}

function sliceRecordOf(record: KinesisEventRecord): SliceRecord {
  const { headers, value } = decodeEnvelope(Buffer.from(record.kinesis.data, 'base64'));
  return {
    position: record.kinesis.sequenceNumber,
    timestampMs: Math.round(record.kinesis.approximateArrivalTimestamp * 1000),
    value,
    headers,
  };
}

/** One slice per (stream, shard) of the event (AWS sends one shard per event), in sequence order. */
export function decodeKinesisEvent(event: unknown): BatchSlice[] {
  const parsed = kinesisEventSchema.parse(event);
  const byShard = new Map<string, { stream: string; shard: number; records: KinesisEventRecord[] }>();
  for (const record of parsed.Records) {
    const stream = streamNameOf(record.eventSourceARN);
    const shard = shardNumberOf(record.eventID);
    const key = `${stream}\u0000${shard}`;
    const group = byShard.get(key) ?? { stream, shard, records: [] };
    group.records.push(record);
    byShard.set(key, group);
  }
  return [...byShard.values()].map(({ stream, shard, records }) =>
    sliceOf(
      stream,
      shard,
      records
        .sort((a, b) => comparePositions(a.kinesis.sequenceNumber, b.kinesis.sequenceNumber))
        .map(sliceRecordOf),
    ),
  );
}
