/**
 * Storage encoding of `sf` partition states (one DynamoDB item each, so they must stay small) and of
 * batch contributions (rollups). Decoding validates every field and throws SfDecodeError naming the
 * first problem, so a corrupt or foreign item never turns into wrong counts.
 *
 * State, version 1:
 *   { version, counters: {rowsRead, droppedEmpty, duplicates, uniqueRows, lateRows, beyondDedupHorizon,
 *     outOfOrderRows}, rejectedByReason: {reason: n}, crimeTypes: [[name, n]…], dispositions: [[code, n]…]
 *     (the name '' is the bucket of names beyond the caps, counts.ts OTHER; limits.ts bounds the lists),
 *     eventTime: {minMs, maxMs, lastMs} (null before the first row), openWindows / closedWindows:
 *     [[startMs, [[type, n]…]]…], dedup: { keys, times? } }
 * `dedup.keys` is one base64 string of 8 bytes per distinct triple (the 64-bit hash, big-endian): about
 * 10.7 characters of JSON per key, so 20,000 keys take ~213 KB and a partition state with them and the
 * crime-type counts stays under ~300 KB (test/unit/sf/codec.test.ts measures it). Bounded mode adds
 * `times`, each key's event time as a big-endian float64 (8 more bytes per key; bounded states hold only
 * the keys within the horizon). A state written in one mode reads in the other: exact → bounded gives
 * every key the state's max event time (kept at least as long as needed), bounded → exact drops times.
 *
 * Batch, version 1: { version, counters, rejectedByReason, crimeTypes, dispositions, windows,
 *   eventTime: {minMs, maxMs, watermarkMs} | null }.
 */
import { isJsonObject, type Json, type JsonCodec, type JsonObject } from '../../core/analysis.ts';
import type { Counts, WindowCounts } from './counts.ts';
import { DedupTable } from './dedup-table.ts';
import { WINDOW_SLIDE_MS } from './fields.ts';
import {
  COUNTER_NAMES,
  type EventTimeRange,
  type MutableCounters,
  type SfBatch,
  type SfCounters,
  type SfState,
  zeroCounters,
} from './state.ts';

export const STATE_ENCODING_VERSION = 1;
export const BATCH_ENCODING_VERSION = 1;

const KEY_BYTES = 8;
const TIME_BYTES = 8;

export class SfDecodeError extends Error {
  override readonly name = 'SfDecodeError';
}

// --- encoding ------------------------------------------------------------------------------------

function encodeCounters(counters: SfCounters): JsonObject {
  const encoded: JsonObject = {};
  for (const name of COUNTER_NAMES) encoded[name] = counters[name];
  return encoded;
}

function encodeCounts(counts: Counts): Json[] {
  return [...counts].map(([name, count]) => [name, count]);
}

function encodeWindows(windows: WindowCounts): Json[] {
  return [...windows].sort(([a], [b]) => a - b).map(([start, counts]) => [start, encodeCounts(counts)]);
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

function encodeDedup(table: DedupTable): JsonObject {
  const keys = new Uint8Array(table.size * KEY_BYTES);
  const keyView = new DataView(keys.buffer);
  const times = table.keepsTimes ? new Uint8Array(table.size * TIME_BYTES) : null;
  const timeView = times ? new DataView(times.buffer) : null;
  let index = 0;
  table.forEachKey((hi, lo, eventMs) => {
    keyView.setUint32(index * KEY_BYTES, hi);
    keyView.setUint32(index * KEY_BYTES + 4, lo);
    timeView?.setFloat64(index * TIME_BYTES, eventMs);
    index++;
  });
  return {
    keys: Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength).toString('base64'),
    ...(times
      ? { times: Buffer.from(times.buffer, times.byteOffset, times.byteLength).toString('base64') }
      : {}),
  };
}

export function encodeState(state: SfState): Json {
  return {
    version: STATE_ENCODING_VERSION,
    counters: encodeCounters(state.counters),
    rejectedByReason: { ...state.rejectedByReason },
    crimeTypes: encodeCounts(state.crimeTypes),
    dispositions: encodeCounts(state.dispositions),
    eventTime: {
      minMs: finiteOrNull(state.minEventMs),
      maxMs: finiteOrNull(state.maxEventMs),
      lastMs: finiteOrNull(state.lastEventMs),
    },
    openWindows: encodeWindows(state.openWindows),
    closedWindows: encodeWindows(state.closedWindows),
    dedup: encodeDedup(state.dedup),
  };
}

