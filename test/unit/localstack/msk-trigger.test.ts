import { describe, expect, it } from 'vitest';
import {
  MskRecordBuffer,
  type MskRecordText,
  type MskTriggerRecord,
  mskEventJson,
  mskRecordText,
  recordJsonBytes,
  toMskRecord,
} from '../../../localstack/msk-record.ts';
import { retryDelayMs } from '../../../localstack/retry-policy.ts';
import type { BatchLimits, TakenBatch } from '../../../localstack/trigger-buffer.ts';

type KafkaMessage = Parameters<typeof toMskRecord>[2];

/** A message as kafkajs decodes it from a record batch (magic 2, what current brokers send). */
function kafkaMessage(fields: {
  readonly offset: string;
  readonly key?: Buffer | null;
  readonly value?: Buffer | null;
  readonly timestamp?: string;
  readonly headers?: NonNullable<KafkaMessage['headers']>;
}): KafkaMessage {
  return {
    offset: fields.offset,
    key: fields.key === undefined ? Buffer.from('k') : fields.key,
    value: fields.value === undefined ? Buffer.from('v') : fields.value,
    timestamp: fields.timestamp ?? '1700000000000',
    attributes: 0,
    headers: fields.headers ?? {},
  };
}

function record(partition: number, offset: number, value = `p${partition}o${offset}`): MskRecordText {
  const shape: MskTriggerRecord = {
    topic: 't',
    partition,
    offset,
    timestamp: 1_700_000_000_000 + offset,
    timestampType: 'CREATE_TIME',
    value: Buffer.from(value).toString('base64'),
    headers: [],
  };
  return { offset, json: JSON.stringify(shape) };
}

function records(partition: number, fromOffset: number, count: number): MskRecordText[] {
  return Array.from({ length: count }, (_, index) => record(partition, fromOffset + index));
}

/** What a batch holds, as `partition: [offsets]`, easy to compare with a timeline. */
function offsetsOf(next: ReturnType<MskRecordBuffer['next']>): Record<number, number[]> | undefined {
  if (!('batch' in next)) return undefined;
  return Object.fromEntries(
    next.batch.partitions.map(({ partition, records }) => [partition, records.map((r) => r.offset)]),
  );
}

function batchOf(next: ReturnType<MskRecordBuffer['next']>): TakenBatch {
  if (!('batch' in next)) throw new Error(`expected a batch, got ${JSON.stringify(next)}`);
  return next.batch;
}

const limits: BatchLimits = { batchSize: 10, batchingWindowMs: 500, maxPayloadBytes: 6 * 1024 * 1024 };

describe('toMskRecord: a kafkajs message in the shape the MSK trigger delivers', () => {
  it('base64-encodes key and value, gives offsets and timestamps as numbers', () => {
    const message = kafkaMessage({
      offset: '41',
      key: Buffer.from([0xff, 0x00, 0x80]),
      value: Buffer.from('{"a":1}'),
      timestamp: '1700000000123',
    });
    expect(toMskRecord('data_raw', 3, message)).toEqual({
      topic: 'data_raw',
      partition: 3,
      offset: 41,
      timestamp: 1_700_000_000_123,
      timestampType: 'CREATE_TIME',
      key: '/wCA',
      value: Buffer.from('{"a":1}').toString('base64'),
      headers: [],
    });
  });

  it('leaves out a null key and a null value (tombstone), as AWS does; keeps an empty value', () => {
    const withoutKey = toMskRecord('t', 0, kafkaMessage({ offset: '0', key: null }));
    expect('key' in withoutKey).toBe(false);
    const tombstone = toMskRecord('t', 0, kafkaMessage({ offset: '1', value: null }));
    expect('value' in tombstone).toBe(false);
    expect(toMskRecord('t', 0, kafkaMessage({ offset: '2', value: Buffer.alloc(0) })).value).toBe('');
  });

  it('gives each header as { name: bytes }, a repeated name once per value, a null value as []', () => {
    const message = kafkaMessage({
      offset: '0',
      headers: {
        'trace-id': Buffer.from([1, 2, 255]),
        tag: [Buffer.from('a'), Buffer.from('b')],
        text: 'é',
        // kafkajs decodes a null header value as null although its type says otherwise
        empty: undefined,
      },
    });
    expect(toMskRecord('t', 0, message).headers).toEqual([
      { 'trace-id': [1, 2, 255] },
      { tag: [97] },
      { tag: [98] },
      { text: [0xc3, 0xa9] },
      { empty: [] },
    ]);
  });

  it('reads LOG_APPEND_TIME from the record batch context kafkajs attaches to each message', () => {
    const appended = { ...kafkaMessage({ offset: '0' }), batchContext: { timestampType: 1 } };
    expect(toMskRecord('t', 0, appended).timestampType).toBe('LOG_APPEND_TIME');
    const created = { ...kafkaMessage({ offset: '0' }), batchContext: { timestampType: 0 } };
    expect(toMskRecord('t', 0, created).timestampType).toBe('CREATE_TIME');
  });
});

