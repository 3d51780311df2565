/**
 * Decodes an Amazon MSK (or self-managed Kafka) trigger event into transport-neutral slices,
 * validating its shape at the boundary. Values and keys arrive base64-encoded; headers as arrays of
 * `{ name: byte[] }` (bytes as Java prints them: signed, so "é" can arrive as -61, -87).
 *
 * The envelope is validated by its zod schema; the records, thousands per event, by `readRecord`,
 * which checks the same rules as `mskRecord` while it decodes (zod's generic walk over every header
 * byte cost ~10 µs per record, more than all the rest of the aggregate step).
 */
import { z } from 'zod';
import { type BatchSlice, type SliceRecord, sliceOf } from './batch-slice.ts';

/** One record as AWS sends it: the contract `readRecord` enforces, and the type it stands for. */
const mskRecord = z.object({
  topic: z.string(),
  partition: z.number().int().min(0),
  offset: z.number().int().min(0),
  timestamp: z.number(),
  timestampType: z.string().optional(),
  key: z.string().optional().nullable(),
  value: z.string().nullable().optional(),
  headers: z.array(z.record(z.string(), z.array(z.number().int()))).default([]),
});

export type MskRecord = z.infer<typeof mskRecord>;

const mskEnvelope = z.object({
  eventSource: z.enum(['aws:kafka', 'SelfManagedKafka']),
  eventSourceArn: z.string().optional(),
  bootstrapServers: z.string().optional(),
  records: z.record(z.string(), z.array(z.unknown())),
});

/** The whole event's schema (for documentation and tests; decoding uses the faster path below). */
export const mskEventSchema = mskEnvelope.extend({ records: z.record(z.string(), z.array(mskRecord)) });

export type MskEvent = z.infer<typeof mskEventSchema>;

class MskEventError extends Error {
  constructor(where: string, problem: string) {
    super(`invalid MSK event: ${where}: ${problem}`);
    this.name = 'MskEventError';
  }
}

function isRecordObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

const MAX_SPREAD_HEADER_BYTES = 1024;

/** A header's bytes as text: plain ASCII directly, anything else through UTF-8 (signed bytes wrapped). */
function headerText(bytes: unknown, where: string): string {
  if (!Array.isArray(bytes)) throw new MskEventError(where, 'a header value must be an array of bytes');
  let ascii = true;
  for (const byte of bytes) {
    if (typeof byte !== 'number' || !Number.isInteger(byte))
      throw new MskEventError(where, 'a header value must be an array of integers');
    if (byte < 0 || byte > 0x7f) ascii = false;
  }
  // (Spreading a very long header would overflow the call stack: those take the Buffer path.)
  if (ascii && bytes.length <= MAX_SPREAD_HEADER_BYTES) return String.fromCharCode(...bytes);
  return Buffer.from(bytes).toString('utf8');
}

function headersOf(headers: unknown, where: string): Map<string, string> {
  const decoded = new Map<string, string>();
  if (headers === undefined) return decoded;
  if (!Array.isArray(headers)) throw new MskEventError(where, 'headers must be an array');
  for (const header of headers) {
    if (!isRecordObject(header)) throw new MskEventError(where, 'each header must be an object');
    for (const name in header) decoded.set(name, headerText(header[name], `${where}.headers.${name}`));
  }
  return decoded;
}

function optionalText(value: unknown, where: string, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new MskEventError(where, `${field} must be a string`);
  return value;
}

/** One record, validated as `mskRecord` says, decoded to a slice record; also its topic and partition. */
function readRecord(raw: unknown, where: string): { topic: string; partition: number; record: SliceRecord } {
  if (!isRecordObject(raw)) throw new MskEventError(where, 'a record must be an object');
  const { topic, partition, offset, timestamp } = raw;
  if (typeof topic !== 'string') throw new MskEventError(where, 'topic must be a string');
  if (!isNonNegativeInteger(partition)) throw new MskEventError(where, 'partition must be an integer ≥ 0');
  if (!isNonNegativeInteger(offset)) throw new MskEventError(where, 'offset must be an integer ≥ 0');
  if (typeof timestamp !== 'number') throw new MskEventError(where, 'timestamp must be a number');
  optionalText(raw.timestampType, where, 'timestampType');
  optionalText(raw.key, where, 'key');
  const value = optionalText(raw.value, where, 'value');
  return {
    topic,
    partition,
    record: {
      position: String(offset),
      timestampMs: timestamp,
      value: value ? Buffer.from(value, 'base64') : new Uint8Array(0),
      headers: headersOf(raw.headers, where),
    },
  };
}

/** One slice per `topic-partition` list of the event, records in offset order. */
export function decodeMskEvent(event: unknown): BatchSlice[] {
  const envelope = mskEnvelope.parse(event);
  const slices: BatchSlice[] = [];
  for (const [name, list] of Object.entries(envelope.records)) {
    if (list.length === 0) continue;
    const decoded = list.map((raw, index) => readRecord(raw, `records["${name}"][${index}]`));
    const first = decoded[0];
    const records = decoded.map(({ record }) => record);
    // AWS delivers a partition in offset order; a sort of sorted input costs one pass.
    records.sort((a, b) => Number(a.position) - Number(b.position));
    slices.push(sliceOf(first?.topic ?? '', first?.partition ?? 0, records));
  }
  return slices;
}
