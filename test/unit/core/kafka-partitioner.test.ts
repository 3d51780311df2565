import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../../../shared/core/kafka-partitioner.ts';

const encoder = new TextEncoder();

/** org.apache.kafka.common.utils.UtilsTest#testMurmur2: input → Java's signed 32-bit hash. */
const KAFKA_VECTORS: readonly (readonly [string, number])[] = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
  ['', 275646681],
];

/** Kafka's Utils.toPositive(hash) % n, written out from the published hash. */
function expectedPartition(javaHash: number, partitions: number): number {
  const positive = javaHash < 0 ? javaHash + 2 ** 31 : javaHash;
  return positive % partitions;
}

describe('murmur2', () => {
  it.each(KAFKA_VECTORS)('murmur2(%j) is %i, as the Java client computes it', (input, hash) => {
    // Act
    const actual = murmur2(encoder.encode(input));

    // Assert
    expect(actual).toBe(hash);
  });

  it('reads its input only (a view into a larger buffer hashes like a copy)', () => {
    // Arrange
    const whole = encoder.encode('xxfoobaryy');

    // Act
    const actual = murmur2(whole.subarray(2, 8));

    // Assert
    expect(actual).toBe(-790332482);
    expect(new TextDecoder().decode(whole)).toBe('xxfoobaryy');
  });
});

describe('partitionForKey', () => {
  it.each(KAFKA_VECTORS)('key %j lands where Kafka puts it (toPositive(hash) % n)', (key, hash) => {
    for (const partitions of [1, 3, 10, 12, 50]) {
      expect(partitionForKey(key, partitions)).toBe(expectedPartition(hash, partitions));
    }
  });

  it('matches a worked example: "foobar" over 50 partitions is 16, over 10 is 6', () => {
    // -790332482 & 0x7fffffff = 1357151166
    expect(partitionForKey('foobar', 50)).toBe(16);
    expect(partitionForKey('foobar', 10)).toBe(6);
  });

  it('hashes the UTF-8 bytes of the key (non-ASCII keys)', () => {
    // Arrange: "é" is two bytes; a key hashed as UTF-16 code units would differ.
    const key = 'orbité-42';

    // Act
    const partition = partitionForKey(key, 1000);

    // Assert
    expect(partition).toBe(expectedPartition(murmur2(Buffer.from(key, 'utf8')), 1000));
    expect(Buffer.from(key, 'utf8').length).toBe(key.length + 1);
  });

  it('is always an integer in [0, n) and spreads orbit counters over every partition', () => {
    // Arrange
    const partitions = 10;
    const seen = new Array<number>(partitions).fill(0);

    // Act
    for (let orbit = 3_387_200_000; orbit < 3_387_202_000; orbit++) {
      const partition = partitionForKey(String(orbit), partitions);
      expect(Number.isInteger(partition)).toBe(true);
      expect(partition).toBeGreaterThanOrEqual(0);
      expect(partition).toBeLessThan(partitions);
      seen[partition] = (seen[partition] ?? 0) + 1;
    }

    // Assert: 2000 keys, ~200 each; a broken sign or modulo would leave partitions empty.
    for (const count of seen) expect(count).toBeGreaterThan(120);
  });

  it('is deterministic', () => {
    expect(partitionForKey('3387200947', 10)).toBe(partitionForKey('3387200947', 10));
  });
});