export function encodeBatch(batch: SfBatch): Json {
  return {
    version: BATCH_ENCODING_VERSION,
    counters: encodeCounters(batch.counters),
    rejectedByReason: { ...batch.rejectedByReason },
    crimeTypes: encodeCounts(batch.crimeTypes),
    dispositions: encodeCounts(batch.dispositions),
    windows: encodeWindows(batch.windows),
    eventTime: batch.eventTime ? { ...batch.eventTime } : null,
  };
}

// --- decoding ------------------------------------------------------------------------------------

function isCount(value: Json | undefined): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function objectField(object: JsonObject, field: string, what: string): JsonObject {
  const value = object[field];
  if (!isJsonObject(value)) throw new SfDecodeError(`sf ${what}: '${field}' must be an object`);
  return value;
}

function decodeCounters(object: JsonObject, what: string): SfCounters {
  const encoded = objectField(object, 'counters', what);
  const counters: MutableCounters = zeroCounters();
  for (const name of COUNTER_NAMES) {
    const value = encoded[name];
    if (!isCount(value)) {
      throw new SfDecodeError(
        `sf ${what}: 'counters.${name}' must be a non-negative integer, got ${JSON.stringify(value)}`,
      );
    }
    counters[name] = value;
  }
  return counters;
}

function decodeReasons(object: JsonObject, what: string): Record<string, number> {
  const encoded = objectField(object, 'rejectedByReason', what);
  const reasons: Record<string, number> = {};
  for (const [reason, count] of Object.entries(encoded)) {
    if (!isCount(count)) {
      throw new SfDecodeError(`sf ${what}: 'rejectedByReason.${reason}' must be a non-negative integer`);
    }
    reasons[reason] = count;
  }
  return reasons;
}

function decodeCountPairs(value: Json | undefined, where: string): Counts {
  if (!Array.isArray(value)) throw new SfDecodeError(`sf ${where} must be an array of [name, count]`);
  const counts: Counts = new Map();
  value.forEach((pair, index) => {
    const [name, count] = Array.isArray(pair) && pair.length === 2 ? pair : [];
    if (typeof name !== 'string' || !isCount(count)) {
      throw new SfDecodeError(
        `sf ${where}[${index}] must be [name, non-negative integer], got ${JSON.stringify(pair)}`,
      );
    }
    if (counts.has(name)) throw new SfDecodeError(`sf ${where} lists '${name}' twice`);
    counts.set(name, count);
  });
  return counts;
}

function decodeWindows(value: Json | undefined, where: string): WindowCounts {
  if (!Array.isArray(value)) throw new SfDecodeError(`sf ${where} must be an array of [startMs, counts]`);
  const windows: WindowCounts = new Map();
  value.forEach((pair, index) => {
    const [start, counts] = Array.isArray(pair) && pair.length === 2 ? pair : [];
    if (typeof start !== 'number' || !Number.isSafeInteger(start) || start % WINDOW_SLIDE_MS !== 0) {
      throw new SfDecodeError(`sf ${where}[${index}]: start must be a multiple of ${WINDOW_SLIDE_MS} ms`);
    }
    if (windows.has(start)) throw new SfDecodeError(`sf ${where} lists window ${start} twice`);
    windows.set(start, decodeCountPairs(counts, `${where}[${index}][1]`));
  });
  return windows;
}

function timeOrNull(object: JsonObject, field: string, where: string): number | null {
  const value = object[field];
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new SfDecodeError(`sf ${where}.${field} must be a number or null, got ${JSON.stringify(value)}`);
  }
  return value;
}

function decodeBase64(value: Json | undefined, where: string, unit: number): Uint8Array {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw new SfDecodeError(`sf ${where} must be a base64 string`);
  }
  const bytes = new Uint8Array(Buffer.from(value, 'base64'));
  if (bytes.length % unit !== 0) {
    throw new SfDecodeError(
      `sf ${where} must hold a whole number of ${unit}-byte entries, holds ${bytes.length} bytes`,
    );
  }
  return bytes;
}

