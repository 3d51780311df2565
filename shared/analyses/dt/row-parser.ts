/**
 * Parses one text row `HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS` straight from its bytes.
 *
 * This is the hot path of the aggregate side (millions of rows per second), so it builds no strings,
 * allocates nothing and returns a small integer code; the six values land in a caller-owned
 * Float64Array. Integers are accumulated digit by digit in float64 (exact below 2^53, so ORBIT_CNT
 * above 2^31 is fine). TDC_MEAS accepts the `%f` style of the DAQ (`2.000000`, `-0.573730`) and plain
 * integers (`26`): the digits form one integer mantissa divided once by a power of ten, which is the
 * correctly rounded double, the same value `Number('-0.573730')` gives.
 */
import { FIELD_COUNT } from './detector.ts';

/** Parse outcome. A failure also names the first offending field: `code = failure * 8 + field`. */
export const PARSE_OK = 0;
export const PARSE_FIELD_COUNT = 1;
export const PARSE_NOT_A_NUMBER = 2;
export const PARSE_NOT_AN_INTEGER = 3;

const FIELD_BITS = 8;

export function parseFailure(code: number): number {
  return Math.floor(code / FIELD_BITS);
}
export function parseFailedField(code: number): number {
  return code % FIELD_BITS;
}

const COMMA = 0x2c;
const MINUS = 0x2d;
const PLUS = 0x2b;
const POINT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** The last of the six fields may be fractional; the first five must be integers. */
const FRACTIONAL_FIELD = FIELD_COUNT - 1;

/** Exact powers of ten (every 10^k up to 10^22 is a double). */
const POWERS_OF_TEN: readonly number[] = Array.from({ length: 23 }, (_, exponent) => 10 ** exponent);

/**
 * Parses `bytes[start, end)` into `values[0..5]`. Returns PARSE_OK, or a failure code combined with the
 * index of the first bad field.
 *
 * Fast path for the DAQ's own layout (five unsigned integers, then an optionally negative decimal);
 * anything else — a sign on an integer field, junk, a wrong field count — is re-read by the general
 * parser, which accepts what the grammar allows and explains the rest.
 */
export function parseTextRow(bytes: Uint8Array, start: number, end: number, values: Float64Array): number {
  let position = start;
  for (let field = 0; field < FRACTIONAL_FIELD; field++) {
    const fieldStart = position;
    let value = 0;
    let digit = position < end ? (bytes[position] ?? 0) - DIGIT_0 : -1;
    while (digit >= 0 && digit <= 9) {
      value = value * 10 + digit;
      position++;
      digit = position < end ? (bytes[position] ?? 0) - DIGIT_0 : -1;
    }
    // Anything but digits followed by a comma: let the general parser decide.
    if (position === fieldStart || position >= end || bytes[position] !== COMMA) {
      return parseTextRowGeneral(bytes, start, end, values);
    }
    values[field] = value;
    position++;
  }
  const negative = position < end && bytes[position] === MINUS;
  if (negative) position++;
  let mantissa = 0;
  let digitCount = 0;
  let fractionDigits = 0;
  let digit = position < end ? (bytes[position] ?? 0) - DIGIT_0 : -1;
  while (digit >= 0 && digit <= 9) {
    mantissa = mantissa * 10 + digit;
    digitCount++;
    position++;
    digit = position < end ? (bytes[position] ?? 0) - DIGIT_0 : -1;
  }
  if (position < end && bytes[position] === POINT) {
    position++;
    digit = position < end ? (bytes[position] ?? 0) - DIGIT_0 : -1;
    while (digit >= 0 && digit <= 9) {
      mantissa = mantissa * 10 + digit;
      digitCount++;
      fractionDigits++;
      position++;
      digit = position < end ? (bytes[position] ?? 0) - DIGIT_0 : -1;
    }
  }
  if (position !== end || digitCount === 0 || fractionDigits >= POWERS_OF_TEN.length) {
    return parseTextRowGeneral(bytes, start, end, values);
  }
  const magnitude = fractionDigits === 0 ? mantissa : mantissa / (POWERS_OF_TEN[fractionDigits] ?? 1);
  values[FRACTIONAL_FIELD] = negative ? -magnitude : magnitude;
  return PARSE_OK;
}

/** `parseDaqLine`'s answer for a row that is not in the DAQ's own layout. */
export const NOT_A_DAQ_LINE = -1;

const LF = 0x0a;
const CR = 0x0d;

/**
 * The fast path of a row inside a record: parses a row in the DAQ's own layout (as `parseTextRow`'s
 * fast path, same values) starting at `start`, and finds the row's end while parsing, so the caller
 * needs no separate search for the line end (a native `indexOf` per row costs about as much as
 * parsing the row). Returns the index of the line end (the LF after the row, or `limit`), or
 * NOT_A_DAQ_LINE for anything else — an empty line, junk, a CR not before the line end — which the
 * caller then frames and parses the general way (the values are then unspecified).
 */
