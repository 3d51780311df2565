/**
 * Replay in event-time order (S3 metadata `order=event-time`), over the in-memory fakes: each
 * partition receives its rows sorted by call_date_time, every row once, and a resumed replay sends
 * nothing twice because the sorted stream is the same in every invocation.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DT_EVENT_TIME_REFUSAL } from '../../../shared/analyses/dt/replay.ts';
import { analysisForObjectKey } from '../../../shared/analyses/registry.ts';
import { parseEventTime } from '../../../shared/analyses/sf/index.ts';
import { readProgress } from '../../../shared/pipeline/replay/checkpoint.ts';
import {
  type ReplayDependencies,
  type ReplayOutcome,
  type ReplayRequest,
  replayObject,
} from '../../../shared/pipeline/replay.ts';
import {
  FakeClock,
  InMemoryItemStore,
  InMemoryObjectSource,
  RecordingPublisher,
} from '../../support/fakes.ts';
import { sentOrigin } from '../../support/sent-origin.ts';
import { testRandom } from '../dt/fixtures.ts';
import { bytes, call } from '../sf/fixtures.ts';

const BUCKET = 'datasets';
const RAW = 'data_raw';
const PARTITIONS = 10;
const EVENT_TIME = { order: 'event-time' } as const;

/** `count` calls over a day, newest first as the real file, with repeated minutes and duplicates. */
function callsNewestFirst(count: number, seed: number): string[] {
  const random = testRandom(seed);
  const rows: string[] = [];
  for (let index = 0; index < count; index++) {
    const minute = Math.floor(((count - index) / count) * 1439);
    const time = `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
    const type = ['Passing Call', 'Traffic Stop', 'Suspicious Person'][Math.floor(random() * 3)];
    rows.push(call({ time, type, crimeId: String(index), disposition: random() < 0.5 ? 'HAN' : 'ADV' }));
    if (random() < 0.05) rows.push(rows[rows.length - 1] ?? '');
  }
  return rows;
}

function jsonArray(rows: readonly string[]): Uint8Array {
  return bytes(`[\n${rows.join(',\n')}\n]\n`);
}

interface Harness {
  readonly clock: FakeClock;
  readonly store: InMemoryItemStore;
  readonly publisher: RecordingPublisher;
  readonly source: InMemoryObjectSource;
  readonly continued: ReplayRequest[];
  replay(key: string, overrides?: Partial<ReplayDependencies>): Promise<ReplayOutcome>;
}

function harness(): Harness {
  const clock = new FakeClock();
  const store = new InMemoryItemStore({ now: clock.now });
  const publisher = new RecordingPublisher({ now: clock.now });
  const source = new InMemoryObjectSource(new Map(), { chunkSize: 4099 });
  const continued: ReplayRequest[] = [];
  return {
    clock,
    store,
    publisher,
    source,
    continued,
    replay: (key, overrides = {}) =>
      replayObject(
        { bucket: BUCKET, key },
        {
          analysisForKey: analysisForObjectKey,
          source,
          publisher,
          store,
          rawTopic: RAW,
          partitions: PARTITIONS,
          defaults: { rowsPerRecord: 1, rate: 0 },
          invocationId: 'invocation-1',
          remainingMs: clock.deadline(900_000),
          continueLater: async (request) => {
            continued.push(request);
          },
          now: clock.now,
          sleep: clock.sleep,
          log: () => {},
          ...overrides,
        },
      ),
  };
}

interface SentRecord {
  readonly partition: number;
  readonly sequence: number;
  readonly value: string;
}

function sentRecords(publisher: RecordingPublisher): SentRecord[] {
  return publisher.messages(RAW).map((message) => ({
    partition: message.partition ?? -1,
    sequence: sentOrigin(message.headers).sequence,
    value: Buffer.from(message.value).toString('utf8'),
  }));
}

function rowsOf(records: readonly SentRecord[]): string[] {
  return records.flatMap((record) => record.value.split('\n'));
}

function eventTimeOfRow(row: string): number {
  return parseEventTime(JSON.parse(row).call_date_time);
}

async function progressOf(store: InMemoryItemStore, key: string) {
  const item = await store.get({ pk: 'replay', sk: `${BUCKET}/${key}` });
  if (!item) throw new Error('no progress item');
  return readProgress(item);
}

/** Records by (partition, sequence); a second copy of one must be byte-identical. */
function byIdentity(records: readonly SentRecord[]): Map<string, SentRecord> {
  const seen = new Map<string, SentRecord>();
  for (const record of records) {
    const id = `${record.partition}/${record.sequence}`;
    const earlier = seen.get(id);
    if (earlier) expect(record, `record ${id} sent twice with other bytes`).toEqual(earlier);
    else seen.set(id, record);
  }
  return seen;
}

async function uninterrupted(key: string, object: Uint8Array, metadata: Record<string, string>) {
  const baseline = harness();
  baseline.source.put(key, object, metadata);
  expect((await baseline.replay(key)).status).toBe('done');
  return sentRecords(baseline.publisher);
}

describe('replayObject with metadata order=event-time (sf)', () => {
  it('every row is sent once, and each partition gets its rows in ascending call_date_time', async () => {
    // Arrange: newest first, gzipped, packed 10 rows per record.
    const rows = callsNewestFirst(3_000, 1);
    const h = harness();
    const key = 'sf/day/calls.json.gz';
    h.source.put(key, gzipSync(jsonArray(rows)), { ...EVENT_TIME, 'rows-per-record': '10' });

    // Act
    const outcome = await h.replay(key);

    // Assert
    expect(outcome).toMatchObject({ status: 'done', rowsSent: rows.length });
    const records = sentRecords(h.publisher);
    expect(rowsOf(records).sort()).toEqual([...rows].sort());
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const times = rowsOf(records.filter((record) => record.partition === partition)).map(eventTimeOfRow);
      expect(times.length).toBeGreaterThan(0);
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
    const progress = await progressOf(h.store, key);
    expect(progress).toMatchObject({ status: 'done', order: 'event-time', rowsSent: rows.length });
    // Progress counts bytes of the sorted stream: each row and 4 bytes of length.
    const rowBytes = rows.reduce((sum, row) => sum + Buffer.byteLength(row), 0);
    expect(progress.objectBytes).toBe(rowBytes + 4 * rows.length);
    expect(progress.bytesRead).toBe(progress.objectBytes);
  });

  it('a resumed replay sends nothing twice: the union of records equals an uninterrupted replay', async () => {
    // Arrange: 30,000 rows (two sorted runs on disk); the first invocation has 30 s left, under the
    // 60 s margin, so it stops at its first checkpoint (row 10,000).
    const key = 'sf/big/calls.json';
    const object = jsonArray(callsNewestFirst(30_000, 2));
    const expected = await uninterrupted(key, object, EVENT_TIME);
    const h = harness();
    h.source.put(key, object, EVENT_TIME);

    // Act
    const first = await h.replay(key, { remainingMs: () => 30_000 });
    const second = await h.replay(key, { invocationId: 'invocation-2' });

    // Assert
    expect(first).toMatchObject({ status: 'continued', rowsSent: 10_000 });
    expect(second.status).toBe('done');
    expect(second.rowsSent).toBe(expected.length - 10_000);
    const records = sentRecords(h.publisher);
    expect(records).toHaveLength(expected.length);
    expect(byIdentity(records)).toEqual(byIdentity(expected));
    expect(await progressOf(h.store, key)).toMatchObject({ status: 'done', invocations: 2 });
  });

  it('a replay resumes in the order it started in, even if the metadata changed since (same ETag)', async () => {
    const key = 'sf/meta/calls.json';
    const object = jsonArray(callsNewestFirst(15_000, 3));
    const expected = await uninterrupted(key, object, EVENT_TIME);
    const h = harness();
    h.source.put(key, object, EVENT_TIME);
    await h.replay(key, { remainingMs: () => 30_000 });

    // Act: the object's metadata is replaced, its bytes (and so its ETag) are the same.
    h.source.put(key, object, {});
    const second = await h.replay(key, { invocationId: 'invocation-2' });

    // Assert
    expect(second.status).toBe('done');
    expect(byIdentity(sentRecords(h.publisher))).toEqual(byIdentity(expected));
  });

  it('an object that cannot be framed is refused before any row is sent', async () => {
    const h = harness();
    const key = 'sf/bad/calls.json';
    const good = callsNewestFirst(50, 4).join(',\n');
    h.source.put(key, bytes(`[\n${good},\n{"call_date_time": "2018-12-31T00:00:00.000",`), EVENT_TIME);

    const outcome = await h.replay(key);

    expect(outcome.status).toBe('refused');
    expect(outcome.message).toMatch(/while sorting its rows by event time: no row was sent/);
    expect(h.publisher.messages(RAW)).toHaveLength(0);
    expect(await progressOf(h.store, key)).toMatchObject({ status: 'refused', rowsSent: 0, leaseUntilMs: 0 });
  });

  it('another invocation taking the object during a long sort stops it, with nothing sent', async () => {
    // Arrange: a source slow enough (1 s a chunk) for the sort to renew its lease; before it does,
    // someone else writes the checkpoint.
    const h = harness();
    const key = 'sf/slow/calls.json';
    h.source.put(key, jsonArray(callsNewestFirst(40_000, 5)), EVENT_TIME);
    let chunks = 0;
    const slowSource = {
      head: (bucket: string, objectKey: string) => h.source.head(bucket, objectKey),
      read: async (bucket: string, objectKey: string) => {
        const body = await h.source.read(bucket, objectKey);
        return (async function* () {
          for await (const chunk of body) {
            h.clock.advance(1_000);
            if (++chunks === 5) {
              const item = await h.store.get({ pk: 'replay', sk: `${BUCKET}/${key}` });
              if (item) await h.store.put({ ...item, version: item.version + 1 }, undefined);
            }
            yield chunk;
          }
        })();
      },
    };

    // Act
    const outcome = await h.replay(key, { source: slowSource });

    // Assert
    expect(outcome).toEqual({ status: 'lease-lost', rowsSent: 0, recordsSent: 0 });
    expect(h.publisher.messages(RAW)).toHaveLength(0);
  });
});

describe('replayObject: order metadata it refuses', () => {
  it('dt with order=event-time is refused, saying why (its orbit counter is in order already)', async () => {
    const h = harness();
    h.source.put(
      'dt/run/a.csv',
      bytes('HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS\n2,0,1,5,6,7\n'),
      EVENT_TIME,
    );

    const outcome = await h.replay('dt/run/a.csv');

    expect(outcome).toMatchObject({ status: 'refused', message: DT_EVENT_TIME_REFUSAL });
    expect(outcome.message).toMatch(/ORBIT_CNT/);
    expect(h.publisher.messages(RAW)).toHaveLength(0);
  });

  it('an unknown order is refused with the accepted values', async () => {
    const h = harness();
    h.source.put('sf/x/calls.json', jsonArray(callsNewestFirst(5, 6)), { order: 'newest-first' });

    const outcome = await h.replay('sf/x/calls.json');

    expect(outcome.status).toBe('refused');
    expect(outcome.message).toBe('metadata order "newest-first" must be "file" or "event-time"');
  });
});
