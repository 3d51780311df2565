/**
 * Decodes an Amazon MSK (or self-managed Kafka) trigger event into transport-neutral slices,
 * validating its shape at the boundary. Values and keys arrive base64-encoded; headers as arrays of
 * `{ name: byte[] }`.
 */
import { z } from 'zod';
import { type BatchSlice, sliceOf } from './batch-slice.ts';

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

export const mskEventSchema = z.object({
  eventSource: z.enum(['aws:kafka', 'SelfManagedKafka']),
  eventSourceArn: z.string().optional(),
  bootstrapServers: z.string().optional(),
  records: z.record(z.string(), z.array(mskRecord)),
});

export type MskEvent = z.infer<typeof mskEventSchema>;

function headersOf(record: MskEvent['records'][string][number]): Map<string, string> {
  const headers = new Map<string, string>();
  for (const header of record.headers) {
    for (const [name, bytes] of Object.entries(header))
      headers.set(name, Buffer.from(bytes).toString('utf8'));
  }
  return headers;
}

/** One slice per `topic-partition` list of the event, records in offset order. */
export function decodeMskEvent(event: unknown): BatchSlice[] {
  const parsed = mskEventSchema.parse(event);
  return Object.values(parsed.records)
    .filter((records) => records.length > 0)
    .map((records) => {
      const first = records[0];
      const sorted = [...records].sort((a, b) => a.offset - b.offset);
      return sliceOf(
        first?.topic ?? '',
        first?.partition ?? 0,
        sorted.map((record) => ({
          position: String(record.offset),
          timestampMs: record.timestamp,
          value: record.value ? Buffer.from(record.value, 'base64') : new Uint8Array(0),
          headers: headersOf(record),
        })),
      );
    });
}
