import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope } from '../../../shared/core/record-envelope.ts';
import {
  KINESIS_LIMITS,
  type KinesisEntry,
  kinesisEntryOf,
  putAllWithRetries,
  requestsWithinLimits,
} from '../../../shared/pipeline/kinesis-batches.ts';
import { decodeKinesisEvent } from '../../../shared/pipeline/kinesis-event.ts';
import { RetryableError } from '../../../shared/pipeline/ports.ts';
import kinesisEvent from '../../fixtures/events/kinesis-data-raw.json' with { type: 'json' };

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

describe('record envelope', () => {
  it('carries headers and a binary value through Kinesis data unchanged', () => {
    const value = new Uint8Array([0, 255, 68, 76, 69, 49, 7]);
    const decoded = decodeEnvelope(encodeEnvelope({ 'driftline-seq': '12', 'driftline-run': 'dt/x' }, value));
    expect(Object.fromEntries(decoded.headers)).toEqual({ 'driftline-seq': '12', 'driftline-run': 'dt/x' });
    expect([...decoded.value]).toEqual([...value]);
  });

  it('leaves a message without headers as its bare value, and reads foreign data as value only', () => {
    expect(text(encodeEnvelope(undefined, '{"batch":1}'))).toBe('{"batch":1}');
    const foreign = new TextEncoder().encode('DLE1 is how this line starts, but it is no envelope');
    expect(decodeEnvelope(foreign)).toEqual({ headers: new Map(), value: foreign });
  });
});

function entry(bytes: number, key = 'k'): KinesisEntry {
  return { partitionKey: key, data: new Uint8Array(bytes) };
}

describe('PutRecords requests', () => {
  it('sends a message with a partition to that shard, others by their key', () => {
    const shards = ['0', '1000', '2000'];
    expect(kinesisEntryOf({ key: 'orbit-9', partition: 1, value: 'row' }, shards)).toMatchObject({
      partitionKey: 'orbit-9',
      explicitHashKey: '1000',
    });
    expect(kinesisEntryOf({ key: 'k', partition: 4, value: 'row' }, shards).explicitHashKey).toBe('1000');
    expect(kinesisEntryOf({ key: 'batch-1', value: '{}' }, shards)).toEqual({
      partitionKey: 'batch-1',
      data: new TextEncoder().encode('{}'),
    });
    expect(kinesisEntryOf({ key: undefined, value: '{}' }, shards).partitionKey).toBe('-');
  });

  it('cuts requests at 500 records and at 5 MiB, keeping the order', () => {
    const many = Array.from({ length: 1201 }, (_, index) => entry(1, `k${index}`));
    const byCount = requestsWithinLimits(many);
    expect(byCount.map((request) => request.length)).toEqual([500, 500, 201]);
    expect(byCount.flat()).toEqual(many);
    const big = Array.from({ length: 6 }, () => entry(KINESIS_LIMITS.bytesPerRecord - 1));
    const bySize = requestsWithinLimits(big);
    expect(bySize.map((request) => request.length)).toEqual([5, 1]);
  });

  it('refuses a record over 1 MiB instead of letting Kinesis fail the whole request', () => {
    const value = new Uint8Array(KINESIS_LIMITS.bytesPerRecord + 1);
    expect(() => kinesisEntryOf({ key: 'k', value }, [])).toThrow(/1 MiB/);
  });

  it('re-sends only the entries a request reported as failed, so nothing stored is written twice', async () => {
    const stored: string[] = [];
    let calls = 0;
    const sleeps: number[] = [];
    const entries = ['a', 'b', 'c', 'd'].map((key) => entry(1, key));
    await putAllWithRetries(
      entries,
      async (batch) => {
        calls++;
        return batch.map((sent) => {
          // First attempt: b and d are throttled; the retry stores them.
          if (calls === 1 && (sent.partitionKey === 'b' || sent.partitionKey === 'd'))
            return 'ProvisionedThroughputExceededException';
          stored.push(sent.partitionKey);
          return undefined;
        });
      },
      { maxAttempts: 3, initialDelayMs: 50, sleep: async (ms) => void sleeps.push(ms) },
    );
    expect(stored).toEqual(['a', 'c', 'b', 'd']);
    expect(sleeps).toEqual([50]);
  });

  it('gives up with a retryable error once the attempts are spent', async () => {
    const attempt = putAllWithRetries([entry(1)], async (batch) => batch.map(() => 'InternalFailure'), {
      maxAttempts: 3,
      initialDelayMs: 1,
      sleep: async () => {},
    });
    await expect(attempt).rejects.toBeInstanceOf(RetryableError);
    await expect(attempt).rejects.toThrow(/1 of 1 records still failed after 3 attempts \(InternalFailure\)/);
  });
});

describe('Kinesis event decoding', () => {
  it('makes one slice per shard, ordered by sequence numbers compared as BigInt', () => {
    const reversed = { Records: [...kinesisEvent.Records].reverse() };
    const [slice, ...others] = decodeKinesisEvent(reversed);
    expect(others).toEqual([]);
    expect(slice?.source).toBe('data_raw');
    expect(slice?.partition).toBe(0);
    expect(slice?.records.map((record) => record.position.slice(-4))).toEqual(['4242', '4243', '4250']);
    expect(slice?.records[0]?.timestampMs).toBe(1_700_000_000_200);
    expect(slice?.records[0]?.headers.get('driftline-seq')).toBe('7');
    expect(text(slice?.records[2]?.value ?? new Uint8Array())).toBe('0,1,0,3387315431,0,0');
  });

  it('refuses a record whose eventID names no shard', () => {
    const [first] = kinesisEvent.Records;
    const broken = { Records: [{ ...first, eventID: 'not-a-shard' }] };
    expect(() => decodeKinesisEvent(broken)).toThrow(/shardId/);
  });
});
