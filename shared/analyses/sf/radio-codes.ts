/**
 * Disposition descriptions: the left join of disposition counts with the radio-code reference table,
 * kept out of the analysis state on purpose.
 *
 * The reference data lives in the bucket (`sf/radio_code.json`, 19 codes), may change independently
 * of any replay, and is tiny. So `sf` summaries carry disposition *codes* and counts (each with
 * `description: null`), and whoever can read the bucket — the API when it serves a summary, the
 * aggregate step before it publishes to `data_clean` — parses the table once per container with
 * `parseRadioCodes` and fills the descriptions with `describeDispositions`. Both are pure. A code not
 * in the table keeps `description: null` (left join: ~10 % of calls have codes like "Not recorded",
 * OTS, GEN that the table lacks), and the summary says how many rows that is.
 */
import type { Json, JsonObject } from '../../core/analysis.ts';
import { jsonTextBytes, MAX_DESCRIPTION_BYTES } from './limits.ts';
import { isRecord } from './row-parser.ts';

/** The reference table's file name; replay refuses it (it is not calls). */
export const RADIO_CODES_FILE_NAME = 'radio_code.json';
/** Where the pipeline reads it, in the dataset bucket. */
export const RADIO_CODES_OBJECT_KEY = `sf/${RADIO_CODES_FILE_NAME}`;

/** disposition_code → description. */
export type RadioCodes = ReadonlyMap<string, string>;

export class ReferenceDataError extends Error {
  override readonly name = 'ReferenceDataError';
}

const MAX_REFERENCE_BYTES = 1024 * 1024;

/**
 * Reads `radio_code.json`: a JSON array of `{ "disposition_code": "ADM", "description": "Admonished" }`.
 * Throws ReferenceDataError naming the first problem (a description longer than MAX_DESCRIPTION_BYTES is
 * one). A code listed twice with the same description is accepted; with two different descriptions it is
 * an error (which one would be right?).
 */
export function parseRadioCodes(content: Uint8Array | string): RadioCodes {
  const text = typeof content === 'string' ? content : new TextDecoder().decode(content);
  if (text.length > MAX_REFERENCE_BYTES) {
    throw new ReferenceDataError(`radio codes: more than ${MAX_REFERENCE_BYTES} bytes; not a code table`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new ReferenceDataError(
      `radio codes: not valid JSON (${error instanceof Error ? error.message : error})`,
    );
  }
  if (!Array.isArray(parsed)) throw new ReferenceDataError('radio codes: expected a JSON array of codes');
  const codes = new Map<string, string>();
  parsed.forEach((entry: unknown, index) => {
    if (!isRecord(entry)) throw new ReferenceDataError(`radio codes: entry ${index} is not an object`);
    const code = entry.disposition_code;
    const description = entry.description;
    if (typeof code !== 'string' || code === '') {
      throw new ReferenceDataError(`radio codes: entry ${index} has no string 'disposition_code'`);
    }
    if (typeof description !== 'string') {
      throw new ReferenceDataError(`radio codes: entry ${index} ('${code}') has no string 'description'`);
    }
    // Each described disposition carries its description in API answers (limits.ts bounds them).
    const length = jsonTextBytes(description);
    if (length > MAX_DESCRIPTION_BYTES) {
      throw new ReferenceDataError(
        `radio codes: entry ${index} ('${code.slice(0, 40)}') has a description of ${length} bytes; the limit is ${MAX_DESCRIPTION_BYTES}`,
      );
    }
    const known = codes.get(code);
    if (known !== undefined && known !== description) {
      throw new ReferenceDataError(
        `radio codes: '${code}' is listed twice with different descriptions ('${known}', '${description}')`,
      );
    }
    codes.set(code, description);
  });
  return codes;
}

/**
 * The summary with each `dispositions[i].description` filled from `codes` (null when the code is not in
 * the table) and `disposition_descriptions` telling how much was described. Works on any `sf` summary
 * body (batch, rollup, cumulative, or a stored `data_clean` message, whose body is at its top level);
 * a value without a `dispositions` array is returned unchanged. Idempotent.
 */
export function describeDispositions(summary: JsonObject, codes: RadioCodes): JsonObject {
  const dispositions = summary.dispositions;
  if (!Array.isArray(dispositions)) return summary;
  let described = 0;
  let undescribed = 0;
  const missing: string[] = [];
  const joined: Json[] = dispositions.map((entry) => {
    if (!isRecord(entry) || typeof entry.disposition !== 'string') return entry;
    const description = codes.get(entry.disposition) ?? null;
    const count = typeof entry.count === 'number' ? entry.count : 0;
    if (description === null) {
      undescribed += count;
      missing.push(entry.disposition);
    } else {
      described += count;
    }
    return { ...entry, description };
  });
  // Rows counted under no disposition name (beyond the cap, limits.ts) cannot be described.
  if (typeof summary.dispositions_other === 'number') undescribed += summary.dispositions_other;
  return {
    ...summary,
    dispositions: joined,
    disposition_descriptions: {
      source: RADIO_CODES_FILE_NAME,
      codes_in_table: codes.size,
      rows_described: described,
      rows_without_description: undescribed,
      codes_without_description: missing,
    },
  };
}
