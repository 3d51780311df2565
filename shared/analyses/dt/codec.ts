/**
 * Storage encoding of DtTotals (batch rollups) and DtState (partition state items): compact JSON,
 * arrays of plain numbers. Decoding validates every field (type, length, range, consistency) and
 * throws a clear Error naming the first problem, so a corrupt or foreign item never turns into a
 * wrong histogram.
 *
 * State: `{ version, closed: <totals>, open: { orbits, scintillatorTimes, late, hitCounts, hitSlots,
 * hitTimes, lastOpenedOrbit, closedThrough } }` — the open orbits as parallel arrays (open-orbits.ts):
 * `scintillatorTimes` is -1 for an orbit without a scintillator hit, `late` lists the indexes of
 * reopened orbits, `hitCounts` cuts `hitSlots`/`hitTimes` into orbits, and the two scalars are null
 * before the first orbit opened / closed.
 *
 * Older items: totals of version 1 (before `lateHits`) read with `lateHits` 0, and a version-1 state
 * (bare totals, no open orbits) reads as closed totals with nothing open. Other versions are refused.
 */
import { isJsonObject, type Json, type JsonCodec, type JsonObject } from '../../core/analysis.ts';
import { BX_PER_ORBIT, CHAMBER_COUNT, CHANNELS_PER_CHAMBER, TIME_UNITS_PER_BX } from './detector.ts';
import { emptyOpenOrbits, NO_SCINTILLATOR, type OpenOrbits } from './open-orbits.ts';
import type { DtState } from './state.ts';
import {
  type DtTotals,
  TOTALS_ARRAY_FIELDS,
  TOTALS_ARRAY_LENGTHS,
  TOTALS_SCALAR_FIELDS,
  type TotalsArrayField,
  type TotalsScalarField,
} from './totals.ts';

/** Bumped when the encoding changes; decode refuses unknown versions rather than guessing. */
export const TOTALS_ENCODING_VERSION = 2;
/** Version 1 was the bare totals; 2 added the open orbits. */
export const STATE_ENCODING_VERSION = 2;

/** Time units in one orbit: every hit and scintillator time lies in [0, this). */
const TIME_UNITS_PER_ORBIT = BX_PER_ORBIT * TIME_UNITS_PER_BX;
const SLOT_COUNT = CHAMBER_COUNT * CHANNELS_PER_CHAMBER;
const ENCODED_NO_SCINTILLATOR = -1;

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
  if (json.version !== TOTALS_ENCODING_VERSION && json.version !== 1) {
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
    // Version 1 had no late hits: nothing was ever late.
    lateHits: json.version === 1 ? 0 : decodeCount(json, 'lateHits'),
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

// --- state ---------------------------------------------------------------------------------------

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

export function encodeState(state: DtState): Json {
  const { open } = state;
  const late: number[] = [];
  open.late.forEach((flag, index) => {
    if (flag !== 0) late.push(index);
  });
  return {
    version: STATE_ENCODING_VERSION,
    closed: encodeTotals(state.closed),
    open: {
      orbits: Array.from(open.orbits),
      scintillatorTimes: Array.from(open.scintillatorTimes, (time) =>
        time === NO_SCINTILLATOR ? ENCODED_NO_SCINTILLATOR : time,
      ),
      late,
      hitCounts: Array.from(open.hitCounts),
      hitSlots: Array.from(open.hitSlots),
      hitTimes: Array.from(open.hitTimes),
      lastOpenedOrbit: finiteOrNull(open.lastOpenedOrbit),
      closedThrough: finiteOrNull(open.closedThrough),
    },
  };
}

function stateError(message: string): TotalsDecodeError {
  return new TotalsDecodeError(`dt state: ${message}`);
}

/** `object[field]` as an array of numbers each passing `valid` (described by `what`). */
function decodeNumbers(
  object: JsonObject,
  field: string,
  what: string,
  valid: (value: number) => boolean,
  length?: number,
): number[] {
  const value = object[field];
  if (!Array.isArray(value)) throw stateError(`'open.${field}' must be an array of ${what}`);
  if (length !== undefined && value.length !== length) {
    throw stateError(`'open.${field}' must have ${length} entries (one per open orbit), has ${value.length}`);
  }
  return value.map((item, index) => {
    if (typeof item !== 'number' || !valid(item)) {
      throw stateError(`'open.${field}[${index}]' must be ${what}, got ${JSON.stringify(item)}`);
    }
    return item;
  });
}

function decodeOrbitNumber(object: JsonObject, field: string): number | null {
  const value = object[field];
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw stateError(`'open.${field}' must be an integer or null, got ${JSON.stringify(value)}`);
  }
  return value;
}