function decodeDedup(value: Json | undefined, keepsTimes: boolean, maxEventMs: number): DedupTable {
  if (!isJsonObject(value)) throw new SfDecodeError(`sf state: 'dedup' must be an object`);
  const keys = decodeBase64(value.keys, 'state dedup.keys', KEY_BYTES);
  const count = keys.length / KEY_BYTES;
  const times = value.times === undefined ? null : decodeBase64(value.times, 'state dedup.times', TIME_BYTES);
  if (times && times.length / TIME_BYTES !== count) {
    throw new SfDecodeError(
      `sf state: dedup.times holds ${times.length / TIME_BYTES} times for ${count} keys`,
    );
  }
  if (count > 0 && keepsTimes && !times && !Number.isFinite(maxEventMs)) {
    throw new SfDecodeError('sf state: dedup keys without times need eventTime.maxMs');
  }
  const keyView = new DataView(keys.buffer, keys.byteOffset, keys.byteLength);
  const timeView = times ? new DataView(times.buffer, times.byteOffset, times.byteLength) : null;
  const table = DedupTable.empty(keepsTimes, count);
  for (let index = 0; index < count; index++) {
    const eventMs = timeView ? timeView.getFloat64(index * TIME_BYTES) : maxEventMs;
    if (keepsTimes && !Number.isFinite(eventMs)) {
      throw new SfDecodeError(`sf state: dedup.times[${index}] is not a finite time`);
    }
    const hi = keyView.getUint32(index * KEY_BYTES);
    const lo = keyView.getUint32(index * KEY_BYTES + 4);
    if (!table.add(hi, lo, eventMs)) throw new SfDecodeError(`sf state: dedup key ${index} is listed twice`);
  }
  return table;
}

function checkVersion(json: Json, expected: number, what: string): JsonObject {
  if (!isJsonObject(json)) throw new SfDecodeError(`sf ${what}: expected a JSON object`);
  if (json.version !== expected) {
    throw new SfDecodeError(
      `sf ${what}: unsupported encoding version ${JSON.stringify(json.version)} (expected ${expected})`,
    );
  }
  return json;
}

export function decodeState(json: Json, keepsTimes: boolean): SfState {
  const object = checkVersion(json, STATE_ENCODING_VERSION, 'state');
  const eventTime = objectField(object, 'eventTime', 'state');
  const minMs = timeOrNull(eventTime, 'minMs', 'state eventTime');
  const maxMs = timeOrNull(eventTime, 'maxMs', 'state eventTime');
  const lastMs = timeOrNull(eventTime, 'lastMs', 'state eventTime');
  if ((minMs === null) !== (maxMs === null) || (minMs !== null && maxMs !== null && minMs > maxMs)) {
    throw new SfDecodeError('sf state: eventTime.minMs and maxMs must both be null or min ≤ max');
  }
  const maxEventMs = maxMs ?? Number.NEGATIVE_INFINITY;
  return {
    counters: decodeCounters(object, 'state'),
    rejectedByReason: decodeReasons(object, 'state'),
    crimeTypes: decodeCountPairs(object.crimeTypes, 'state crimeTypes'),
    dispositions: decodeCountPairs(object.dispositions, 'state dispositions'),
    dedup: decodeDedup(object.dedup, keepsTimes, maxEventMs),
    openWindows: decodeWindows(object.openWindows, 'state openWindows'),
    closedWindows: decodeWindows(object.closedWindows, 'state closedWindows'),
    minEventMs: minMs ?? Number.POSITIVE_INFINITY,
    maxEventMs,
    lastEventMs: lastMs ?? Number.NaN,
  };
}

function decodeEventTimeRange(value: Json | undefined): EventTimeRange | null {
  if (value === null) return null;
  if (!isJsonObject(value)) throw new SfDecodeError(`sf batch: 'eventTime' must be an object or null`);
  const minMs = timeOrNull(value, 'minMs', 'batch eventTime');
  const maxMs = timeOrNull(value, 'maxMs', 'batch eventTime');
  const watermarkMs = timeOrNull(value, 'watermarkMs', 'batch eventTime');
  if (minMs === null || maxMs === null || watermarkMs === null || minMs > maxMs) {
    throw new SfDecodeError('sf batch: eventTime needs numbers minMs ≤ maxMs and watermarkMs');
  }
  return { minMs, maxMs, watermarkMs };
}

export function decodeBatch(json: Json): SfBatch {
  const object = checkVersion(json, BATCH_ENCODING_VERSION, 'batch');
  return {
    counters: decodeCounters(object, 'batch'),
    rejectedByReason: decodeReasons(object, 'batch'),
    crimeTypes: decodeCountPairs(object.crimeTypes, 'batch crimeTypes'),
    dispositions: decodeCountPairs(object.dispositions, 'batch dispositions'),
    windows: decodeWindows(object.windows, 'batch windows'),
    eventTime: decodeEventTimeRange(object.eventTime),
  };
}

export function stateCodecFor(keepsTimes: boolean): JsonCodec<SfState> {
  return { encode: encodeState, decode: (json) => decodeState(json, keepsTimes) };
}

export const batchCodec: JsonCodec<SfBatch> = { encode: encodeBatch, decode: decodeBatch };
