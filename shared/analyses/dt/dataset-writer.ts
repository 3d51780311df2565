/**
 * Writes generated rows as object bytes: the DAQ's CSV layout (header line, `%f`-style TDC_MEAS with
 * six decimals) or packed 64-bit words. Digits are written straight into a preallocated chunk, since
 * `toFixed`/template strings per row would dominate the generator's time.
 */
import { WORD_BYTES, writeWord } from './binary-word.ts';
import { HEADER_LINE } from './detector.ts';

/** TDC_MEAS is carried in millionths so `%f` (6 decimals) is printed exactly from an integer. */
export const TDC_MICRO_UNITS = 1_000_000;

export interface DatasetWriter {
  /** Appends one row; every `chunkRows` rows a chunk is completed and queued. */
  write(head: number, fpga: number, channel: number, orbit: number, bx: number, tdcMicro: number): void;
  /** Removes and returns the completed chunks (fresh arrays; the writer keeps no reference). */
  takeCompletedChunks(): Uint8Array[];
  /** Completes the last, partial chunk (undefined if it would be empty). */
  finish(): Uint8Array | undefined;
}

const COMMA = 0x2c;
const LF = 0x0a;
const MINUS = 0x2d;
const POINT = 0x2e;
const DIGIT_0 = 0x30;
/** Longest row: `7,7,511,4294967295,4095,-99999.999999` plus a newline, with headroom. */
const MAX_TEXT_ROW_BYTES = 64;
const HEADER_BYTES = new TextEncoder().encode(`${HEADER_LINE}\n`);
const FRACTION_DIGITS = 6;

/** Writes the decimal digits of a non-negative integer (exact for any value below 2^53). */
function writeUnsigned(bytes: Uint8Array, position: number, value: number): number {
  let digitCount = 1;
  for (let power = 10; power <= value; power *= 10) digitCount++;
  let remaining = value;
  for (let index = position + digitCount - 1; index >= position; index--) {
    const quotient = Math.floor(remaining / 10);
    bytes[index] = DIGIT_0 + (remaining - quotient * 10);
    remaining = quotient;
  }
  return position + digitCount;
}

export class CsvDatasetWriter implements DatasetWriter {
  private bytes: Uint8Array;
  private position = 0;
  private rows = 0;
  private completed: Uint8Array[] = [];

  constructor(private readonly chunkRows: number) {
    this.bytes = this.freshChunk();
    this.bytes.set(HEADER_BYTES);
    this.position = HEADER_BYTES.length;
  }

  write(head: number, fpga: number, channel: number, orbit: number, bx: number, tdcMicro: number): void {
    if (this.position + MAX_TEXT_ROW_BYTES > this.bytes.length) this.growChunk();
    const bytes = this.bytes;
    let position = writeUnsigned(bytes, this.position, head);
    bytes[position++] = COMMA;
    position = writeUnsigned(bytes, position, fpga);
    bytes[position++] = COMMA;
    position = writeUnsigned(bytes, position, channel);
    bytes[position++] = COMMA;
    position = writeUnsigned(bytes, position, orbit);
    bytes[position++] = COMMA;
    position = writeUnsigned(bytes, position, bx);
    bytes[position++] = COMMA;
    // %f: sign, integer part, '.', exactly six fraction digits.
    let magnitude = tdcMicro;
    if (magnitude < 0) {
      bytes[position++] = MINUS;
      magnitude = -magnitude;
    }
    const integerPart = Math.floor(magnitude / TDC_MICRO_UNITS);
    let fraction = magnitude - integerPart * TDC_MICRO_UNITS;
    position = writeUnsigned(bytes, position, integerPart);
    bytes[position++] = POINT;
    for (let index = position + FRACTION_DIGITS - 1; index >= position; index--) {
      const quotient = Math.floor(fraction / 10);
      bytes[index] = DIGIT_0 + (fraction - quotient * 10);
      fraction = quotient;
    }
    position += FRACTION_DIGITS;
    bytes[position++] = LF;
    this.position = position;
    this.rows++;
    if (this.rows === this.chunkRows) this.completed.push(this.cut());
  }

  takeCompletedChunks(): Uint8Array[] {
    const completed = this.completed;
    this.completed = [];
    return completed;
  }

  /** The header alone still makes a (header-only) object when no row was asked for. */
  finish(): Uint8Array | undefined {
    return this.position > 0 ? this.cut() : undefined;
  }

  private cut(): Uint8Array {
    const chunk = this.bytes.slice(0, this.position);
    this.position = 0;
    this.rows = 0;
    return chunk;
  }

  private freshChunk(): Uint8Array {
    return new Uint8Array(this.chunkRows * 40 + HEADER_BYTES.length + MAX_TEXT_ROW_BYTES);
  }

  private growChunk(): void {
    const grown = new Uint8Array(this.bytes.length * 2);
    grown.set(this.bytes.subarray(0, this.position));
    this.bytes = grown;
  }
}

export class BinaryDatasetWriter implements DatasetWriter {
  private readonly bytes: Uint8Array;
  private rows = 0;
  private completed: Uint8Array[] = [];

  constructor(private readonly chunkRows: number) {
    this.bytes = new Uint8Array(chunkRows * WORD_BYTES);
  }

  write(head: number, fpga: number, channel: number, orbit: number, bx: number, tdcMicro: number): void {
    const tdc = Math.floor(tdcMicro / TDC_MICRO_UNITS);
    writeWord(this.bytes, this.rows * WORD_BYTES, { head, fpga, channel, orbit, bx, tdc });
    this.rows++;
    if (this.rows === this.chunkRows) this.completed.push(this.cut());
  }

  takeCompletedChunks(): Uint8Array[] {
    const completed = this.completed;
    this.completed = [];
    return completed;
  }

  finish(): Uint8Array | undefined {
    return this.rows > 0 ? this.cut() : undefined;
  }

  private cut(): Uint8Array {
    const chunk = this.bytes.slice(0, this.rows * WORD_BYTES);
    this.rows = 0;
    return chunk;
  }
}
