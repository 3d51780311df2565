/**
 * Replay-side framing: cuts a streamed object into rows, chunk by chunk.
 *
 * - `.csv` / `.txt` (optionally `.gz`, already decompressed by the caller): lines ended by LF or CRLF,
 *   the last one with or without a terminator; an optional header line (only the object's first
 *   non-empty line can be one) and empty lines are dropped. A chunk may end anywhere, even between CR and LF.
 * - `.bin`: packed 64-bit words, 8 bytes per row; a trailing partial word is a format error.
 *
 * Rows are returned without their terminator. Rows wholly inside one pushed chunk are views into that
 * chunk (no copy): the caller must not reuse a chunk's memory while its rows are in use. Only a row
 * that straddles chunks is copied, and the framer never keeps a reference to a pushed chunk.
 */
import { ObjectFormatError, type RowFramer, type WireFormat } from '../../core/analysis.ts';
import { WORD_BYTES } from './binary-word.ts';
import { HEADER_LINE } from './detector.ts';

const LF = 0x0a;
const CR = 0x0d;
const UTF8_BOM: readonly number[] = [0xef, 0xbb, 0xbf];
const HEADER_BYTES = new TextEncoder().encode(HEADER_LINE);

/**
 * Longest line accepted. Real rows are ~30 bytes; a "line" this long means the object is not a DT
 * text file (e.g. a binary file named `.csv`), and buffering it further would only exhaust memory.
 */
export const MAX_LINE_BYTES = 64 * 1024;

const TEXT_EXTENSIONS: readonly string[] = ['csv', 'txt'];
const BINARY_EXTENSIONS: readonly string[] = ['bin'];
export const SUPPORTED_EXTENSIONS: readonly string[] = [...TEXT_EXTENSIONS, ...BINARY_EXTENSIONS];

/** Picks the framing from the object key's extension (after stripping `.gz`). */
export function framerFor(objectKey: string): { framer: RowFramer; wireFormat: WireFormat } {
  const extension = extensionOf(objectKey);
  if (TEXT_EXTENSIONS.includes(extension)) return { framer: new TextLineFramer(), wireFormat: 'text' };
  if (BINARY_EXTENSIONS.includes(extension)) return { framer: new BinaryWordFramer(), wireFormat: 'binary' };
  const supported = SUPPORTED_EXTENSIONS.map((name) => `.${name}`).join(', ');
  throw new ObjectFormatError(
    `dt cannot read '${objectKey}': unsupported extension '${extension || '(none)'}'; supported: ${supported} (each optionally .gz)`,
  );
}

function extensionOf(objectKey: string): string {
  const fileName = (objectKey.split('/').pop() ?? '').toLowerCase();
  const withoutGzip = fileName.endsWith('.gz') ? fileName.slice(0, -'.gz'.length) : fileName;
  const dot = withoutGzip.lastIndexOf('.');
  return dot < 0 ? '' : withoutGzip.slice(dot + 1);
}

/** LF / CRLF lines, header and empty lines dropped. */
export class TextLineFramer implements RowFramer {
  /** The incomplete line carried from earlier chunks (`pendingLength` bytes used). */
  private pending = new Uint8Array(256);
  private pendingLength = 0;
  private linesSeen = 0;
  private sawContent = false;

  push(chunk: Uint8Array): Uint8Array[] {
    const rows: Uint8Array[] = [];
    let lineStart = 0;
    let newline = chunk.indexOf(LF);
    if (this.pendingLength > 0 && newline >= 0) {
      this.appendPending(chunk.subarray(0, newline));
      this.emit(this.pending.slice(0, this.pendingLength), rows);
      this.pendingLength = 0;
      lineStart = newline + 1;
      newline = chunk.indexOf(LF, lineStart);
    }
    while (newline >= 0) {
      this.emit(chunk.subarray(lineStart, newline), rows);
      lineStart = newline + 1;
      newline = chunk.indexOf(LF, lineStart);
    }
    if (lineStart < chunk.length) this.appendPending(chunk.subarray(lineStart));
    return rows;
  }

  end(): Uint8Array[] {
    const rows: Uint8Array[] = [];
    if (this.pendingLength > 0) {
      this.emit(this.pending.slice(0, this.pendingLength), rows);
      this.pendingLength = 0;
    }
    return rows;
  }

  private emit(rawLine: Uint8Array, rows: Uint8Array[]): void {
    let line = rawLine;
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (this.linesSeen === 0 && startsWith(line, UTF8_BOM)) line = line.subarray(UTF8_BOM.length);
    this.linesSeen++;
    if (line.length === 0) return;
    // Only the first non-empty line may be the header; a header-like line later is data (and will be
    // rejected with a reason by the aggregate side, not silently dropped here).
    const mayBeHeader = !this.sawContent;
    this.sawContent = true;
    if (mayBeHeader && isHeader(line)) return;
    rows.push(line);
  }

  private appendPending(bytes: Uint8Array): void {
    const needed = this.pendingLength + bytes.length;
    if (needed > MAX_LINE_BYTES) {
      throw new ObjectFormatError(
        `dt text object has a line longer than ${MAX_LINE_BYTES} bytes (line ${this.linesSeen + 1}); is it really CSV/TXT?`,
      );
    }
    if (needed > this.pending.length) {
      const grown = new Uint8Array(Math.max(needed, this.pending.length * 2));
      grown.set(this.pending.subarray(0, this.pendingLength));
      this.pending = grown;
    }
    this.pending.set(bytes, this.pendingLength);
    this.pendingLength = needed;
  }
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  if (bytes.length < prefix.length) return false;
  return prefix.every((byte, index) => bytes[index] === byte);
}

/** The header, tolerating letter case and spaces around names (some exports add them). */
function isHeader(line: Uint8Array): boolean {
  if (line.length < HEADER_BYTES.length || line.length > HEADER_BYTES.length + 64) return false;
  const text = new TextDecoder().decode(line).replace(/\s+/g, '').toUpperCase();
  return text === HEADER_LINE;
}

/** Packed 64-bit words, 8 bytes each. */
export class BinaryWordFramer implements RowFramer {
  private readonly partial = new Uint8Array(WORD_BYTES);
  private partialLength = 0;
  private bytesSeen = 0;

  push(chunk: Uint8Array): Uint8Array[] {
    const rows: Uint8Array[] = [];
    let position = 0;
    if (this.partialLength > 0) {
      const taken = Math.min(WORD_BYTES - this.partialLength, chunk.length);
      this.partial.set(chunk.subarray(0, taken), this.partialLength);
      this.partialLength += taken;
      position = taken;
      if (this.partialLength === WORD_BYTES) {
        rows.push(this.partial.slice());
        this.partialLength = 0;
      }
    }
    for (; position + WORD_BYTES <= chunk.length; position += WORD_BYTES) {
      rows.push(chunk.subarray(position, position + WORD_BYTES));
    }
    if (position < chunk.length) {
      this.partial.set(chunk.subarray(position), this.partialLength);
      this.partialLength += chunk.length - position;
    }
    this.bytesSeen += chunk.length;
    return rows;
  }

  end(): Uint8Array[] {
    if (this.partialLength > 0) {
      throw new ObjectFormatError(
        `dt binary object is ${this.bytesSeen} bytes, not a multiple of ${WORD_BYTES}: ` +
          `the last ${this.partialLength} byte(s) are a truncated word`,
      );
    }
    return [];
  }
}
