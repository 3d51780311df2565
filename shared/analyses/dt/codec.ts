/**
 * Storage encoding of DtTotals (state items and batch rollups): compact JSON, arrays of plain numbers.
 * Decoding validates every field (type, length, non-negative integer counts) and throws a clear Error
 * naming the first problem, so a corrupt or foreign item never turns into a wrong histogram.
 */
import type { Json, JsonCodec, JsonObject } from '../../core/analysis.ts';
import {
  type DtTotals,
  TOTALS_ARRAY_FIELDS,
  TOTALS_ARRAY_LENGTHS,
  TOTALS_SCALAR_FIELDS,
  type TotalsArrayField,
  type TotalsScalarField,
} from './totals.ts';

/** Bumped when the encoding changes; decode refuses other versions rather than guessing. */
export const TOTALS_ENCODING_VERSION = 1;

export function encodeTotals(totals: DtTotals): Json {
  const encoded: JsonObject = { version: TOTALS_ENCODING_VERSION };
  for (const field of TOTALS_SCALAR_FIELDS) encoded[field] = totals[field];
  encoded.rejectedByReason = { ...totals.rejectedByReason };
  for (const field of TOTALS_ARRAY_FIELDS) encoded[field] = Array.from(totals[field]);
  return encoded;
}

export class TotalsDecodeError extends Error {
  override readonly name = 'TotalsDecodeError';
}

function isJsonObject(json: Json | undefined): json is JsonObject {
  return typeof json === 'object' && json !== null && !Array.isArray(json);
}

function isCount(value: Json | undefined): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function decodeCount(object: JsonObject, field: TotalsScalarField): number {
  const value = object[field];
  if (!isCount(value)) {
    throw new TotalsDecodeError(
      `dt totals: '${field}' must be a non-negative integer, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function decodeCounts(object: JsonObject, field: TotalsArrayField): Float64Array {
  const value = object[field];
  const length = TOTALS_ARRAY_LENGTHS[field];
  if (!Array.isArray(value) || value.length !== length) {
    throw new TotalsDecodeError(`dt totals: '${field}' must be an array of ${length} counts`);
  }
  const counts = new Float64Array(length);
  value.forEach((item, index) => {
    if (!isCount(item)) {
      throw new TotalsDecodeError(
        `dt totals: '${field}[${index}]' must be a non-negative integer, got ${JSON.stringify(item)}`,
      );
    }
    counts[index] = item;
  });
  return counts;
}

function decodeReasons(object: JsonObject): Record<string, number> {
  const value = object.rejectedByReason;
  if (!isJsonObject(value)) throw new TotalsDecodeError(`dt totals: 'rejectedByReason' must be an object`);
  const reasons: Record<string, number> = {};
  for (const [reason, count] of Object.entries(value)) {
    if (!isCount(count)) {
      throw new TotalsDecodeError(`dt totals: 'rejectedByReason.${reason}' must be a non-negative integer`);
    }
    reasons[reason] = count;
  }
  return reasons;
}

export function decodeTotals(json: Json): DtTotals {
  if (!isJsonObject(json)) throw new TotalsDecodeError('dt totals: expected a JSON object');
  if (json.version !== TOTALS_ENCODING_VERSION) {
    throw new TotalsDecodeError(
      `dt totals: unsupported encoding version ${JSON.stringify(json.version)} (expected ${TOTALS_ENCODING_VERSION})`,
    );
  }
  return {
    rowsRead: decodeCount(json, 'rowsRead'),
    rowsFiltered: decodeCount(json, 'rowsFiltered'),
    rejectedByReason: decodeReasons(json),
    auxiliaryHits: decodeCount(json, 'auxiliaryHits'),
    scintillatorHits: decodeCount(json, 'scintillatorHits'),
    orbitsWithHits: decodeCount(json, 'orbitsWithHits'),
    orbitsWithScintillator: decodeCount(json, 'orbitsWithScintillator'),
    chamberHits: decodeCounts(json, 'chamberHits'),
    occupancy: decodeCounts(json, 'occupancy'),
    multiplicity: decodeCounts(json, 'multiplicity'),
    gatedOccupancy: decodeCounts(json, 'gatedOccupancy'),
    driftTime: decodeCounts(json, 'driftTime'),
    driftUnderflow: decodeCounts(json, 'driftUnderflow'),
    driftOverflow: decodeCounts(json, 'driftOverflow'),
  };
}

export const totalsCodec: JsonCodec<DtTotals> = { encode: encodeTotals, decode: decodeTotals };
