/**
 * Records and events in the shape the Amazon MSK trigger delivers them: a kafkajs message converted
 * to an MSK record (`toMskRecord`, the shape; `mskRecordText`, the same as the JSON text the
 * trigger buffers), and a taken batch wrapped into an MSK event's JSON.
 */
import type { MSKEvent, MSKRecord } from 'aws-lambda';
import type { EachBatchPayload } from '../shared/adapters/kafka.ts';
import { SerializedEvent } from './serialized-event.ts';
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

/**
 * A record as the trigger buffers it: its offset and its JSON text, built once as it is fetched.
 * A string per record, where the object shape costs an object, two strings and a number array
 * per header, each to be walked again to cross to the sandbox (the profile's event build and IPC).
 */
export interface MskRecordText {
  readonly offset: number;
  readonly json: string;
}

/** A header value's bytes as the inside of a JSON number array: `1,2,255` (what `byteArrayOf` gives). */
function byteListOf(value: Buffer | string | null | undefined): string {
  if (value === undefined || value === null) return '';
  return (typeof value === 'string' ? Buffer.from(value) : value).join(',');
}

/** `headersOf`'s list as JSON text, in the same order. */
function headersJsonOf(message: KafkaMessage): string {
  const raw = message.headers;
  if (raw === undefined) return '[]';
  const parts: string[] = [];
  for (const name in raw) {
    const value = raw[name];
    const quoted = JSON.stringify(name);
    if (Array.isArray(value)) {
      for (const each of value) parts.push(`{${quoted}:[${byteListOf(each)}]}`);
    } else {
      parts.push(`{${quoted}:[${byteListOf(value)}]}`);
    }
  }
  return `[${parts.join(',')}]`;
}

/** A number as JSON writes it (a timestamp kafkajs could not read is null, as JSON.stringify gives). */
function numberJson(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

/**
 * The JSON text of `toMskRecord(topic, partition, message)`, written directly: the same fields in
 * the same order (the unit test holds the two equal). `quotedTopic` is `JSON.stringify(topic)`.
 */
export function mskRecordText(quotedTopic: string, partition: number, message: KafkaMessage): MskRecordText {
  const { key, value } = message;
  const offset = Number(message.offset);
  let json = `{"topic":${quotedTopic},"partition":${partition},"offset":${offset},"timestamp":${numberJson(
    Number(message.timestamp),
  )},"timestampType":"${timestampTypeOf(message)}"`;
  // Base64 needs no escaping.
  if (key !== null) json += `,"key":"${key.toString('base64')}"`;
  if (value !== null) json += `,"value":"${value.toString('base64')}"`;
  json += `,"headers":${headersJsonOf(message)}}`;
  return { offset, json };
}

/** A record's share of the event's JSON: its text and the comma after it. */
export function recordJsonBytes(record: MskRecordText): number {
  return record.json.length + 1;
}

/**
 * The trigger's buffering policy on MSK records, each sized by its JSON. A partition holds at most
 * one event's payload limit of bytes: no event can take more of it, so buffering more only holds
 * memory (large rows, 10 partitions × 10,000 records of ~2 KB: ~200 MB before the first event).
 * All partitions together hold about two events' payload (each its fair share beyond that): the
 * next event is full as soon as an invocation slot frees, and the runtime's memory does not grow
 * with the number of partitions (the sf run buffered ~60 MB of record text over 10 partitions).
 */
export class MskRecordBuffer extends TriggerBuffer<MskRecordText> {
  constructor(limits: BatchLimits) {
    super(
      {
        maxBufferedBytes: limits.maxPayloadBytes,
        maxTotalBufferedBytes: 2 * limits.maxPayloadBytes,
        ...limits,
      },
      recordJsonBytes,
    );
  }
}

/**
 * The MSK event of a taken batch as the JSON text Lambda hands its runtime: each partition under
 * `records['<topic>-<partition>']`, in offset order. Joined once from all its pieces, so the text
 * is one flat string: a concatenation of joined lists would be a rope that V8 copies flat again
 * (another payload's worth) when the IPC channel serializes it.
 */
export function mskEventJson(batch: TakenBatch<MskRecordText>, source: MskEventSource): SerializedEvent {
  const pieces = [
    `{"eventSource":"aws:kafka","eventSourceArn":${JSON.stringify(source.eventSourceArn)},`,
    `"bootstrapServers":${JSON.stringify(source.bootstrapServers)},"records":{`,
  ];
  batch.partitions.forEach(({ partition, records }, index) => {
    pieces.push(`${index === 0 ? '' : ','}${JSON.stringify(`${source.topic}-${partition}`)}:[`);
    records.forEach((record, position) => {
      if (position > 0) pieces.push(',');
      pieces.push(record.json);
    });
    pieces.push(']');
  });
  pieces.push('}}');
  return new SerializedEvent(pieces.join(''), {
    records: batch.recordCount,
    slices: batch.partitions.length,
  });
}
