/**
 * What replay needs from `dt`: framing, the partition key (ORBIT_CNT, so one orbit's hits stay in one
 * partition and in order) and packing several rows into one record value.
 */
import type { ReplayCodec, WireFormat } from '../../core/analysis.ts';
import { highHalf, lowHalf, orbitOf, WORD_BYTES } from './binary-word.ts';
import { framerFor } from './framer.ts';
import { orbitOfTextRow } from './row-parser.ts';

const LF = 0x0a;

/** ORBIT_CNT as a decimal string, or undefined when the row does not hold a readable one. */
export function partitionKey(row: Uint8Array, wireFormat: WireFormat): string | undefined {
  if (wireFormat === 'binary') {
    if (row.length !== WORD_BYTES) return undefined;
    return String(orbitOf(lowHalf(row, 0), highHalf(row, 0)));
  }
  const orbit = orbitOfTextRow(row);
  return Number.isNaN(orbit) ? undefined : String(orbit);
}

/**
 * Text rows joined by LF (no trailing newline), binary words concatenated. Always a new array, so the
 * record never aliases the framer's chunk memory; `pack([row])` equals `row` byte for byte.
 */
export function pack(rows: readonly Uint8Array[], wireFormat: WireFormat): Uint8Array {
  const separatorBytes = wireFormat === 'text' ? 1 : 0;
  let length = 0;
  for (const row of rows) length += row.length;
  if (rows.length > 0) length += separatorBytes * (rows.length - 1);
  const packed = new Uint8Array(length);
  let position = 0;
  rows.forEach((row, index) => {
    if (index > 0 && separatorBytes > 0) packed[position++] = LF;
    packed.set(row, position);
    position += row.length;
  });
  return packed;
}

export const dtReplay: ReplayCodec = { framerFor, partitionKey, pack };
