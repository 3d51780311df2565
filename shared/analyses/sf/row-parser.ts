/**
 * One `sf` row (the compact JSON text of one call) → the kept triple and its event time, or why not.
 *
 * Outcomes, in the order they are checked:
 * - `rejected`: not JSON, not an object, a kept field that is neither a string nor null, a field
 *   longer than its limit (`field-too-long`, limits.ts: this bounds every name the state and the
 *   summaries hold), or a `call_date_time` that is not a date-time (event-time.ts);
 * - `empty`: one of the three kept fields is null, missing or "" — dropped as the source job does;
 * - `call`: the triple, the event time and the 64-bit triple hash.
 */
import { parseEventTime } from './event-time.ts';
import { CALL_DATE_TIME, CRIME_TYPE, DISPOSITION } from './fields.ts';
import { jsonTextBytes, MAX_FIELD_BYTES } from './limits.ts';
import { SF_REJECTION_REASONS, type SfRejectionReason } from './rejection.ts';
import { hashTriple, type TripleHash } from './triple-hash.ts';

export interface Call {
  readonly callDateTime: string;
  readonly disposition: string;
  readonly crimeType: string;
  readonly eventMs: number;
  readonly hash: TripleHash;
}

export type ParsedRow =
  | { readonly kind: 'call'; readonly call: Call }
  | { readonly kind: 'empty' }
  | { readonly kind: 'rejected'; readonly reason: SfRejectionReason; readonly detail: string };

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A kept field: its string, '' for null/missing, or undefined when it has another type. */
function keptField(record: Record<string, unknown>, name: string): string | undefined {
  const value = Object.hasOwn(record, name) ? record[name] : undefined;
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : undefined;
}

function fieldTypeRejection(record: Record<string, unknown>, name: string): ParsedRow {
  return {
    kind: 'rejected',
    reason: SF_REJECTION_REASONS.fieldType,
    detail: `${name} must be a string or null, got ${describeType(record[name])}`,
  };
}

const FIELD_LIMITS: readonly (readonly [string, number])[] = Object.entries(MAX_FIELD_BYTES);

/**
 * The first known string field longer than its limit, as a rejection; undefined when none is. (A value
 * of n UTF-16 units is at most 6n bytes as JSON text: shorter ones need no measuring.)
 */
function fieldLengthRejection(record: Record<string, unknown>): ParsedRow | undefined {
  for (const [name, limit] of FIELD_LIMITS) {
    const value = Object.hasOwn(record, name) ? record[name] : undefined;
    if (typeof value !== 'string' || value.length * 6 <= limit) continue;
    const length = jsonTextBytes(value);
    if (length <= limit) continue;
    return {
      kind: 'rejected',
      reason: SF_REJECTION_REASONS.fieldTooLong,
      detail: `${name} is ${length} bytes long (UTF-8, as JSON text); the limit is ${limit}`,
    };
  }
  return undefined;
}

export function parseRow(text: string): ParsedRow {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      kind: 'rejected',
      reason: SF_REJECTION_REASONS.invalidJson,
      detail: `not valid JSON: ${message}`,
    };
  }
  if (!isRecord(parsed)) {
    return {
      kind: 'rejected',
      reason: SF_REJECTION_REASONS.notAnObject,
      detail: `expected a JSON object (one call), got ${describeType(parsed)}`,
    };
  }
  const callDateTime = keptField(parsed, CALL_DATE_TIME);
  if (callDateTime === undefined) return fieldTypeRejection(parsed, CALL_DATE_TIME);
  const disposition = keptField(parsed, DISPOSITION);
  if (disposition === undefined) return fieldTypeRejection(parsed, DISPOSITION);
  const crimeType = keptField(parsed, CRIME_TYPE);
  if (crimeType === undefined) return fieldTypeRejection(parsed, CRIME_TYPE);
  const tooLong = fieldLengthRejection(parsed);
  if (tooLong) return tooLong;
  if (callDateTime === '' || disposition === '' || crimeType === '') return { kind: 'empty' };
  const eventMs = parseEventTime(callDateTime);
  if (Number.isNaN(eventMs)) {
    return {
      kind: 'rejected',
      reason: SF_REJECTION_REASONS.badEventTime,
      detail: `${CALL_DATE_TIME} '${callDateTime.slice(0, 60)}' is not a date-time like 2018-12-31T23:57:00.000`,
    };
  }
  return {
    kind: 'call',
    call: {
      callDateTime,
      disposition,
      crimeType,
      eventMs,
      hash: hashTriple(callDateTime, disposition, crimeType),
    },
  };
}