export function parseDaqLine(bytes: Uint8Array, start: number, limit: number, values: Float64Array): number {
  let position = start;
  for (let field = 0; field < FRACTIONAL_FIELD; field++) {
    const fieldStart = position;
    let value = 0;
    let digit = position < limit ? (bytes[position] ?? 0) - DIGIT_0 : -1;
    while (digit >= 0 && digit <= 9) {
      value = value * 10 + digit;
      position++;
      digit = position < limit ? (bytes[position] ?? 0) - DIGIT_0 : -1;
    }
    if (position === fieldStart || position >= limit || bytes[position] !== COMMA) return NOT_A_DAQ_LINE;
    values[field] = value;
    position++;
  }
  const negative = position < limit && bytes[position] === MINUS;
  if (negative) position++;
  let mantissa = 0;
  let digitCount = 0;
  let fractionDigits = 0;
  let digit = position < limit ? (bytes[position] ?? 0) - DIGIT_0 : -1;
  while (digit >= 0 && digit <= 9) {
    mantissa = mantissa * 10 + digit;
    digitCount++;
    position++;
    digit = position < limit ? (bytes[position] ?? 0) - DIGIT_0 : -1;
  }
  if (position < limit && bytes[position] === POINT) {
    position++;
    digit = position < limit ? (bytes[position] ?? 0) - DIGIT_0 : -1;
    while (digit >= 0 && digit <= 9) {
      mantissa = mantissa * 10 + digit;
      digitCount++;
      fractionDigits++;
      position++;
      digit = position < limit ? (bytes[position] ?? 0) - DIGIT_0 : -1;
    }
  }
  if (digitCount === 0 || fractionDigits >= POWERS_OF_TEN.length) return NOT_A_DAQ_LINE;
  const lineEnd = lineEndAt(bytes, position, limit);
  if (lineEnd === NOT_A_DAQ_LINE) return NOT_A_DAQ_LINE;
  const magnitude = fractionDigits === 0 ? mantissa : mantissa / (POWERS_OF_TEN[fractionDigits] ?? 1);
  values[FRACTIONAL_FIELD] = negative ? -magnitude : magnitude;
  return lineEnd;
}

/** Where the line ends if the row's content ends at `position`: there (LF or `limit`), or after a CR just before it. */
function lineEndAt(bytes: Uint8Array, position: number, limit: number): number {
  if (position === limit) return limit;
  const byte = bytes[position];
  if (byte === LF) return position;
  if (byte !== CR) return NOT_A_DAQ_LINE;
  // A CR ends the row only right before the LF, or as the record's last byte.
  if (position + 1 === limit) return limit;
  return bytes[position + 1] === LF ? position + 1 : NOT_A_DAQ_LINE;
}

/**
 * The complete grammar, with error reporting: each field is `[sign] digits ['.' digits]`. A wrong
 * number of fields takes precedence over a bad field, so a row with seven garbage fields reports
 * `field-count`.
 */
function parseTextRowGeneral(bytes: Uint8Array, start: number, end: number, values: Float64Array): number {
  let field = 0;
  let firstBadField = -1;
  let firstBadFailure = PARSE_OK;
  let position = start;
  for (;;) {
    // One field: [sign] digits [ '.' digits ], ending at a comma or at the end of the row.
    let negative = false;
    let mantissa = 0;
    let digitCount = 0;
    let fractionDigits = 0;
    let seenPoint = false;
    let malformed = false;
    let byte = position < end ? (bytes[position] ?? 0) : COMMA;
    if (byte === MINUS || byte === PLUS) {
      negative = byte === MINUS;
      position++;
    }
    while (position < end) {
      byte = bytes[position] ?? 0;
      if (byte >= DIGIT_0 && byte <= DIGIT_9) {
        mantissa = mantissa * 10 + (byte - DIGIT_0);
        digitCount++;
        if (seenPoint) fractionDigits++;
      } else if (byte === COMMA) {
        break;
      } else if (byte === POINT && !seenPoint) {
        seenPoint = true;
      } else {
        malformed = true;
      }
      position++;
    }
    if (field < FIELD_COUNT) {
      let failure = PARSE_OK;
      if (malformed || digitCount === 0) failure = PARSE_NOT_A_NUMBER;
      else if (seenPoint && field !== FRACTIONAL_FIELD) failure = PARSE_NOT_AN_INTEGER;
      if (failure !== PARSE_OK && firstBadField < 0) {
        firstBadField = field;
        firstBadFailure = failure;
      }
      let value = mantissa;
      if (fractionDigits > 0) value = mantissa / (POWERS_OF_TEN[fractionDigits] ?? 10 ** fractionDigits);
      values[field] = negative ? -value : value;
    }
    field++;
    if (position >= end) break;
    position++; // the comma
  }
  if (field !== FIELD_COUNT) return PARSE_FIELD_COUNT * FIELD_BITS;
  if (firstBadField >= 0) return firstBadFailure * FIELD_BITS + firstBadField;
  return PARSE_OK;
}

/** The 4th field (ORBIT_CNT) of a text row, or NaN if it is not a plain non-negative integer. */
export function orbitOfTextRow(bytes: Uint8Array): number {
  const orbitField = 3;
  let field = 0;
  let position = 0;
  while (field < orbitField && position < bytes.length) {
    if (bytes[position] === COMMA) field++;
    position++;
  }
  if (field < orbitField) return Number.NaN;
  let value = 0;
  let digitCount = 0;
  for (; position < bytes.length; position++) {
    const byte = bytes[position] ?? 0;
    if (byte === COMMA) break;
    if (byte < DIGIT_0 || byte > DIGIT_9) return Number.NaN;
    value = value * 10 + (byte - DIGIT_0);
    digitCount++;
  }
  return digitCount > 0 && value <= Number.MAX_SAFE_INTEGER ? value : Number.NaN;
}
