/**
 * Kafka's default partitioner for keyed records (murmur2 of the key bytes, positive, modulo the
 * partition count), bit-for-bit as the Java client computes it. Replay uses it to know which
 * partition a row will land in, so that rows packed into one record (rowsPerRecord > 1) all belong
 * to that partition and a key (dt: one orbit) still never spans two partitions.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** murmur2 as in org.apache.kafka.common.utils.Utils.murmur2 (signed 32-bit result). */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const blocks = length >>> 2;
  for (let i = 0; i < blocks; i++) {
    const offset = i * 4;
    let k =
      ((data[offset] ?? 0) & 0xff) |
      (((data[offset + 1] ?? 0) & 0xff) << 8) |
      (((data[offset + 2] ?? 0) & 0xff) << 16) |
      (((data[offset + 3] ?? 0) & 0xff) << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  // The 1–3 trailing bytes (Java's switch with fall-through, written out).
  const tail = blocks * 4;
  const remaining = length & 3;
  if (remaining === 3) h ^= ((data[tail + 2] ?? 0) & 0xff) << 16;
  if (remaining >= 2) h ^= ((data[tail + 1] ?? 0) & 0xff) << 8;
  if (remaining >= 1) {
    h ^= (data[tail] ?? 0) & 0xff;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

const encoder = new TextEncoder();

/** The partition Kafka's default partitioner assigns to a record with this key. */
export function partitionForKey(key: string, partitionCount: number): number {
  return (murmur2(encoder.encode(key)) & 0x7fffffff) % partitionCount;
}
