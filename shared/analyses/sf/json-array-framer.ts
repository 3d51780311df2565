/**
 * Replay-side framing of a `.json` object: one JSON array of records, streamed element by element.
 *
 * A byte-level scanner follows the array's structure — nesting depth (with a stack, so `[}` is an
 * error), strings and their escapes, so that brackets, commas and quotes inside strings are data — and
 * copies each top-level element's bytes without the whitespace outside its strings: a pretty-printed
 * record becomes a compact one-line row, and any chunking of the object gives byte-identical rows.
 * Values are copied byte for byte (no re-encoding), and the array itself is never held in memory: only
 * the element being read, at most MAX_ELEMENT_BYTES. (This equals JSON.parse + JSON.stringify per
 * element for DataSF's records, at twice the speed, see test/unit/sf/json-array-framer.test.ts.)
 *
 * Errors:
 * - broken structure (no `[`, a missing comma, unbalanced or mismatched brackets, a trailing comma,
 *   anything after the closing `]`, an unterminated array, a line break inside a string — usually an
 *   unterminated string) → ObjectFormatError naming the byte offset, line and column, and how many
 *   elements were read;
 * - an element whose structure is whole but whose content is not JSON (e.g. `{"a": tru}`) is passed on
 *   compacted, and the aggregate side rejects it as `invalid-json` with a reason: one bad record does
 *   not refuse the whole object.
 */
import { ObjectFormatError, type RowFramer } from '../../core/analysis.ts';
import { MAX_ROW_BYTES } from './limits.ts';

/**
 * A single record longer than this (compacted) means the object is not a list of calls: real ones are
 * under 500 B (limits.ts MAX_ROW_BYTES, 64 KiB). Only the compacted element is counted and held, so
 * whitespace between tokens costs nothing, and an element is refused as soon as it passes the limit.
 */
export const MAX_ELEMENT_BYTES = MAX_ROW_BYTES;
/** Deeper nesting than this inside one element is refused (a call is one flat object). */
export const MAX_DEPTH = 256;

const OPEN_BRACKET = 0x5b; // [
const CLOSE_BRACKET = 0x5d; // ]
const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACE = 0x7d; // }
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const UTF8_BOM: readonly number[] = [0xef, 0xbb, 0xbf];

/** Scanner states between bytes. */
const BEFORE_ARRAY = 0; // expecting `[` (after an optional BOM and whitespace)
const FIRST_ELEMENT = 1; // after `[`: an element or `]`
const NEXT_ELEMENT = 2; // after `,`: an element
const IN_COMPOSITE = 3; // inside an object/array element (depth ≥ 1)
const IN_SCALAR = 4; // inside a top-level number, literal or string
const AFTER_ELEMENT = 5; // `,` or `]`
const DONE = 6; // after the closing `]`: whitespace only

function isWhitespace(byte: number): boolean {
  return byte === SPACE || byte === LF || byte === CR || byte === TAB;
}

function isScalarStart(byte: number): boolean {
  // -, 0-9, t(rue), f(alse), n(ull)
  return byte === 0x2d || (byte >= 0x30 && byte <= 0x39) || byte === 0x74 || byte === 0x66 || byte === 0x6e;
}

function describeByte(byte: number): string {
  return byte >= 0x20 && byte < 0x7f
    ? `'${String.fromCharCode(byte)}'`
    : `byte 0x${byte.toString(16).padStart(2, '0')}`;
}

export class JsonArrayFramer implements RowFramer {
  private state = BEFORE_ARRAY;
  /** Closing bracket expected at each depth of the current element. */
  private readonly closers = new Uint8Array(MAX_DEPTH);
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The current element, compacted so far. */
  private element = new Uint8Array(4096);
  private elementLength = 0;
  /** Object offset of the current chunk's first byte; line bookkeeping for messages. */
  private chunkOffset = 0;
  private line = 1;
  private lineStart = 0;
  private elements = 0;
  private elementStart = 0;