describe('mskRecordText and mskEventJson: the same record and event, as the JSON the sandbox parses', () => {
  const logAppended = { ...kafkaMessage({ offset: '14' }), batchContext: { timestampType: 1 } };
  const messages: [string, KafkaMessage][] = [
    ['a plain record', kafkaMessage({ offset: '7', value: Buffer.from('{"a":1}') })],
    ['binary key, no headers', kafkaMessage({ offset: '8', key: Buffer.from([0xff, 0x00, 0x80]) })],
    ['null key', kafkaMessage({ offset: '9', key: null })],
    ['tombstone', kafkaMessage({ offset: '10', value: null })],
    ['empty value', kafkaMessage({ offset: '11', value: Buffer.alloc(0) })],
    ['unreadable timestamp', kafkaMessage({ offset: '12', timestamp: 'x' })],
    [
      'headers of every kind',
      kafkaMessage({
        offset: '13',
        headers: {
          'trace-id': Buffer.from([1, 2, 255]),
          tag: [Buffer.from('a'), Buffer.from('b')],
          'quote"d': 'é',
          empty: undefined,
        },
      }),
    ],
    ['log append time', logAppended],
  ];

  it.each(messages)('%s: its text parses to what toMskRecord gives', (_, message) => {
    const text = mskRecordText(JSON.stringify('data_raw'), 3, message);
    expect(JSON.parse(text.json)).toEqual(JSON.parse(JSON.stringify(toMskRecord('data_raw', 3, message))));
    expect(text.offset).toBe(Number(message.offset));
    expect(recordJsonBytes(text)).toBe(text.json.length + 1);
  });

  it('wraps a batch into an MSK event, each partition under topic-partition, and says its shape', () => {
    const batch = {
      partitions: [
        { partition: 0, records: [record(0, 0), record(0, 1)], firstArrivedAt: 0 },
        { partition: 2, records: [record(2, 5)], firstArrivedAt: 0 },
      ],
      recordCount: 3,
    };
    const source = { topic: 't', eventSourceArn: 'arn:aws:kafka:x', bootstrapServers: 'b:9092' };

    const event = mskEventJson(batch, source);

    expect(event.parse()).toEqual({
      eventSource: 'aws:kafka',
      eventSourceArn: 'arn:aws:kafka:x',
      bootstrapServers: 'b:9092',
      records: {
        't-0': [JSON.parse(record(0, 0).json), JSON.parse(record(0, 1).json)],
        't-2': [JSON.parse(record(2, 5).json)],
      },
    });
    expect(event.shape).toEqual({ records: 3, slices: 2 });
    expect(event.json).toBe(JSON.stringify(event.parse()));
    // Every attempt parses a fresh object: editing one leaves what a retry gets as it was.
    const first = event.parse() as { records: Record<string, unknown[]> };
    first.records['t-0']?.pop();
    expect((event.parse() as { records: Record<string, unknown[]> }).records['t-0']).toHaveLength(2);
  });
});

