/** Tiny factories shared by the dt tests: records, framing a whole object, generated datasets. */

import { type DtTruth, generateDt } from '../../../shared/analyses/dt/generator.ts';
import { dtAnalysis } from '../../../shared/analyses/dt/index.ts';
import type { Json, RecordInput, WireFormat } from '../../../shared/core/analysis.ts';
import {
  decodeReferenceWord,
  parseReferenceTextRow,
  type ReferenceParse,
  type ReferenceResult,
} from './reference-model.ts';

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

/** Sizes 1..max (inclusive), drawn until they cover `total` items. */
export function randomSizes(random: () => number, total: number, max: number): number[] {
  const sizes: number[] = [];
  for (let covered = 0; covered < total; ) {
    const size = 1 + Math.floor(random() * max);
    sizes.push(size);
    covered += size;
  }
  return sizes;
}

/** Rows spread over `partitions` by their key (ORBIT_CNT) modulo the count, as replay keys them. */
export function partitionRows(
  rows: readonly Uint8Array[],
  wireFormat: WireFormat,
  partitions: number,
): Uint8Array[][] {
  const byPartition: Uint8Array[][] = Array.from({ length: partitions }, () => []);
  for (const row of rows) {
    const key = dtAnalysis.replay.partitionKey(row, wireFormat);
    byPartition[Number(key) % partitions]?.push(row);
  }
  return byPartition;
}

/** A row as the naive reference model reads it. */
export function referenceParse(row: Uint8Array, wireFormat: WireFormat): ReferenceParse {
  return wireFormat === 'binary'
    ? { ok: true, row: decodeReferenceWord(row) }
    : parseReferenceTextRow(text(row));
}

function numberField(object: { [key: string]: Json }, name: string): number {
  const value = object[name];
  if (typeof value !== 'number') throw new Error(`${name} is not a number`);
  return value;
}

/** A dt summary (batch or cumulative) in the reference model's shape, so a diff names the quantity. */
export function summaryAsReference(summaryJson: Json): ReferenceResult {
  const summary = asObject(summaryJson);
  const perChamber = (name: string) => [0, 1, 2, 3].map((chamber) => histogramOf(summary, chamber, name));
  const drift = perChamber('drift_time_ns');
  const rejected: Record<string, number> = {};
  for (const [reason, count] of Object.entries(asObject(summary.rejected_by_reason))) {
    if (typeof count === 'number') rejected[reason] = count;
  }
  return {
    rowsRead: numberField(summary, 'rows_read'),
    rejected,
    filtered: numberField(summary, 'rows_filtered'),
    auxiliary: numberField(summary, 'auxiliary_hits'),
    scintillator: numberField(summary, 'scintillator_hits'),
    orbitsWithHits: numberField(summary, 'orbits_with_hits'),
    orbitsWithScintillator: numberField(summary, 'orbits_with_scintillator'),
    hitCountChamber: asNumbers(summary.hit_count_chamber),
    occupancy: perChamber('occupancy').map((histogram) => histogram.counts),
    multiplicity: perChamber('multiplicity').map((histogram) => histogram.counts),
    gatedOccupancy: perChamber('gated_occupancy').map((histogram) => histogram.counts),
    drift: drift.map((histogram) => histogram.counts),
    driftUnderflow: drift.map((histogram) => histogram.underflow),
    driftOverflow: drift.map((histogram) => histogram.overflow),
  };
}

/** The quantities counted per row, in the batch that read the row (not per orbit). */
export function rowLevel(result: ReferenceResult) {
  const { rowsRead, rejected, filtered, auxiliary, scintillator, hitCountChamber, occupancy } = result;
  return { rowsRead, rejected, filtered, auxiliary, scintillator, hitCountChamber, occupancy };
}
