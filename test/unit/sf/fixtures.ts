/** Tiny factories shared by the sf tests: calls, records, timelines, the data files beside the checkout. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WindowCounts } from '../../../shared/analyses/sf/counts.ts';
import { sfAnalysis } from '../../../shared/analyses/sf/index.ts';
import type { Json, RecordInput, RowFramer } from '../../../shared/core/analysis.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

export function text(value: Uint8Array): string {
  return decoder.decode(value);
}

/** The day every timeline of these tests happens on; times are written 'HH:MM'. */
export const DAY = '2018-12-31';

export function at(clock: string): number {
  return Date.parse(`${DAY}T${clock}:00.000Z`);
}

export function clockOf(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

export interface CallFields {
  /** 'HH:MM' on DAY, or a full call_date_time when it contains a 'T'. */
  readonly time?: string;
  readonly type?: string;
  readonly disposition?: string;
  readonly crimeId?: string;
  readonly extra?: Record<string, Json>;
}

/** One DataSF-like call as a compact JSON row (fields in the file's order). */
export function call({
  time = '00:00',
  type = 'Passing Call',
  disposition = 'HAN',
  crimeId = '1',
  extra = {},
}: CallFields = {}): string {
  const callDateTime = time.includes('T') ? time : `${DAY}T${time}:00.000`;
  return JSON.stringify({
    crime_id: crimeId,
    original_crime_type_name: type,
    report_date: `${callDateTime.slice(0, 10)}T00:00:00.000`,
    call_date: `${callDateTime.slice(0, 10)}T00:00:00.000`,
    offense_date: `${callDateTime.slice(0, 10)}T00:00:00.000`,
    call_time: callDateTime.slice(11, 16),
    call_date_time: callDateTime,
    disposition,
    address: '100 Blk Howard St',
    city: 'San Francisco',
    state: 'CA',
    agency_id: '1',
    address_type: 'Geo-Override',
    common_location: '',
    ...extra,
  });
}

/** One text record per row, offsets 0, 1, 2 … */
export function records(rows: readonly (string | Uint8Array)[], partition = 0): RecordInput[] {
  return rows.map((row, index) => ({
    value: typeof row === 'string' ? bytes(row) : row,
    wireFormat: 'text',
    partition,
    offset: String(index),
    timestampMs: 0,
  }));
}

/** An arrival timeline, most.js style: `time` is the event time 'HH:MM', `value` the crime type. */
export type Arrival = { readonly time: string; readonly value: string };

export function rowsOf(arrivals: readonly Arrival[]): string[] {
  return arrivals.map(({ time, value }, index) => call({ time, type: value, crimeId: String(index) }));
}

/** Windows as a timeline: one entry per window start ('HH:MM'), its counts per type. */
export function windowTimeline(windows: WindowCounts): { time: string; value: Record<string, number> }[] {
  return [...windows]
    .sort(([a], [b]) => a - b)
    .map(([start, counts]) => ({ time: clockOf(start), value: Object.fromEntries([...counts].sort()) }));
}

/** Runs a framer over chunks. */
export function frame(framer: RowFramer, chunks: readonly Uint8Array[]): Uint8Array[] {
  const rows: Uint8Array[] = [];
  for (const chunk of chunks) rows.push(...framer.push(chunk));
  rows.push(...framer.end());
  return rows;
}

/** Frames a whole object with sf's replay codec. */
export function frameObject(objectKey: string, chunks: readonly Uint8Array[]): string[] {
  const { framer } = sfAnalysis.replay.framerFor(objectKey);
  return frame(framer, chunks).map(text);
}

/** Splits into chunks of `size` bytes. */
export function chunked(all: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let start = 0; start < all.length; start += size) chunks.push(all.subarray(start, start + size));
  return chunks;
}

/** Consecutive slices of `size` items. */
export function slices<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
  return result;
}

/** A JSON object, checked at run time (summaries and encodings are `Json`). */
export function asObject(json: Json | undefined): { [key: string]: Json } {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error('expected a JSON object');
  return json;
}

export function asArray(json: Json | undefined): Json[] {
  if (!Array.isArray(json)) throw new Error('expected a JSON array');
  return json;
}

/** Encodes to JSON text and parses it back, as storage does. */
export function throughJsonText(json: Json): Json {
  const parsed: Json = JSON.parse(JSON.stringify(json));
  return parsed;
}

// The real data lives beside the checkout (../shared/data), not in the repo.
function dataPath(name: string): string {
  return fileURLToPath(new URL(`../../../../shared/data/sf/${name}`, import.meta.url));
}

export const SAMPLE_PATH = dataPath('police-department-calls-for-service.sample2000.json');
export const FULL_PATH = dataPath('police-department-calls-for-service.json.gz');
export const RADIO_CODES_PATH = dataPath('radio_code.json');
export const sampleExists = existsSync(SAMPLE_PATH);
export const radioCodesExist = existsSync(RADIO_CODES_PATH);