describe('TriggerBuffer: when an event is due and what it holds', () => {
  it('delivers a partial batch only once its oldest record has waited the whole window', () => {
    const buffer = new MskRecordBuffer(limits);
    buffer.accept(0, records(0, 0, 3), 1_000);
    buffer.accept(1, records(1, 0, 2), 1_200);
    expect(buffer.next(1_000)).toEqual({ wakeAt: 1_500 });
    expect(buffer.next(1_499)).toEqual({ wakeAt: 1_500 });
    expect(offsetsOf(buffer.next(1_500))).toEqual({ 0: [0, 1, 2], 1: [0, 1] });
    expect(buffer.next(1_500)).toEqual({ wakeAt: undefined });
  });

  it('delivers at once when batchSize records wait, taking the oldest first and at most batchSize', () => {
    const buffer = new MskRecordBuffer(limits);
    buffer.accept(2, records(2, 0, 6), 1_000);
    buffer.accept(0, records(0, 0, 6), 1_010);
    const next = buffer.next(1_010);
    expect(offsetsOf(next)).toEqual({ 2: [0, 1, 2, 3, 4, 5], 0: [0, 1, 2, 3] });
    expect(batchOf(next).recordCount).toBe(10);
  });

  it('with a window of 0, delivers whatever waits', () => {
    const buffer = new MskRecordBuffer({ ...limits, batchingWindowMs: 0 });
    buffer.accept(0, records(0, 0, 1), 1_000);
    expect(offsetsOf(buffer.next(1_000))).toEqual({ 0: [0] });
  });

  it('says, per partition taken, when its first record arrived from the fetch (the latency breakdown)', () => {
    const buffer = new MskRecordBuffer({ ...limits, batchingWindowMs: 0 });
    buffer.accept(0, records(0, 0, 2), 1_000);
    buffer.accept(0, records(0, 2, 2), 1_040);
    buffer.accept(1, records(1, 0, 1), 1_020);
    const first = batchOf(buffer.next(1_040));
    expect(first.partitions.map(({ partition, firstArrivedAt }) => [partition, firstArrivedAt])).toEqual([
      [0, 1_000],
      [1, 1_020],
    ]);
    buffer.succeeded(first, true);
    buffer.accept(0, records(0, 4, 1), 1_090);
    expect(batchOf(buffer.next(1_090)).partitions[0]?.firstArrivedAt).toBe(1_090);
  });

  it('holds at most batchSize records per partition and says where fetching must continue', () => {
    const buffer = new MskRecordBuffer(limits);
    expect(buffer.accept(0, records(0, 0, 25), 0)).toEqual({ resumeFrom: 10, full: true });
    // The same records fetched again after the pause overlap what is buffered: nothing doubles.
    expect(buffer.accept(0, records(0, 5, 20), 0)).toEqual({ resumeFrom: 10, full: true });
    buffer.next(0);
    expect(buffer.isFull(0)).toBe(false);
    expect(buffer.accept(0, records(0, 5, 20), 0)).toEqual({ resumeFrom: 20, full: true });
  });

  it("holds at most one event's payload limit of bytes per partition (then it is full), at least one record", () => {
    const size = recordJsonBytes(record(0, 0));
    const buffer = new MskRecordBuffer({ ...limits, maxPayloadBytes: 3 * size });
    expect(buffer.accept(0, records(0, 0, 8), 0)).toEqual({ resumeFrom: 3, full: true });
    const alone = new MskRecordBuffer({ ...limits, maxPayloadBytes: 1 });
    expect(alone.accept(0, records(0, 0, 8), 0)).toEqual({ resumeFrom: 1, full: true });
    batchOf(alone.next(0));
    expect(alone.isFull(0)).toBe(false);
  });

  it("holds about two events' payload over all partitions, each partition its fair share beyond it", () => {
    // Arrange: records of one size, a payload limit of 4 of them, so 8 over all partitions
    const size = recordJsonBytes(record(0, 0));
    const buffer = new MskRecordBuffer({ ...limits, maxPayloadBytes: 4 * size });
    for (const partition of [0, 1, 2, 3]) buffer.accept(partition, [], 0);

    // Act: partitions 0 and 1 take their 4 each (the per-partition limit): 8 in all
    buffer.accept(0, records(0, 0, 9), 0);
    buffer.accept(1, records(1, 0, 9), 0);

    // Assert: over the total, partitions 2 and 3 still get their share (8 / 4 partitions: 2 each)
    expect(buffer.accept(2, records(2, 0, 9), 0)).toEqual({ resumeFrom: 2, full: true });
    expect(buffer.accept(3, records(3, 0, 9), 0)).toEqual({ resumeFrom: 2, full: true });
    expect(buffer.partitionStats(new Set()).reduce((sum, p) => sum + p.bufferedRecords, 0)).toBe(12);
  });

  it('frees room over all partitions as an event is taken, and while one partition is blocked', () => {
    const size = recordJsonBytes(record(0, 0));
    const buffer = new MskRecordBuffer({ ...limits, batchSize: 4, maxPayloadBytes: 4 * size });
    buffer.accept(1, [], 0);
    buffer.accept(0, records(0, 0, 4), 0);
    buffer.accept(1, records(1, 0, 4), 0);
    expect(buffer.isFull(1)).toBe(true);
    // Partition 0 is taken (and stays in flight: its batch may be retried for ever).
    expect(offsetsOf(buffer.next(0))).toEqual({ 0: [0, 1, 2, 3] });
    expect(buffer.isFull(1)).toBe(true);
    buffer.accept(0, records(0, 4, 4), 0);
    // 8 buffered again, 4 of them behind the blocked partition; partition 1's next event goes.
    expect(offsetsOf(buffer.next(0))).toEqual({ 1: [0, 1, 2, 3] });
    expect(buffer.accept(1, records(1, 4, 4), 0)).toEqual({ resumeFrom: 8, full: true });
  });

  it('keeps of a batch in flight only the first and last offset of each partition (and when it came), not its records', () => {
    const buffer = new MskRecordBuffer(limits);
    buffer.accept(0, records(0, 7, 3), 0);
    buffer.accept(1, records(1, 0, 1), 5);
    const batch = batchOf(buffer.next(500));

    const positions = MskRecordBuffer.positionsOf(batch);

    expect(positions).toEqual({
      partitions: [
        { partition: 0, records: [{ offset: 7 }, { offset: 9 }], firstArrivedAt: 0 },
        { partition: 1, records: [{ offset: 0 }, { offset: 0 }], firstArrivedAt: 5 },
      ],
      recordCount: 4,
    });
    expect(MskRecordBuffer.commitsFor(positions)).toEqual(MskRecordBuffer.commitsFor(batch));
    buffer.succeeded(positions, true);
    expect(buffer.partitionStats(new Set()).map((p) => [p.committedOffset, p.inFlight])).toEqual([
      [10, false],
      [1, false],
    ]);
  });

  it('never gives a partition in flight to a second event; its records wait until it succeeds', () => {
    const buffer = new MskRecordBuffer(limits);
    buffer.accept(0, records(0, 0, 10), 0);
    const first = batchOf(buffer.next(0));
    buffer.accept(0, records(0, 10, 10), 10);
    buffer.accept(1, records(1, 0, 2), 10);
    // Partition 0 is blocked (its batch may be retried); partition 1 goes alone after its window.
    expect(buffer.next(10)).toEqual({ wakeAt: 510 });
    expect(offsetsOf(buffer.next(510))).toEqual({ 1: [0, 1] });
    expect(buffer.next(60_000)).toEqual({ wakeAt: undefined });
    buffer.succeeded(first, true);
    expect(offsetsOf(buffer.next(60_000))).toEqual({ 0: [10, 11, 12, 13, 14, 15, 16, 17, 18, 19] });
  });

  it('cuts an event before the payload limit, but always sends at least one record', () => {
    const buffer = new MskRecordBuffer({ ...limits, maxPayloadBytes: 1 });
    buffer.accept(0, records(0, 0, 3), 0);
    expect(offsetsOf(buffer.next(0))).toEqual({ 0: [0] });
  });

  it('counts only the records still waiting towards the payload limit once some were taken', () => {
    // Arrange: room for two records' JSON (and a byte: the third is still buffered)
    const size = recordJsonBytes(record(0, 0));
    const buffer = new MskRecordBuffer({ ...limits, maxPayloadBytes: 2 * size + 1 });
    buffer.accept(0, records(0, 0, 3), 0);

    // Act
    const first = buffer.next(0);
    buffer.succeeded(batchOf(first), true);

    // Assert: the one left waits for the window, as one record is below the limit
    expect(offsetsOf(first)).toEqual({ 0: [0, 1] });
    expect(buffer.next(0)).toEqual({ wakeAt: 500 });
  });

  it('commits, per partition, the offset after the last record delivered', () => {
    const buffer = new MskRecordBuffer(limits);
    buffer.accept(0, records(0, 7, 3), 0);
    buffer.accept(1, records(1, 0, 1), 0);
    const batch = batchOf(buffer.next(500));
    expect(MskRecordBuffer.commitsFor(batch)).toEqual([
      { partition: 0, offset: 10 },
      { partition: 1, offset: 1 },
    ]);
    buffer.succeeded(batch, true);
    expect(buffer.partitionStats(new Set()).map((p) => [p.partition, p.committedOffset])).toEqual([
      [0, 10],
      [1, 1],
    ]);
  });

  it('after a rebalance, forgets revoked partitions and tells where the kept ones continue', () => {
    const buffer = new MskRecordBuffer(limits);
    buffer.accept(0, records(0, 0, 4), 0);
    buffer.accept(1, records(1, 20, 4), 0);
    expect(buffer.reassigned(new Set([1]))).toEqual([{ partition: 1, offset: 24 }]);
    expect(offsetsOf(buffer.next(500))).toEqual({ 1: [20, 21, 22, 23] });
    // Partition 0 assigned again: whatever kafkajs fetches from the group's commit is taken.
    expect(buffer.accept(0, records(0, 0, 2), 600).resumeFrom).toBe(2);
  });
});

describe('retryDelayMs', () => {
  it('doubles from the initial delay up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => retryDelayMs(attempt, 200, 10_000))).toEqual([
      200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000,
    ]);
  });
});
