/**
 * The packed 64-bit little-endian word of `dt.md`:
 * bits 0–4 TDC, 5–16 BX, 17–48 ORBIT, 49–57 CHANNEL, 58–60 FPGA, 61–63 HEAD.
 *
 * JavaScript bitwise operators work on 32 bits, so a word is handled as two unsigned 32-bit halves.
 * ORBIT straddles them (15 low bits in the low half, 17 in the high half) and is recombined with a
 * multiplication, never a shift, so values above 2^31 stay exact positive numbers.
 */

export const WORD_BYTES = 8;

const TDC_MASK = 0x1f;
const BX_SHIFT = 5;
const BX_MASK = 0xfff;
const ORBIT_LOW_SHIFT = 17;
const ORBIT_LOW_BITS = 15;
const ORBIT_LOW_SCALE = 2 ** ORBIT_LOW_BITS;
const ORBIT_HIGH_MASK = 0x1ffff;
const CHANNEL_SHIFT = 17; // bit 49 of the word = bit 17 of the high half
const CHANNEL_MASK = 0x1ff;
const FPGA_SHIFT = 26;
const FPGA_MASK = 0x7;
const HEAD_SHIFT = 29;
const HEAD_MASK = 0x7;

/** Low 32 bits of the word starting at `offset` (caller guarantees 8 readable bytes). */
export function lowHalf(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] ?? 0) |
      ((bytes[offset + 1] ?? 0) << 8) |
      ((bytes[offset + 2] ?? 0) << 16) |
      ((bytes[offset + 3] ?? 0) << 24)) >>>
    0
  );
}

/** High 32 bits of the word starting at `offset`. */
export function highHalf(bytes: Uint8Array, offset: number): number {
  return lowHalf(bytes, offset + 4);
}

export function tdcOf(low: number): number {
  return low & TDC_MASK;
}
export function bxOf(low: number): number {
  return (low >>> BX_SHIFT) & BX_MASK;
}
export function orbitOf(low: number, high: number): number {
  return (high & ORBIT_HIGH_MASK) * ORBIT_LOW_SCALE + (low >>> ORBIT_LOW_SHIFT);
}
export function channelOf(high: number): number {
  return (high >>> CHANNEL_SHIFT) & CHANNEL_MASK;
}
export function fpgaOf(high: number): number {
  return (high >>> FPGA_SHIFT) & FPGA_MASK;
}
export function headOf(high: number): number {
  return (high >>> HEAD_SHIFT) & HEAD_MASK;
}

/** The fields of one word, as written by the generator (the reader uses the accessors above). */
export interface DtWordFields {
  readonly head: number;
  readonly fpga: number;
  readonly channel: number;
  readonly orbit: number;
  readonly bx: number;
  readonly tdc: number;
}

/**
 * Writes one word at `offset`. Each field is reduced to its bit width (ancillary words may carry
 * values a field cannot hold; the packed format simply keeps the low bits). `tdc` is floored first.
 */
export function writeWord(bytes: Uint8Array, offset: number, fields: DtWordFields): void {
  const orbit = Math.floor(fields.orbit);
  const orbitLow = orbit % ORBIT_LOW_SCALE;
  const orbitHigh = Math.floor(orbit / ORBIT_LOW_SCALE) & ORBIT_HIGH_MASK;
  const low =
    ((Math.floor(fields.tdc) & TDC_MASK) |
      ((fields.bx & BX_MASK) << BX_SHIFT) |
      (orbitLow << ORBIT_LOW_SHIFT)) >>>
    0;
  const high =
    (orbitHigh |
      ((fields.channel & CHANNEL_MASK) << CHANNEL_SHIFT) |
      ((fields.fpga & FPGA_MASK) << FPGA_SHIFT) |
      ((fields.head & HEAD_MASK) << HEAD_SHIFT)) >>>
    0;
  writeHalf(bytes, offset, low);
  writeHalf(bytes, offset + 4, high);
}

function writeHalf(bytes: Uint8Array, offset: number, half: number): void {
  bytes[offset] = half & 0xff;
  bytes[offset + 1] = (half >>> 8) & 0xff;
  bytes[offset + 2] = (half >>> 16) & 0xff;
  bytes[offset + 3] = (half >>> 24) & 0xff;
}

/** The word as 16 hex digits (most significant first), how a binary row is shown in a rejection. */
export function wordToHex(bytes: Uint8Array, offset = 0): string {
  return (
    highHalf(bytes, offset).toString(16).padStart(8, '0') +
    lowHalf(bytes, offset).toString(16).padStart(8, '0')
  );
}

/** Raw bytes as hex in stored order (for a truncated word that has no value). */
export function bytesToHex(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}
