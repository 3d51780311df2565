/**
 * Records and events in the shape the Amazon MSK trigger delivers them: a kafkajs message converted
 * to an MSK record, and a taken batch wrapped into an MSK event.
 */
import type { MSKEvent, MSKRecord } from 'aws-lambda';
import type { EachBatchPayload } from '../shared/adapters/kafka.ts';
import { type BatchLimits, type TakenBatch, TriggerBuffer } from './trigger-buffer.ts';

/**
 * One record as the trigger delivers it. AWS leaves `key` out of a record whose Kafka key is null
 * (aws-powertools/powertools-lambda-python#6508 shows such an event; Powertools for TypeScript reads
 * a missing key as undefined), and leaves `value` out of a tombstone (null value,
 * aws-powertools/powertools-lambda-typescript#5016). `MSKRecord` from @types/aws-lambda declares both
 * as always present, so this type makes them optional rather than invent an empty string.
 */
export type MskTriggerRecord = Omit<MSKRecord, 'key' | 'value'> & {
  readonly key?: string;
  readonly value?: string;
};

/** `MSKEvent` with records as AWS really sends them (see `MskTriggerRecord`). */
export type MskTriggerEvent = Omit<MSKEvent, 'records'> & {
  readonly records: Record<string, MskTriggerRecord[]>;
};

/** Where an event comes from: the trigger's topic and the fields AWS sets on every event. */
export interface MskEventSource {
  readonly topic: string;
  readonly eventSourceArn: string;
  readonly bootstrapServers: string;
}

type KafkaMessage = EachBatchPayload['batch']['messages'][number];

/** kafkajs's value for a record batch whose timestamps were set by the broker. */
const KAFKAJS_LOG_APPEND_TIME = 1;

function timestampTypeOf(message: KafkaMessage): MSKRecord['timestampType'] {
  // kafkajs decodes the record batch's timestamp type (attribute bit 3) into an untyped
  // `batchContext` on each record; without it the type is CREATE_TIME, Kafka's default.
  const context: unknown = 'batchContext' in message ? message.batchContext : undefined;
  if (
    typeof context === 'object' &&
    context !== null &&
    'timestampType' in context &&
    context.timestampType === KAFKAJS_LOG_APPEND_TIME
  ) {
    return 'LOG_APPEND_TIME';
  }
  return 'CREATE_TIME';
}

/**
 * AWS gives one `{ name: bytes }` object per header, in record order. kafkajs merges repeated
 * names into an array under the first occurrence, so repeated headers come out next to each other:
 * the order between headers of different names is lost, the order within one name is kept.
 * A null header value becomes an empty byte array.
 */
function headersOf(message: KafkaMessage): Record<string, number[]>[] {
  const headers: Record<string, number[]>[] = [];
  for (const [name, raw] of Object.entries(message.headers ?? {})) {
    const values = Array.isArray(raw) ? raw : [raw];
    for (const value of values) {
      // kafkajs decodes a null header value as null, although its type does not say so.
      const bytes =
        value === undefined || value === null
          ? []
          : [...(typeof value === 'string' ? Buffer.from(value) : value)];
      headers.push({ [name]: bytes });
    }
  }
  return headers;
}

/** A kafkajs message in the shape the MSK trigger delivers (offsets and timestamps as numbers). */
export function toMskRecord(topic: string, partition: number, message: KafkaMessage): MskTriggerRecord {
  return {
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    timestampType: timestampTypeOf(message),
    ...(message.key === null ? {} : { key: message.key.toString('base64') }),
    ...(message.value === null ? {} : { value: message.value.toString('base64') }),
    headers: headersOf(message),
  };
}

/** Close to the record's JSON size (header bytes print as up to 4 characters each). */
export function approximateJsonBytes(record: MskTriggerRecord): number {
  let bytes = 160 + record.topic.length + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const header of record.headers) {
    for (const [name, value] of Object.entries(header)) bytes += name.length + 8 + value.length * 4;
  }
  return bytes;
}

/** The trigger's buffering policy on MSK records, each sized by its approximate JSON. */
export class MskRecordBuffer extends TriggerBuffer<MskTriggerRecord> {
  constructor(limits: BatchLimits) {
    super(limits, approximateJsonBytes);
  }
}

/** The MSK event of a taken batch: each partition under `records['<topic>-<partition>']`. */
export function mskEventOf(batch: TakenBatch<MskTriggerRecord>, source: MskEventSource): MskTriggerEvent {
  const records: Record<string, MskTriggerRecord[]> = {};
  for (const { partition, records: partitionRecords } of batch.partitions) {
    records[`${source.topic}-${partition}`] = [...partitionRecords];
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: source.eventSourceArn,
    bootstrapServers: source.bootstrapServers,
    records,
  };
}
