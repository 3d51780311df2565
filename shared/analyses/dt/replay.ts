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

/**
 * dt is never sorted for replay. Its event time is the orbit counter; a DAQ file holds it in
 * increasing order up to a short local reordering (dt.md: rows are NOT strictly sorted), which the
 * state absorbs: a partition keeps its last MAX_OPEN_ORBITS orbits open, and an orbit's figures do
 * not depend on the order of its hits. So a file sorted by ORBIT_CNT gives the same figures as the
 * file as it is (test/unit/pipeline/event-time-order.test.ts); late_hits counts any hit beyond that.
 */
export const DT_EVENT_TIME_REFUSAL =
  "metadata order=event-time does not apply to dt: dt's event time is the orbit counter (ORBIT_CNT), " +
  'which a DAQ file holds in increasing order up to a short local reordering that the dt state absorbs ' +
  '(each partition keeps its last 256 orbits open; a hit beyond them counts as late_hits), so sorting ' +
  'would change no figure; upload the file without order=event-time';

export const dtReplay: ReplayCodec = {
  framerFor,
  partitionKey,
  pack,
  eventTimeOrder: { refusal: DT_EVENT_TIME_REFUSAL },
};
