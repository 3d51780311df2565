/**
 * An in-memory Kinesis stream behind the publisher's own port (KinesisPort of
 * shared/pipeline/kinesis-batches.ts), with PutRecords' partial failures as AWS documents them: a
 * failed entry (`ProvisionedThroughputExceededException`) does not stop the later entries of the
 * same request, which are stored and get their sequence numbers. Each shard keeps its records in
 * storage order with 56-digit sequence numbers, as the trigger would deliver them.
 */
import { decodeEnvelope } from '../../shared/core/record-envelope.ts';
import type { SliceRecord } from '../../shared/pipeline/batch-slice.ts';
import type { KinesisEntry, KinesisPort, PutRecords } from '../../shared/pipeline/kinesis-batches.ts';
import { sentOrigin } from './sent-origin.ts';

export const THROTTLED = 'ProvisionedThroughputExceededException';

/** Which entries fail: called once per entry per attempt (attempt 1 = first time this data is sent). */
export type FailurePlan = (entry: {
  readonly shard: number;
  readonly data: Uint8Array;
  readonly attempt: number;
}) => boolean;

/** A shard's base sequence number: real Kinesis numbers are 56 digits, far beyond 2^53. */
const SEQUENCE_BASE = 49_654_512_345_678_901_234_567_890_123_456_789_012_345_678_901_234_567_000n;

export class FakeKinesisStream {
  readonly shards: SliceRecord[][];
  /** PutRecords calls in flight now, and the most there ever were at once. */
  private inFlight = 0;
  maxInFlight = 0;
  /** Entries answered as failed, in total. */
  failedEntries = 0;
  private readonly attempts = new Map<string, number>();
  private stored = 0;

  constructor(
    shardCount: number,
    private readonly fails: FailurePlan = () => false,
    private readonly now: () => number = Date.now,
  ) {
    this.shards = Array.from({ length: shardCount }, () => []);
  }

  /** The publisher's port onto this stream (one stream: the name is not checked). */
  port(): KinesisPort {
    return {
      shardStartKeys: async () => this.shards.map((_, index) => String(index)),
      putRecords: () => this.putRecords,
      retry: { maxAttempts: 6, initialDelayMs: 1, sleep: async () => {} },
    };
  }

  private readonly putRecords: PutRecords = async (entries) => {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setImmediate(resolve)); // let another call overlap, if any would
      return entries.map((entry) => this.putOne(entry));
    } finally {
      this.inFlight -= 1;
    }
  };

  private putOne(entry: KinesisEntry): string | undefined {
    const shard = Number(entry.explicitHashKey ?? '0') % this.shards.length;
    const id = `${shard}:${Buffer.from(entry.data).toString('base64')}`;
    const attempt = (this.attempts.get(id) ?? 0) + 1;
    this.attempts.set(id, attempt);
    if (this.fails({ shard, data: entry.data, attempt })) {
      this.failedEntries += 1;
      return THROTTLED;
    }
    const { headers, value } = decodeEnvelope(entry.data);
    this.stored += 1;
    this.shards[shard]?.push({
      position: String(SEQUENCE_BASE + BigInt(this.stored) * 1_000_003n),
      timestampMs: this.now(),
      value,
      headers,
    });
    return undefined;
  }
}

/** The replay sequence number (driftline-seq) of each record of a shard, in storage order. */
export function replaySequences(records: readonly SliceRecord[]): number[] {
  return records.map((record) => sentOrigin(Object.fromEntries(record.headers)).sequence);
}
