/**
 * Replay-side framing of `.ndjson` / `.jsonl` objects: one call per line, LF or CRLF, the last line
 * with or without a terminator, blank lines skipped, a UTF-8 BOM on the first line dropped. Lines are
 * passed on as they are (not parsed here: a line that is not a JSON object is rejected with a reason
 * on the aggregate side, not silently lost). Rows are always fresh copies, never views into a chunk.
 * A line longer than MAX_ROW_BYTES (64 KiB, limits.ts) refuses the object as soon as it passes the
 * limit: a runaway line (a 50 MB file without a newline) is never buffered.
 */
import { ObjectFormatError, type RowFramer } from '../../core/analysis.ts';
import { MAX_ROW_BYTES } from './limits.ts';

const LF = 0x0a;
const CR = 0x0d;
const UTF8_BOM: readonly number[] = [0xef, 0xbb, 0xbf];

function isBlank(line: Uint8Array): boolean {
  for (const byte of line) {
    if (byte !== 0x20 && byte !== 0x09 && byte !== CR) return false;
  }
  return true;
}

export class JsonLinesFramer implements RowFramer {
  private pending = new Uint8Array(1024);
  private pendingLength = 0;
  private lineNumber = 0;

  push(chunk: Uint8Array): Uint8Array[] {
    const rows: Uint8Array[] = [];
    let lineStart = 0;
    for (let newline = chunk.indexOf(LF); newline >= 0; newline = chunk.indexOf(LF, lineStart)) {
      this.append(chunk.subarray(lineStart, newline));
      this.emit(rows);
      lineStart = newline + 1;
    }
    if (lineStart < chunk.length) this.append(chunk.subarray(lineStart));
    return rows;
  }

  end(): Uint8Array[] {
    const rows: Uint8Array[] = [];
    if (this.pendingLength > 0) this.emit(rows);
    return rows;
  }

  private emit(rows: Uint8Array[]): void {
    let line = this.pending.subarray(0, this.pendingLength);
    this.pendingLength = 0;
    this.lineNumber++;
    if (this.lineNumber === 1 && UTF8_BOM.every((byte, index) => line[index] === byte)) {
      line = line.subarray(UTF8_BOM.length);
    }
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (isBlank(line)) return;
    rows.push(line.slice());
  }

  private append(bytes: Uint8Array): void {
    const needed = this.pendingLength + bytes.length;
    if (needed > MAX_ROW_BYTES) {
      throw new ObjectFormatError(
        `sf JSON-lines object has a line longer than ${MAX_ROW_BYTES} bytes (line ${this.lineNumber + 1}); ` +
          'is it really one call per line?',
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
