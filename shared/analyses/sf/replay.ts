/**
 * What replay needs from `sf`: framing, the partition key and packing.
 *
 * Partition key: the 64-bit hash of the dedup triple (call_date_time, disposition,
 * original_crime_type_name) as 16 hex digits (triple-hash.ts). Every duplicate of a call carries the
 * same key, so it lands in the same partition as the call, and per-partition deduplication is exact
 * for the whole stream with no cross-partition state. Keys spread uniformly over partitions (no hot
 * partition: keying by crime type would send 16 % of rows to one, by time all rows of a minute), so
 * each partition sees the whole event-time range and its watermark tracks the global one closely.
 * A row whose triple cannot be read (not JSON, a field empty or not a string) gets no key: replay
 * spreads it by position and the aggregate side drops or rejects it.
 *
 * Event-time order (metadata `order=event-time`): rows sorted by call_date_time ascending, so that the
 * real file (newest first) fills its windows instead of arriving behind the watermark.
 */
import { ObjectFormatError, type ReplayCodec, type RowFramer, type WireFormat } from '../../core/analysis.ts';
import { parseEventTime } from './event-time.ts';
import { CALL_DATE_TIME, CRIME_TYPE, DISPOSITION } from './fields.ts';
import { JsonArrayFramer } from './json-array-framer.ts';
import { JsonLinesFramer } from './line-framer.ts';
import { RADIO_CODES_FILE_NAME } from './radio-codes.ts';
import { isRecord } from './row-parser.ts';
import { hashTriple, tripleKey } from './triple-hash.ts';

const LF = 0x0a;
const ARRAY_EXTENSIONS: readonly string[] = ['json'];
const LINES_EXTENSIONS: readonly string[] = ['ndjson', 'jsonl'];
export const SUPPORTED_EXTENSIONS: readonly string[] = [...ARRAY_EXTENSIONS, ...LINES_EXTENSIONS];

function fileNameOf(objectKey: string): string {
  const fileName = (objectKey.split('/').pop() ?? '').toLowerCase();
  return fileName.endsWith('.gz') ? fileName.slice(0, -'.gz'.length) : fileName;
}

export function framerFor(objectKey: string): { framer: RowFramer; wireFormat: WireFormat } {
  const fileName = fileNameOf(objectKey);
  if (fileName === RADIO_CODES_FILE_NAME) {
    throw new ObjectFormatError(
      `'${objectKey}' is the radio-code reference table, not calls: it is not replayed; ` +
        'the API reads it to describe dispositions',
    );
  }
  const dot = fileName.lastIndexOf('.');
  const extension = dot < 0 ? '' : fileName.slice(dot + 1);
  if (ARRAY_EXTENSIONS.includes(extension)) return { framer: new JsonArrayFramer(), wireFormat: 'text' };
  if (LINES_EXTENSIONS.includes(extension)) return { framer: new JsonLinesFramer(), wireFormat: 'text' };
  const supported = SUPPORTED_EXTENSIONS.map((name) => `.${name}`).join(', ');
  throw new ObjectFormatError(
    `sf cannot read '${objectKey}': unsupported extension '${extension || '(none)'}'; supported: ${supported} ` +
      '(each optionally .gz): a JSON array of calls, or one call per line',
  );
}

const decoder = new TextDecoder();

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/** The row as a JSON object, or undefined when it is not one (it is then rejected downstream). */
function parsedCall(row: Uint8Array, wireFormat: WireFormat): Record<string, unknown> | undefined {
  if (wireFormat !== 'text') return undefined;
  try {
    const parsed: unknown = JSON.parse(decoder.decode(row));
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** The hex triple hash, or undefined when the row has no readable triple. */
export function partitionKey(row: Uint8Array, wireFormat: WireFormat): string | undefined {
  const parsed = parsedCall(row, wireFormat);
  if (parsed === undefined) return undefined;
  const callDateTime = parsed[CALL_DATE_TIME];
  const disposition = parsed[DISPOSITION];
  const crimeType = parsed[CRIME_TYPE];
  if (!(nonEmptyString(callDateTime) && nonEmptyString(disposition) && nonEmptyString(crimeType))) {
    return undefined;
  }
  return tripleKey(hashTriple(callDateTime, disposition, crimeType));
}

/** Rows joined by LF (rows are one-line JSON), no trailing newline; `pack([row])` equals `row`. */
export function pack(rows: readonly Uint8Array[], _wireFormat: WireFormat): Uint8Array {
  let length = rows.length > 0 ? rows.length - 1 : 0;
  for (const row of rows) length += row.length;
  const packed = new Uint8Array(length);
  let position = 0;
  rows.forEach((row, index) => {
    if (index > 0) packed[position++] = LF;
    packed.set(row, position);
    position += row.length;
  });
  return packed;
}

/**
 * Event time for replay in event-time order (S3 metadata `order=event-time`): call_date_time read as
 * the analysis reads it (event-time.ts), or undefined when the row has none that parses (it is then
 * replayed first, and dropped or rejected downstream as in file order).
 */
export function eventTimeMs(row: Uint8Array, wireFormat: WireFormat): number | undefined {
  const callDateTime = parsedCall(row, wireFormat)?.[CALL_DATE_TIME];
  if (!nonEmptyString(callDateTime)) return undefined;
  const ms = parseEventTime(callDateTime);
  return Number.isNaN(ms) ? undefined : ms;
}

export const sfReplay: ReplayCodec = { framerFor, partitionKey, pack, eventTimeOrder: { eventTimeMs } };
