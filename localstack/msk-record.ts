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

/** A header value's bytes as the plain number array AWS's JSON holds (a loop: spreading is ~10× slower). */
function byteArrayOf(value: Buffer | string | null | undefined): number[] {
  // kafkajs decodes a null header value as null, although its type does not say so.
  if (value === undefined || value === null) return [];
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  const array = new Array<number>(bytes.length);
  for (let index = 0; index < bytes.length; index++) array[index] = bytes[index] ?? 0;
  return array;
}

/**
 * AWS gives one `{ name: bytes }` object per header, in record order. kafkajs merges repeated
 * names into an array under the first occurrence, so repeated headers come out next to each other:
 * the order between headers of different names is lost, the order within one name is kept.
 * A null header value becomes an empty byte array.
 */
function headersOf(message: KafkaMessage): Record<string, number[]>[] {
  const headers: Record<string, number[]>[] = [];
  const raw = message.headers;
  if (raw === undefined) return headers;
  for (const name in raw) {
    const value = raw[name];
    if (Array.isArray(value)) {
      for (const each of value) headers.push({ [name]: byteArrayOf(each) });
    } else {
      headers.push({ [name]: byteArrayOf(value) });
    }
  }
  return headers;
}

/** A kafkajs message in the shape the MSK trigger delivers (offsets and timestamps as numbers). */
export function toMskRecord(topic: string, partition: number, message: KafkaMessage): MskTriggerRecord {
  const { key, value } = message;
  const offset = Number(message.offset);
  const timestamp = Number(message.timestamp);
  const timestampType = timestampTypeOf(message);
  const headers = headersOf(message);
  // The usual record as one literal, in AWS's field order; conditional spreads build a temporary
  // object per field per record, which cost more than the rest of the conversion.
  if (key !== null && value !== null) {
    const keyText = key.toString('base64');
    const valueText = value.toString('base64');
    return { topic, partition, offset, timestamp, timestampType, key: keyText, value: valueText, headers };
  }
  return {
    topic,
    partition,
    offset,
    timestamp,
    timestampType,
    ...(key === null ? {} : { key: key.toString('base64') }),
    ...(value === null ? {} : { value: value.toString('base64') }),
    headers,
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

/** A fresh copy of a header list: new objects and byte arrays (the strings are immutable anyway). */
function copyOfHeaders(headers: readonly Record<string, number[]>[]): Record<string, number[]>[] {
  const copy = new Array<Record<string, number[]>>(headers.length);
  for (let index = 0; index < headers.length; index++) {
    const header = headers[index] ?? {};
    const copied: Record<string, number[]> = {};
    for (const name in header) copied[name] = (header[name] ?? []).slice();
    copy[index] = copied;
  }
  return copy;
}

/**
 * A deep copy of an event, so that a handler that edits its event cannot change what a retry
 * sees. Written for this one shape: `structuredClone` of a 10,000-record event costs ~10 µs per
 * record, this ~1.
 */
export function copyOfMskEvent(event: MskTriggerEvent): MskTriggerEvent {
  const records: Record<string, MskTriggerRecord[]> = {};
  for (const [name, list] of Object.entries(event.records)) {
    records[name] = list.map((record) => ({ ...record, headers: copyOfHeaders(record.headers) }));
  }
  return { ...event, records };
}
