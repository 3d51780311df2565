import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ObjectFormatError } from '../../../shared/core/analysis.ts';
import { countingBytes, gunzipChunks } from '../../../shared/pipeline/decompression.ts';

async function* chunksOf(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let start = 0; start < bytes.length; start += size) yield bytes.subarray(start, start + size);
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

describe('gunzipChunks', () => {
  const text = Buffer.from('HEAD,FPGA\n'.repeat(5_000));

  it('gives back the original bytes whatever the chunking', async () => {
    // Arrange
    const compressed = gzipSync(text);

    // Act
    const whole = await collect(gunzipChunks(chunksOf(compressed, compressed.length), 'x'));
    const small = await collect(gunzipChunks(chunksOf(compressed, 7), 'x'));

    // Assert
    expect(whole.equals(text)).toBe(true);
    expect(small.equals(text)).toBe(true);
  });

  it('a truncated stream is an ObjectFormatError naming the file', async () => {
    // Arrange
    const compressed = gzipSync(text);
    const truncated = compressed.subarray(0, Math.floor(compressed.length / 2));

    // Act
    const reading = collect(gunzipChunks(chunksOf(truncated, 100), "'a.csv.gz'"));

    // Assert
    await expect(reading).rejects.toBeInstanceOf(ObjectFormatError);
    await expect(reading).rejects.toThrow(/'a\.csv\.gz' is not a valid gzip stream/);
  });

  it('an error of the source itself is passed on as it is, not blamed on the file', async () => {
    // Arrange
    const compressed = gzipSync(text);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield compressed.subarray(0, 20);
      throw new Error('connection reset');
    }

    // Act
    const reading = collect(gunzipChunks(failing(), 'x'));

    // Assert
    await expect(reading).rejects.toThrow('connection reset');
    await expect(reading).rejects.not.toBeInstanceOf(ObjectFormatError);
  });
});

describe('countingBytes', () => {
  it('reports each chunk before passing it on', async () => {
    // Arrange
    const seen: number[] = [];

    // Act
    const out = await collect(
      countingBytes(chunksOf(Buffer.from('abcdefghij'), 4), (bytes) => seen.push(bytes)),
    );

    // Assert
    expect(seen).toEqual([4, 4, 2]);
    expect(out.toString()).toBe('abcdefghij');
  });
});
