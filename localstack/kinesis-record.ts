/**
 * Records and events in the shape Lambda's Kinesis event source mapping delivers them: a GetRecords
 * record converted to a Kinesis event record (base64 data, seconds-since-epoch arrival time, the
 * shard in `eventID`), and a shard's batch wrapped into a Kinesis event. Also the metadata record
 * an on-failure destination receives for a batch given up on (AWS's `KinesisBatchInfo`).
 */
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import type { LogRecord } from './trigger-buffer.ts';

/** What the trigger buffers: the event record, and its ordinal in the shard (the buffer's offset). */
export interface BufferedKinesisRecord extends LogRecord {
  readonly event: KinesisStreamRecord;
}

export interface KinesisEventSource {
  readonly streamArn: string;
  readonly region: string;
  /** The function's role, as AWS names it in every record. */
  readonly invokeIdentityArn: string;
}

/** A GetRecords record, as the SDK returns it. */
export interface FetchedRecord {
  readonly SequenceNumber?: string | undefined;
  readonly PartitionKey?: string | undefined;
  readonly Data?: Uint8Array | undefined;
  readonly ApproximateArrivalTimestamp?: Date | undefined;
}

export function toKinesisEventRecord(
  shardId: string,
  record: FetchedRecord,
  source: KinesisEventSource,
): KinesisStreamRecord {
  const sequenceNumber = record.SequenceNumber ?? '0';
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: record.PartitionKey ?? '',
      sequenceNumber,
      data: Buffer.from(record.Data ?? new Uint8Array(0)).toString('base64'),
      approximateArrivalTimestamp: (record.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shardId}:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: source.invokeIdentityArn,
    awsRegion: source.region,
    eventSourceARN: source.streamArn,
  };
}

/** A record's share of the 6 MB invocation payload: its JSON, measured once. */
export function eventRecordBytes(record: BufferedKinesisRecord): number {
  return JSON.stringify(record.event).length + 1;
}

export function kinesisEventOf(records: readonly BufferedKinesisRecord[]): KinesisStreamEvent {
  return { Records: records.map((record) => record.event) };
}

/** What an on-failure destination (SQS, SNS, S3) receives for a batch given up on: metadata only. */
export interface KinesisFailureRecord {
  readonly requestContext: { readonly condition: 'RetryAttemptsExhausted'; readonly functionArn: string };
  readonly responseContext: { readonly functionError: 'Unhandled'; readonly message: string };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly KinesisBatchInfo: {
    readonly shardId: string;
    readonly startSequenceNumber: string;
    readonly endSequenceNumber: string;
    readonly approximateArrivalOfFirstRecord: string;
    readonly approximateArrivalOfLastRecord: string;
    readonly batchSize: number;
    readonly streamArn: string;
  };
}

function arrivalIso(record: BufferedKinesisRecord | undefined): string {
  return new Date((record?.event.kinesis.approximateArrivalTimestamp ?? 0) * 1000).toISOString();
}

export function failureRecordOf(
  shardId: string,
  records: readonly BufferedKinesisRecord[],
  details: { readonly functionArn: string; readonly streamArn: string; readonly error: string },
): KinesisFailureRecord {
  const first = records[0];
  const last = records[records.length - 1];
  return {
    requestContext: { condition: 'RetryAttemptsExhausted', functionArn: details.functionArn },
    responseContext: { functionError: 'Unhandled', message: details.error },
    version: '1.0',
    timestamp: new Date().toISOString(),
    KinesisBatchInfo: {
      shardId,
      startSequenceNumber: first?.event.kinesis.sequenceNumber ?? '',
      endSequenceNumber: last?.event.kinesis.sequenceNumber ?? '',
      approximateArrivalOfFirstRecord: arrivalIso(first),
      approximateArrivalOfLastRecord: arrivalIso(last),
      batchSize: records.length,
      streamArn: details.streamArn,
    },
  };
}
