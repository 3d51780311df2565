/**
 * A record's position in its partition or shard, as a decimal string: a Kafka offset, or a Kinesis
 * sequence number (those exceed 2^53, so they are never turned into a JavaScript number).
 */

/** Orders two positions of one partition or shard: negative, zero or positive. */
export function comparePositions(a: string, b: string): number {
  const left = BigInt(a);
  const right = BigInt(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

/** A position in JSON: a number while it is exact (every Kafka offset), else its decimal string. */
export function positionJson(position: string): number | string {
  const value = Number(position);
  return Number.isSafeInteger(value) ? value : position;
}