  push(chunk: Uint8Array): Uint8Array[] {
    const rows: Uint8Array[] = [];
    const length = chunk.length;
    for (let index = 0; index < length; index++) {
      const byte = chunk[index] ?? 0;
      if (this.state === IN_COMPOSITE) {
        if (this.inString) {
          this.keep(byte);
          if (byte === LF || byte === CR) this.failLineBreak(index);
          if (this.escaped) this.escaped = false;
          else if (byte === BACKSLASH) this.escaped = true;
          else if (byte === QUOTE) this.inString = false;
          continue;
        }
        if (isWhitespace(byte)) {
          if (byte === LF) this.newLine(index);
          continue;
        }
        this.keep(byte);
        if (byte === QUOTE) {
          this.inString = true;
        } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
          if (this.depth >= MAX_DEPTH) this.fail(index, `element nested deeper than ${MAX_DEPTH} levels`);
          this.closers[this.depth++] = byte === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
        } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
          const expected = this.closers[this.depth - 1] ?? 0;
          if (byte !== expected) {
            this.fail(index, `unexpected ${describeByte(byte)}: expected ${describeByte(expected)}`);
          }
          this.depth--;
          if (this.depth === 0) {
            rows.push(this.completeElement());
            this.state = AFTER_ELEMENT;
          }
        }
        continue;
      }
      if (this.state === IN_SCALAR) {
        if (this.inString) {
          this.keep(byte);
          if (byte === LF || byte === CR) this.failLineBreak(index);
          if (this.escaped) this.escaped = false;
          else if (byte === BACKSLASH) this.escaped = true;
          else if (byte === QUOTE) {
            this.inString = false;
            rows.push(this.completeElement());
            this.state = AFTER_ELEMENT;
          }
          continue;
        }
        if (!(isWhitespace(byte) || byte === COMMA || byte === CLOSE_BRACKET)) {
          this.keep(byte);
          continue;
        }
        // The delimiter ends the scalar and belongs to the array: handled below.
        rows.push(this.completeElement());
        this.state = AFTER_ELEMENT;
      }
      if (isWhitespace(byte)) {
        if (byte === LF) this.newLine(index);
        continue;
      }
      this.structural(byte, index);
    }
    this.chunkOffset += length;
    return rows;
  }

  end(): Uint8Array[] {
    if (this.state === DONE) return [];
    const where = `at byte ${this.chunkOffset} (end of object, line ${this.line})`;
    if (this.state === BEFORE_ARRAY) {
      throw new ObjectFormatError(`sf JSON object holds no array: expected '[' ${where}`);
    }
    const inside =
      this.state === IN_COMPOSITE || this.state === IN_SCALAR
        ? `inside element ${this.elements + 1} (from byte ${this.elementStart})${this.inString ? ', in a string' : ''}`
        : `after ${this.elements} element(s)`;
    throw new ObjectFormatError(`sf JSON array is truncated: not closed by ']' ${where}, ${inside}`);
  }

  /** A non-whitespace byte between elements. */
  private structural(byte: number, index: number): void {
    switch (this.state) {
      case BEFORE_ARRAY: {
        const offset = this.chunkOffset + index;
        if (offset < UTF8_BOM.length && byte === UTF8_BOM[offset]) return;
        if (byte !== OPEN_BRACKET) {
          this.fail(
            index,
            `expected '[' (sf .json objects are a JSON array of calls; use .ndjson for one call per line), found ${describeByte(byte)}`,
          );
        }
        this.state = FIRST_ELEMENT;
        return;
      }
      case FIRST_ELEMENT:
      case NEXT_ELEMENT:
        if (byte === CLOSE_BRACKET) {
          if (this.state === NEXT_ELEMENT) this.fail(index, `trailing ',' before ']'`);
          this.state = DONE;
          return;
        }
        this.elementStart = this.chunkOffset + index;
        this.elementLength = 0;
        if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
          this.closers[0] = byte === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
          this.depth = 1;
          this.state = IN_COMPOSITE;
        } else if (byte === QUOTE) {
          this.inString = true;
          this.state = IN_SCALAR;
        } else if (isScalarStart(byte)) {
          this.state = IN_SCALAR;
        } else {
          this.fail(index, `unexpected ${describeByte(byte)}: expected an array element`);
        }
        this.keep(byte);
        return;
      case AFTER_ELEMENT:
        if (byte === COMMA) this.state = NEXT_ELEMENT;
        else if (byte === CLOSE_BRACKET) this.state = DONE;
        else
          this.fail(
            index,
            `unexpected ${describeByte(byte)}: expected ',' or ']' after element ${this.elements}`,
          );
        return;
      default:
        this.fail(index, `unexpected ${describeByte(byte)} after the closing ']' of the array`);
    }
  }

  private keep(byte: number): void {
    if (this.elementLength === this.element.length) this.grow();
    this.element[this.elementLength++] = byte;
  }

  private grow(): void {
    if (this.element.length >= MAX_ELEMENT_BYTES) {
      throw new ObjectFormatError(
        `sf JSON array element ${this.elements + 1} (from byte ${this.elementStart}) is longer than ` +
          `${MAX_ELEMENT_BYTES} bytes; is this really a list of calls?`,
      );
    }
    const grown = new Uint8Array(Math.min(MAX_ELEMENT_BYTES, this.element.length * 2));
    grown.set(this.element);
    this.element = grown;
  }

  private completeElement(): Uint8Array {
    this.elements++;
    const row = this.element.slice(0, this.elementLength);
    this.elementLength = 0;
    return row;
  }

  private newLine(index: number): void {
    this.line++;
    this.lineStart = this.chunkOffset + index + 1;
  }

  private failLineBreak(index: number): never {
    this.fail(index, `line break inside a string of element ${this.elements + 1} (an unterminated string?)`);
  }

  private fail(index: number, problem: string): never {
    const offset = this.chunkOffset + index;
    const column = offset - this.lineStart + 1;
    throw new ObjectFormatError(
      `sf JSON array is malformed at byte ${offset} (line ${this.line}, column ${column}): ${problem} ` +
        `(${this.elements} element(s) read before)`,
    );
  }
}
