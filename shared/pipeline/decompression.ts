/**
 * Streaming gunzip for dataset objects, shared by replay and offline analysis. Built on
 * `stream.pipeline`, which forwards an error from either side (a source that fails mid-stream, or
 * zlib) to the reader and tears both down when the reader stops early; `.pipe()` forwards neither,
 * so a failing source would raise an unhandled 'error' event and end the process.
 */
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ObjectFormatError } from '../core/analysis.ts';

/** zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR, unexpected end) mean the bytes are not valid gzip. */
function isZlibError(error: unknown): error is Error {
  return error instanceof Error && 'code' in error && String(error.code).startsWith('Z_');
}

/**
 * The decompressed bytes of `compressed`. Corrupt or truncated gzip becomes an ObjectFormatError
 * naming `what`; an error of the source itself is rethrown as it is (it is not the file's fault).
 */
export async function* gunzipChunks(
  compressed: AsyncIterable<Uint8Array>,
  what: string,
): AsyncGenerator<Uint8Array> {
  // The callback has nothing to add: the error also reaches the iteration below.
  const decompressed = pipeline(Readable.from(compressed), createGunzip(), () => {});
  try {
    for await (const chunk of decompressed as AsyncIterable<Uint8Array>) yield chunk;
  } catch (error) {
    if (isZlibError(error)) {
      throw new ObjectFormatError(`${what} is not a valid gzip stream: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/** Passes the chunks through, reporting each one's size first (replay's "bytes read" progress). */
export async function* countingBytes(
  chunks: AsyncIterable<Uint8Array>,
  onBytes: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    onBytes(chunk.length);
    yield chunk;
  }
}
