/**
 * Rows as one byte stream and back: each row preceded by its length (uint32, big-endian). How a
 * stream of rows already framed (the event-time sort's output) is handed to the replay run, which
 * reads bytes through a framer: the rows come out byte for byte as they went in, however the stream
 * is chunked.
 */
import { ObjectFormatError, type RowFramer } from '../../core/analysis.ts';

const LENGTH_BYTES = 4;

/** Bytes of `rowBytes` bytes of rows, `rows` of them, once length-prefixed. */
export function lengthPrefixedSize(rows: number, rowBytes: number): number {
  return rows * LENGTH_BYTES + rowBytes;
}

/** The rows, length-prefixed, in chunks of about `chunkBytes` (a longer row is a chunk of its own). */
export async function* lengthPrefixed(
  rows: AsyncIterable<Uint8Array>,
  chunkBytes = 64 * 1024,
): AsyncGenerator<Uint8Array> {
  let chunk = new Uint8Array(chunkBytes);
  let view = new DataView(chunk.buffer);
  let filled = 0;
  for await (const row of rows) {
    const needed = LENGTH_BYTES + row.length;
    if (filled + needed > chunk.length && filled > 0) {
      yield chunk.slice(0, filled);
      filled = 0;
    }
    if (needed > chunk.length) {
      chunk = new Uint8Array(needed);
      view = new DataView(chunk.buffer);
    }
    view.setUint32(filled, row.length);
    chunk.set(row, filled + LENGTH_BYTES);
    filled += needed;
  }
  if (filled > 0) yield chunk.slice(0, filled);
}

/** Frames a length-prefixed stream back into its rows (fresh copies). */
export class LengthPrefixedFramer implements RowFramer {
  /** Bytes of an unfinished row carried to the next chunk. */
  private pending = new Uint8Array(0);
  private pendingLength = 0;

  push(chunk: Uint8Array): Uint8Array[] {
    const carried = this.pendingLength > 0;
    if (carried) this.append(chunk);
    const bytes = carried ? this.pending.subarray(0, this.pendingLength) : chunk;
    const rows: Uint8Array[] = [];
    let position = 0;
    while (bytes.length - position >= LENGTH_BYTES) {
      const length = new DataView(bytes.buffer, bytes.byteOffset + position, LENGTH_BYTES).getUint32(0);
      if (bytes.length - position - LENGTH_BYTES < length) break;
      rows.push(bytes.slice(position + LENGTH_BYTES, position + LENGTH_BYTES + length));
      position += LENGTH_BYTES + length;
    }
    if (carried) {
      this.pending.copyWithin(0, position, this.pendingLength);
      this.pendingLength -= position;
    } else {
      this.append(chunk.subarray(position));
    }
    return rows;
  }

  end(): Uint8Array[] {
    if (this.pendingLength > 0) {
      throw new ObjectFormatError(`length-prefixed rows end inside a row (${this.pendingLength} bytes left)`);
    }
    return [];
  }

  private append(bytes: Uint8Array): void {
    const needed = this.pendingLength + bytes.length;
    if (needed > this.pending.length) {
      const grown = new Uint8Array(Math.max(needed, this.pending.length * 2, 1024));
      grown.set(this.pending.subarray(0, this.pendingLength));
      this.pending = grown;
    }
    this.pending.set(bytes, this.pendingLength);
    this.pendingLength = needed;
  }
}