const isTime = (value: number): boolean => value >= 0 && value < TIME_UNITS_PER_ORBIT;

function decodeOpen(json: Json | undefined): OpenOrbits {
  if (!isJsonObject(json)) throw stateError(`'open' must be an object`);
  const orbits = decodeNumbers(json, 'orbits', 'an integer orbit number', Number.isSafeInteger);
  orbits.forEach((orbit, index) => {
    if (index > 0 && orbit < (orbits[index - 1] ?? orbit)) {
      throw stateError(`'open.orbits' must be sorted ascending (index ${index})`);
    }
  });
  const count = orbits.length;
  const scintillatorTimes = decodeNumbers(
    json,
    'scintillatorTimes',
    `-1 or a time in [0, ${TIME_UNITS_PER_ORBIT})`,
    (value) => value === ENCODED_NO_SCINTILLATOR || isTime(value),
    count,
  );
  const lateIndexes = decodeNumbers(
    json,
    'late',
    `an index of an open orbit (0..${count - 1})`,
    (value) => Number.isSafeInteger(value) && value >= 0 && value < count,
  );
  const late = new Uint8Array(count);
  for (const index of lateIndexes) {
    if (late[index] !== 0) throw stateError(`'open.late' lists index ${index} twice`);
    late[index] = 1;
  }
  const hitCounts = decodeNumbers(json, 'hitCounts', 'a hit count', (value) => isCount(value), count);
  const hitTotal = hitCounts.reduce((sum, hits) => sum + hits, 0);
  const hitSlots = decodeNumbers(
    json,
    'hitSlots',
    `a channel slot (0..${SLOT_COUNT - 1})`,
    (value) => Number.isInteger(value) && value >= 0 && value < SLOT_COUNT,
  );
  const hitTimes = decodeNumbers(json, 'hitTimes', `a time in [0, ${TIME_UNITS_PER_ORBIT})`, isTime);
  if (hitSlots.length !== hitTotal || hitTimes.length !== hitTotal) {
    throw stateError(
      `'open.hitSlots' and 'open.hitTimes' must hold sum(hitCounts) = ${hitTotal} hits, ` +
        `hold ${hitSlots.length} and ${hitTimes.length}`,
    );
  }
  return {
    orbits: Float64Array.from(orbits),
    scintillatorTimes: Float64Array.from(scintillatorTimes, (time) =>
      time === ENCODED_NO_SCINTILLATOR ? NO_SCINTILLATOR : time,
    ),
    late,
    hitCounts: Uint32Array.from(hitCounts),
    hitSlots: Uint8Array.from(hitSlots),
    hitTimes: Float64Array.from(hitTimes),
    lastOpenedOrbit: decodeOrbitNumber(json, 'lastOpenedOrbit') ?? Number.NaN,
    closedThrough: decodeOrbitNumber(json, 'closedThrough') ?? Number.NEGATIVE_INFINITY,
  };
}

export function decodeState(json: Json): DtState {
  if (!isJsonObject(json)) throw stateError('expected a JSON object');
  // Version 1: the state was the bare totals.
  if (json.version === 1) return { closed: decodeTotals(json), open: emptyOpenOrbits() };
  if (json.version !== STATE_ENCODING_VERSION) {
    throw stateError(
      `unsupported encoding version ${JSON.stringify(json.version)} (expected ${STATE_ENCODING_VERSION})`,
    );
  }
  return { closed: decodeTotals(json.closed ?? null), open: decodeOpen(json.open) };
}

export const stateCodec: JsonCodec<DtState> = { encode: encodeState, decode: decodeState };
