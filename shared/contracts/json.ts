/**
 * JSON values inside the contracts: typed as JSON, checked at their top level only. Everything these
 * schemas read came out of `JSON.parse` or a store of JSON text, which can hold nothing else, and a
 * deep check of an analysis' histograms on every read would cost more than the read itself.
 */
import { z } from 'zod';

/** The same type as `Json` in core/analysis.ts (structurally), as zod names it. */
export type JsonValue = z.core.util.JSONType;

const JSON_TYPES = new Set(['string', 'number', 'boolean', 'object']);

export const jsonValue = z.custom<JsonValue>(
  (value) => JSON_TYPES.has(typeof value),
  'expected a JSON value',
);
