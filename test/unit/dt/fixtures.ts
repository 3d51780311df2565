/** Tiny factories shared by the dt tests: records, framing a whole object, generated datasets. */

import { type DtTruth, generateDt } from '../../../shared/analyses/dt/generator.ts';
import { dtAnalysis } from '../../../shared/analyses/dt/index.ts';
import type { Json, RecordInput, WireFormat } from '../../../shared/core/analysis.ts';

const encoder = new TextEncoder();

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

export function text(value: Uint8Array): string {
  return new TextDecoder().decode(value);
}

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const joined = new Uint8Array(total);
  let position = 0;
  for (const chunk of chunks) {
    joined.set(chunk, position);
    position += chunk.length;
  }
  return joined;
}

export function record(
  value: Uint8Array,
  wireFormat: WireFormat,
  { partition = 0, offset = '0' }: { partition?: number; offset?: string } = {},
): RecordInput {
  return { value, wireFormat, partition, offset, timestampMs: 0 };
}

/** One text record per line, offsets 0, 1, 2 … */
export function textRecords(lines: readonly string[], partition = 0): RecordInput[] {
  return lines.map((line, index) => record(bytes(line), 'text', { partition, offset: String(index) }));
}

/** Packs rows `rowsPerRecord` at a time with the analysis' own `pack`, offsets 0, 1, 2 … */
export function packRecords(
  rows: readonly Uint8Array[],
  wireFormat: WireFormat,
  rowsPerRecord: number,
  partition = 0,
): RecordInput[] {
  const records: RecordInput[] = [];
  for (let start = 0; start < rows.length; start += rowsPerRecord) {
    const value = dtAnalysis.replay.pack(rows.slice(start, start + rowsPerRecord), wireFormat);
    records.push(record(value, wireFormat, { partition, offset: String(records.length) }));
  }
  return records;
}

/** Frames a whole object given as chunks. */
export function frameObject(
  objectKey: string,
  chunks: readonly Uint8Array[],
): { rows: Uint8Array[]; wireFormat: WireFormat } {
  const { framer, wireFormat } = dtAnalysis.replay.framerFor(objectKey);
  const rows: Uint8Array[] = [];
  for (const chunk of chunks) rows.push(...framer.push(chunk));
  rows.push(...framer.end());
  return { rows, wireFormat };
}

/** A generated dataset, already framed into rows. */
export function generatedRows(options: {
  rows: number;
  seed: number;
  format: 'csv' | 'bin';
  truth?: DtTruth;
  chunkRows?: number;
}): { rows: Uint8Array[]; wireFormat: WireFormat } {
  return frameObject(`dt/generated.${options.format}`, [...generateDt(options)]);
}

/** Splits `items` into consecutive slices of the given sizes (the last slice takes the rest). */
export function splitBySizes<T>(items: readonly T[], sizes: readonly number[]): T[][] {
  const slices: T[][] = [];
  let start = 0;
  for (const size of sizes) {
    if (start >= items.length) break;
    slices.push(items.slice(start, start + size));
    start += size;
  }
  if (start < items.length) slices.push(items.slice(start));
  return slices;
}

/** A seeded LCG for test-side randomness (independent of the generator's PRNG). */
export function testRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

/** A JSON object, checked at run time (summaries and encodings are `Json`). */
export function asObject(json: Json | undefined): { [key: string]: Json } {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error('expected a JSON object');
  return json;
}

function asNumbers(json: Json | undefined): number[] {
  if (!Array.isArray(json)) throw new Error('expected an array');
  return json.map((item) => {
    if (typeof item !== 'number') throw new Error('expected numbers');
    return item;
  });
}

export interface SummaryHistogram {
  edges: number[];
  counts: number[];
  underflow: number;
  overflow: number;
}

/** One histogram of one chamber from a summary (`occupancy`, `multiplicity`, `gated_occupancy`, `drift_time_ns`). */
export function histogramOf(summary: Json, chamber: number, name: string): SummaryHistogram {
  const chambers = asObject(summary).chambers;
  if (!Array.isArray(chambers)) throw new Error('summary has no chambers');
  const histogram = asObject(asObject(chambers[chamber])[name]);
  const underflow = histogram.underflow;
  const overflow = histogram.overflow;
  return {
    edges: asNumbers(histogram.bin_edges),
    counts: asNumbers(histogram.bin_counts),
    underflow: typeof underflow === 'number' ? underflow : 0,
    overflow: typeof overflow === 'number' ? overflow : 0,
  };
}

/** Encodes to JSON text and parses it back, as storage does. */
export function throughJsonText(json: Json): Json {
  const parsed: Json = JSON.parse(JSON.stringify(json));
  return parsed;
}
