import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { generateDt } from '../../../shared/analyses/dt/generator.ts';
import { analysisForObjectKey } from '../../../shared/analyses/registry.ts';
import { partitionForKey } from '../../../shared/core/kafka-partitioner.ts';
import type { ItemKey, StoredItem } from '../../../shared/pipeline/ports.ts';
import { replayView } from '../../../shared/pipeline/query.ts';
import {
  LEASE_MS,
  type ReplayDependencies,
  type ReplayOutcome,
  type ReplayRequest,
  readProgress,
  replayObject,
} from '../../../shared/pipeline/replay.ts';
import {
  FakeClock,
  InMemoryItemStore,
  InMemoryObjectSource,
  type PublishedMessage,
  RecordingPublisher,
} from '../../support/fakes.ts';
import { sentOrigin } from '../../support/sent-origin.ts';
import { concat } from '../dt/fixtures.ts';
import { decodeReferenceWord } from '../dt/reference-model.ts';

const BUCKET = 'driftline-data';
const RAW = 'data_raw';
const PARTITIONS = 10;
const HEADER = 'HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS';

// --- datasets ------------------------------------------------------------------------------------

const datasets = new Map<string, Uint8Array>();
function dataset(format: 'csv' | 'bin', rows: number, seed: number): Uint8Array {
  const id = `${format}/${rows}/${seed}`;
  let bytes = datasets.get(id);
  if (!bytes) {
    bytes = concat([...generateDt({ rows, seed, format, chunkRows: 4096 })]);
    datasets.set(id, bytes);
  }
  return bytes;
}

/** A CSV object's data lines, found independently of the framer (LF lines, header dropped). */
function csvLines(bytes: Uint8Array): string[] {
  const lines = Buffer.from(bytes).toString('utf8').split('\n');
  expect(lines[0]).toBe(HEADER);
  return lines.slice(1).filter((line) => line.length > 0);
}

/** A binary object's words as hex. */
function binWords(bytes: Uint8Array): string[] {
  const words: string[] = [];
  for (let start = 0; start < bytes.length; start += 8)
    words.push(Buffer.from(bytes.subarray(start, start + 8)).toString('hex'));
  return words;
}

function orbitOf(row: string, format: 'csv' | 'bin'): string {
  if (format === 'bin') return String(decodeReferenceWord(Buffer.from(row, 'hex')).orbit);
  return row.split(',')[3] ?? '';
}

/** The rows inside one data_raw record (text: LF-joined lines; binary: 8-byte words), as strings. */
function rowsOfRecord(message: PublishedMessage): string[] {
  if (sentOrigin(message.headers).wireFormat === 'binary') return binWords(message.value);
  return Buffer.from(message.value).toString('utf8').split('\n');
}

interface RecordView {
  readonly partition: number;
  readonly sequence: number;
  readonly key: string | undefined;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
}

function recordsOf(publisher: RecordingPublisher): RecordView[] {
  return publisher.messages(RAW).map((message) => ({
    partition: message.partition ?? -1,
    sequence: sentOrigin(message.headers).sequence,
    key: message.key,
    value: Buffer.from(message.value).toString('hex'),
    headers: message.headers,
  }));
}

const identity = (record: RecordView) => `${record.partition}/${record.sequence}`;

/** Records keyed by (partition, sequence); every copy of a key must be byte-identical. */
function distinctRecords(records: readonly RecordView[]): Map<string, RecordView> {
  const byIdentity = new Map<string, RecordView>();
  for (const record of records) {
    const earlier = byIdentity.get(identity(record));
    if (earlier)
      expect(record, `record ${identity(record)} was sent twice with different bytes`).toEqual(earlier);
    else byIdentity.set(identity(record), record);
  }
  return byIdentity;
}

// --- harness -------------------------------------------------------------------------------------

interface Harness {
  readonly clock: FakeClock;
  readonly store: InMemoryItemStore;
  readonly publisher: RecordingPublisher;
  readonly source: InMemoryObjectSource;
  readonly continued: ReplayRequest[];
  readonly logs: string[];
  replay(key: string, overrides?: Partial<ReplayDependencies>): Promise<ReplayOutcome>;
}

function harness(options: { chunkSize?: number; defaults?: ReplayDependencies['defaults'] } = {}): Harness {
  const clock = new FakeClock();
  const store = new InMemoryItemStore({ now: clock.now });
  const publisher = new RecordingPublisher({ now: clock.now });
  const source = new InMemoryObjectSource(new Map(), { chunkSize: options.chunkSize ?? 4099 });
  const continued: ReplayRequest[] = [];
  const logs: string[] = [];
  return {
    clock,
    store,
    publisher,
    source,
    continued,
    logs,
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
          defaults: options.defaults ?? { rowsPerRecord: 1, rate: 0 },
          invocationId: 'invocation-1',
          remainingMs: clock.deadline(900_000),
          continueLater: async (request) => {
            continued.push(request);
          },
          now: clock.now,
          sleep: clock.sleep,
          log: (message) => logs.push(message),
          ...overrides,
        },
      ),
  };
}

/** The checkpoint item, read by its documented key (pk `replay`, sk `<bucket>/<key>`). */
async function progressOf(store: InMemoryItemStore, key: string): Promise<Record<string, unknown>> {
  const item = await store.get({ pk: 'replay', sk: `${BUCKET}/${key}` });
  const payload = item?.payload;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    throw new Error('no progress item');
  return payload;
}

/** A single uninterrupted replay of the same object, for comparison. */
async function uninterrupted(
  key: string,
  bytes: Uint8Array,
  metadata: Record<string, string> = {},
): Promise<RecordView[]> {
  const baseline = harness();
  baseline.source.put(key, bytes, metadata);
  const outcome = await baseline.replay(key);
  expect(outcome.status).toBe('done');
  return recordsOf(baseline.publisher);
}

// --- tests ---------------------------------------------------------------------------------------

describe('replayObject: every row exactly once, keyed by orbit', () => {
  it.each([
    { name: 'CSV, one row per record', key: 'dt/run/a.csv', format: 'csv', rowsPerRecord: 1, gzip: false },
    { name: 'CSV, 100 rows per record', key: 'dt/run/a.csv', format: 'csv', rowsPerRecord: 100, gzip: false },
    {
      name: 'CSV.gz, 10 rows per record',
      key: 'dt/run/a.csv.gz',
      format: 'csv',
      rowsPerRecord: 10,
      gzip: true,
    },
    { name: 'binary words, 7 per record', key: 'dt/run/a.bin', format: 'bin', rowsPerRecord: 7, gzip: false },
    {
      name: 'binary.gz, one per record',
      key: 'dt/run/a.bin.GZ',
      format: 'bin',
      rowsPerRecord: 1,
      gzip: true,
    },
  ] as const)('$name', async ({ key, format, rowsPerRecord, gzip }) => {
    // Arrange
    const plain = dataset(format, 3_000, 21);
    const expectedRows = format === 'csv' ? csvLines(plain) : binWords(plain);
    expect(expectedRows).toHaveLength(3_000);
    const h = harness({ defaults: { rowsPerRecord, rate: 0 } });
    const stored = gzip ? gzipSync(plain) : plain;
    h.source.put(key, stored, {}, '"etag-0123456789abcdef"');

    // Act
    const outcome = await h.replay(key);

    // Assert: outcome and progress
    const records = h.publisher.messages(RAW);
    expect(outcome).toEqual({ status: 'done', rowsSent: 3_000, recordsSent: records.length });
    const progress = await progressOf(h.store, key);
    expect(progress).toMatchObject({
      status: 'done',
      analysis: 'dt',
      run: `${key}@etag-0123456`,
      rowsSent: 3_000,
      recordsSent: records.length,
      objectBytes: stored.length,
      bytesRead: stored.length,
      leaseUntilMs: 0,
    });

    // Assert: the multiset of rows is the file's
    const sentRows = records.flatMap(rowsOfRecord);
    expect([...sentRows].sort()).toEqual([...expectedRows].sort());

    // Assert: records are full except the flushes, every row in its orbit's partition
    for (const record of records) {
      const rows = rowsOfRecord(record);
      expect(rows.length).toBeGreaterThanOrEqual(1);
      expect(rows.length).toBeLessThanOrEqual(rowsPerRecord);
      for (const row of rows)
        expect(record.partition).toBe(partitionForKey(orbitOf(row, format), PARTITIONS));
      // One header: analysis;sequence;format;run.
      expect(record.headers).toEqual({
        'driftline-origin': `dt;${sentOrigin(record.headers).sequence};${format === 'csv' ? 'text' : 'binary'};${key}@etag-0123456`,
      });
    }
    if (rowsPerRecord > 1)
      expect(records.some((record) => rowsOfRecord(record).length === rowsPerRecord)).toBe(true);

    // Assert: the rows of one orbit arrive in file order
    const fileOrder = new Map<string, string[]>();
    for (const row of expectedRows)
      fileOrder.set(orbitOf(row, format), [...(fileOrder.get(orbitOf(row, format)) ?? []), row]);
    const sentOrder = new Map<string, string[]>();
    for (const row of sentRows)
      sentOrder.set(orbitOf(row, format), [...(sentOrder.get(orbitOf(row, format)) ?? []), row]);
    expect(sentOrder).toEqual(fileOrder);
    expect([...fileOrder.values()].some((rows) => rows.length > 3)).toBe(true);

    // Assert: sequences per partition are 0..n-1 in send order
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const sequences = records
        .filter((record) => record.partition === partition)
        .map((record) => sentOrigin(record.headers).sequence);
      expect(sequences).toEqual(sequences.map((_, index) => index));
    }
    expect(new Set(records.map((record) => record.partition)).size).toBe(PARTITIONS);
  });

  it('handles CRLF lines, no trailing newline and a one-byte chunk size', async () => {
    // Arrange
    const lines = ['2,0,5,3387200947,100,10', '2,1,128,3387200947,101,0', '2,0,6,3387200948,7,29'];
    const h = harness({ chunkSize: 1 });
    h.source.put('dt/crlf.txt', Buffer.from(`${HEADER}\r\n${lines.join('\r\n')}`));

    // Act
    const outcome = await h.replay('dt/crlf.txt');

    // Assert
    expect(outcome.status).toBe('done');
    expect(h.publisher.messages(RAW).flatMap(rowsOfRecord).sort()).toEqual([...lines].sort());
  });
});

describe('replayObject: settings from object metadata', () => {
  it('rows-per-record and rate in the metadata override the defaults', async () => {
    // Arrange
    const h = harness({ defaults: { rowsPerRecord: 1, rate: 0 } });
    h.source.put('dt/meta.csv', dataset('csv', 4_000, 22), { 'Rows-Per-Record': '25', rate: '2000' });
    const started = h.clock.now();

    // Act
    const outcome = await h.replay('dt/meta.csv');

    // Assert
    expect(outcome.status).toBe('done');
    const sizes = h.publisher.messages(RAW).map((record) => rowsOfRecord(record).length);
    expect(Math.max(...sizes)).toBe(25);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(4_000);
    expect(await progressOf(h.store, 'dt/meta.csv')).toMatchObject({ rowsPerRecord: 25, rate: 2000 });
    // 4000 rows at 2000 rows/s: about 2 s of (fake) time, never much faster.
    expect(h.clock.now() - started).toBeGreaterThan(1_000);
    expect(h.clock.now() - started).toBeLessThanOrEqual(2_100);
  });

  it.each<{ metadata: Record<string, string>; names: string }>([
    { metadata: { 'rows-per-record': '0' }, names: 'rows-per-record' },
    { metadata: { 'rows-per-record': '1.5' }, names: 'rows-per-record' },
    { metadata: { 'rows-per-record': 'many' }, names: 'rows-per-record' },
    { metadata: { 'rows-per-record': '100001' }, names: 'rows-per-record' },
    { metadata: { rate: '-1' }, names: 'rate' },
    { metadata: { rate: 'fast' }, names: 'rate' },
    { metadata: { rate: 'Infinity' }, names: 'rate' },
  ])(
    'metadata $metadata is refused with a message naming $names, nothing sent',
    async ({ metadata, names }) => {
      // Arrange
      const h = harness();
      h.source.put('dt/bad-meta.csv', dataset('csv', 100, 23), metadata);

      // Act
      const outcome = await h.replay('dt/bad-meta.csv');
      const again = await h.replay('dt/bad-meta.csv');

      // Assert
      expect(outcome.status).toBe('refused');
      expect(outcome.message).toContain(names);
      expect(outcome.rowsSent).toBe(0);
      expect(again).toEqual(outcome);
      expect(h.publisher.calls.size).toBe(0);
      expect(h.source.reads).toEqual([]);
      expect(await progressOf(h.store, 'dt/bad-meta.csv')).toMatchObject({
        status: 'refused',
        message: outcome.message,
      });
    },
  );

  it('a refused object re-uploaded with good metadata (new ETag) is replayed', async () => {
    // Arrange
    const h = harness();
    const bytes = dataset('csv', 100, 23);
    h.source.put('dt/fixed.csv', bytes, { rate: 'fast' }, 'etag-1');
    await h.replay('dt/fixed.csv');
    h.source.put('dt/fixed.csv', bytes, { rate: '0' }, 'etag-2');

    // Act
    const outcome = await h.replay('dt/fixed.csv');

    // Assert
    expect(outcome).toMatchObject({ status: 'done', rowsSent: 100 });
  });
});

describe('replayObject: objects it cannot read', () => {
  it.each([
    { key: 'nope/calls.csv', says: 'no analysis' },
    { key: 'other/data.csv', says: 'no analysis' },
    { key: 'data.csv', says: 'no analysis' },
    { key: 'dt/data.parquet', says: 'unsupported extension' },
    { key: 'dt/data', says: 'unsupported extension' },
    { key: 'dt/data.json.gz', says: 'unsupported extension' },
  ])('$key is refused ($says), nothing sent', async ({ key, says }) => {
    // Arrange
    const h = harness();
    h.source.put(key, dataset('csv', 50, 24));

    // Act
    const outcome = await h.replay(key);

    // Assert
    expect(outcome).toMatchObject({ status: 'refused', rowsSent: 0, recordsSent: 0 });
    expect(outcome.message).toContain(says);
    expect(h.publisher.calls.size).toBe(0);
    expect(await progressOf(h.store, key)).toMatchObject({ status: 'refused', message: outcome.message });
  });

  it("an analysis's reference object (sf/radio_code.json) is not replayed and not marked refused", async () => {
    // Arrange
    const h = harness();
    h.source.put(
      'sf/radio_code.json',
      new TextEncoder().encode('[{"disposition_code":"ADM","description":"Admonished"}]'),
    );

    // Act
    const outcome = await h.replay('sf/radio_code.json');

    // Assert
    expect(outcome).toMatchObject({ status: 'reference-data', rowsSent: 0, recordsSent: 0 });
    expect(h.publisher.calls.size).toBe(0);
  });

  it('a binary object with a truncated last word is refused part-way; the rows before it stay sent', async () => {
    // Arrange
    const words = dataset('bin', 500, 25);
    const h = harness();
    h.source.put('dt/short.bin', concat([words, new Uint8Array([1, 2, 3])]));

    // Act
    const outcome = await h.replay('dt/short.bin');

    // Assert
    expect(outcome.status).toBe('refused');
    expect(outcome.message).toMatch(/truncated word/);
    expect(outcome.message).toContain('after 500 rows');
    expect(h.publisher.messages(RAW).flatMap(rowsOfRecord).sort()).toEqual(binWords(words).sort());
    expect(await progressOf(h.store, 'dt/short.bin')).toMatchObject({ status: 'refused', leaseUntilMs: 0 });
  });

  // Regression test; the bug it caught was: when the object turns out malformed part-way, the catch path calls
  // `send()` but never flushes the partition buffers, so with rowsPerRecord > 1 the rows still
  // buffered (up to rowsPerRecord − 1 per partition) are silently dropped, although the outcome
  // counts them in rowsSent and the comment promises "rows sent so far stay sent". Fixed by: emit every
  // partition buffer before the final send() in the ObjectFormatError branch.
  // Regression test; the bug it caught was: a truncated `.csv.gz` was refused "after 2606 rows",
  // its progress said 0 rows sent, yet those rows had reached data_raw and the state. Fixed by: the
  // refused progress records the rows, records and sequences that were sent (what the state holds).
  it('a truncated .csv.gz is refused part-way, and its progress counts the rows that were sent', async () => {
    // Arrange
    const compressed = gzipSync(dataset('csv', 20_000, 33));
    const h = harness({ chunkSize: 1024 });
    h.source.put('dt/cut.csv.gz', compressed.subarray(0, Math.floor(compressed.length * 0.6)));

    // Act
    const outcome = await h.replay('dt/cut.csv.gz');

    // Assert
    const sentRows = h.publisher.messages(RAW).flatMap(rowsOfRecord).length;
    expect(outcome.status).toBe('refused');
    expect(outcome.message).toMatch(new RegExp(`gzip.*after ${sentRows} rows`));
    expect(sentRows).toBeGreaterThan(0);
    expect(await progressOf(h.store, 'dt/cut.csv.gz')).toMatchObject({
      status: 'refused',
      rowsSent: sentRows,
      recordsSent: h.publisher.messages(RAW).length,
    });
  });

  it('refused part-way with rowsPerRecord 7: every row before the bad tail is still delivered', async () => {
    // Arrange
    const words = dataset('bin', 500, 25);
    const h = harness({ defaults: { rowsPerRecord: 7, rate: 0 } });
    h.source.put('dt/short7.bin', concat([words, new Uint8Array([1, 2, 3])]));

    // Act
    const outcome = await h.replay('dt/short7.bin');

    // Assert
    expect(outcome).toMatchObject({ status: 'refused', rowsSent: 500 });
    expect(h.publisher.messages(RAW).flatMap(rowsOfRecord)).toHaveLength(500);
  });

  // Regression test; the bug it caught was: a `.gz` object that is not gzip (or is corrupt) makes zlib throw a
  // plain Error, which replay rethrows instead of refusing the object. The handler fails, S3's async
  // retries fail the same way, the checkpoint stays `running` (lease held) and no one is told why.
  // Fixed by: wrap the decompression errors (zlib `Z_DATA_ERROR`, `unexpected end of file`) in
  // ObjectFormatError so the object is marked refused with a message.
  it('an object named .gz that is not gzip is refused with a message', async () => {
    // Arrange
    const h = harness();
    h.source.put('dt/not-really.csv.gz', dataset('csv', 200, 26));

    // Act
    const outcome = await h.replay('dt/not-really.csv.gz');

    // Assert
    expect(outcome.status).toBe('refused');
    expect(outcome.message).toMatch(/gzip|compress/i);
  });
});

describe('replayObject: a source that fails mid-stream', () => {
  /** An object source whose body yields the first `goodBytes` bytes, then fails as a reset S3 body does. */
  function failingAfter(source: InMemoryObjectSource, goodBytes: number): InMemoryObjectSource['read'] {
    return async (bucket, key) => {
      const whole = await source.read(bucket, key);
      return (async function* () {
        let sent = 0;
        for await (const chunk of whole) {
          if (sent + chunk.length > goodBytes) {
            yield chunk.subarray(0, goodBytes - sent);
            throw new Error('socket hang up (injected mid-stream)');
          }
          sent += chunk.length;
          yield chunk;
        }
      })();
    };
  }

  // Regression test; the bug it caught was: replay decompressed with `.pipe(createGunzip())`, which
  // does not forward an error of the source: the failure became an unhandled 'error' event that
  // ended the whole process (or, with a handler installed, the replay waited for ever). Fixed by:
  // one gunzip helper on stream.pipeline (decompression.ts), shared with offline analysis.
  it.each([
    { name: 'gzipped', key: 'dt/reset.csv.gz', gzip: true },
    { name: 'plain', key: 'dt/reset.csv', gzip: false },
  ])('$name: the invocation fails with the source error and releases its lease', async ({ key, gzip }) => {
    // Arrange
    const plain = dataset('csv', 20_000, 31);
    const stored = gzip ? gzipSync(plain) : plain;
    const h = harness({ chunkSize: 1024 });
    h.source.put(key, stored);
    const source = Object.assign(Object.create(h.source), {
      read: failingAfter(h.source, stored.length / 2),
    });

    // Act
    const attempt = h.replay(key, { source });

    // Assert
    await expect(attempt).rejects.toThrow(/socket hang up/);
    const progress = await progressOf(h.store, key);
    expect(progress).toMatchObject({ status: 'running', leaseUntilMs: 0 });
  });
});

describe('replayObject: the deadline while rows are sparse or none come', () => {
  /** A CSV object of `rows` rows, each followed by `gapBytes` of empty lines. */
  function sparse(rows: number, gapBytes: number, seed: number): Uint8Array {
    const [header, ...lines] = Buffer.from(dataset('csv', rows, seed))
      .toString('utf8')
      .trimEnd()
      .split('\n');
    const gap = '\n'.repeat(gapBytes);
    return Buffer.from(`${header}\n${lines.map((line) => `${line}\n${gap}`).join('')}`);
  }

  /** Each chunk read takes `msPerChunk` of (fake) time, as a slow S3 body would. */
  function slowSource(h: Harness, msPerChunk: number): InMemoryObjectSource {
    return Object.assign(Object.create(h.source), {
      read: async (bucket: string, key: string) => {
        const chunks = await h.source.read(bucket, key);
        return (async function* () {
          for await (const chunk of chunks) {
            h.clock.advance(msPerChunk);
            yield chunk;
          }
        })();
      },
    });
  }

  // Regression test; the bug it caught was: the deadline was checked only at checkpoint rows, so an
  // object from which no rows come (64 MiB of newlines, 65 KB gzipped) ran to "done" with no time
  // left; ~6 GiB of them would pass Lambda's 900 s without a checkpoint. Fixed by: more than 8 MiB
  // without a row is not a dataset (refused with a message), and the deadline is checked per chunk.
  it.each([
    { name: 'plain', key: 'dt/newlines.csv', gzip: false },
    { name: 'gzipped', key: 'dt/newlines.csv.gz', gzip: true },
  ])('$name: 16 MiB of newlines is refused as not a dataset, promptly', async ({ key, gzip }) => {
    // Arrange
    const plain = Buffer.from('\n'.repeat(16 * 2 ** 20));
    const h = harness({ chunkSize: 64 * 1024 });
    h.source.put(key, gzip ? gzipSync(plain) : plain);

    // Act
    const outcome = await h.replay(key);

    // Assert
    expect(outcome.status).toBe('refused');
    expect(outcome.message).toMatch(/no row in 8 MiB/);
    expect(h.publisher.messages(RAW)).toHaveLength(0);
  });

  it('rows far apart: near the deadline it cuts where it is, and the continuation sends each row once', async () => {
    // Arrange: 300 rows 64 KiB apart (no checkpoint row in the object), 50 ms per 64 KiB chunk, and
    // 20 s left: the hard margin (15 s) comes about 100 chunks in.
    const KEY = 'dt/sparse.csv';
    const bytes = sparse(300, 64 * 1024, 61);
    const h = harness({ chunkSize: 64 * 1024 });
    h.source.put(KEY, bytes);
    const deadlineAt = h.clock.now() + 20_000;

    // Act
    const first = await h.replay(KEY, {
      source: slowSource(h, 50),
      remainingMs: () => deadlineAt - h.clock.now(),
    });
    h.clock.advance(60_000);
    const second = await h.replay(KEY, { invocationId: 'invocation-2' });

    // Assert
    expect(first.status).toBe('continued');
    expect(first.rowsSent).toBeGreaterThan(0);
    expect(first.rowsSent).toBeLessThan(300);
    expect(h.clock.now() - 60_000).toBeLessThan(deadlineAt);
    expect(second).toMatchObject({ status: 'done', rowsSent: 300 - first.rowsSent });
    expect(h.publisher.messages(RAW).flatMap(rowsOfRecord).sort()).toEqual(
      csvLines(dataset('csv', 300, 61)).sort(),
    );
    distinctRecords(recordsOf(h.publisher));
  });

  it('a crash right after the cut: the resumed replay cuts at the same row, and records match byte for byte', async () => {
    // Arrange: 7 rows per record, so the cut flushes partial records; the flush's publish fails
    // after delivering its records, as a producer that dies before its acknowledgement.
    const KEY = 'dt/sparse-crash.csv';
    const bytes = sparse(300, 64 * 1024, 62);
    const h = harness({ chunkSize: 64 * 1024, defaults: { rowsPerRecord: 7, rate: 0 } });
    h.source.put(KEY, bytes);
    const deadlineAt = h.clock.now() + 20_000;
    let armed = false;
    const remainingMs = () => {
      const left = deadlineAt - h.clock.now();
      if (left < 15_000 && !armed) {
        armed = true;
        h.publisher.failNext(RAW, 1, { succeedFirst: 0, deliverBeforeFailing: 10_000 });
      }
      return left;
    };

    // Act
    const crashed = h.replay(KEY, { source: slowSource(h, 50), remainingMs });
    await expect(crashed).rejects.toThrow(/injected publish failure/);
    h.clock.advance(LEASE_MS + 1);
    const resumed = await h.replay(KEY, { invocationId: 'invocation-2' });

    // Assert: every (partition, sequence) sent twice carries the same bytes, and every row arrived.
    expect(resumed.status).toBe('done');
    const distinct = distinctRecords(recordsOf(h.publisher));
    const rows = [...distinct.values()].flatMap((record) =>
      Buffer.from(record.value, 'hex').toString('utf8').split('\n'),
    );
    expect(rows.sort()).toEqual(csvLines(dataset('csv', 300, 62)).sort());
  });
});

describe('replayObject: at-least-once events, one replay per object version', () => {
  it('a repeated event for a finished object sends nothing (already-done)', async () => {
    // Arrange
    const h = harness();
    h.source.put('dt/once.csv', dataset('csv', 1_000, 27));
    await h.replay('dt/once.csv');
    const sent = h.publisher.messages(RAW).length;

    // Act
    const again = await h.replay('dt/once.csv', { invocationId: 'invocation-2' });

    // Assert
    expect(again).toEqual({ status: 'already-done', rowsSent: 0, recordsSent: 0 });
    expect(h.publisher.messages(RAW)).toHaveLength(sent);
    expect(h.source.reads).toEqual(['dt/once.csv']);
  });

  it('a new version of the object (other ETag) is a new run with sequences from 0', async () => {
    // Arrange
    const h = harness();
    h.source.put('dt/twice.csv', dataset('csv', 500, 28), {}, 'aaaaaaaaaaaaaaaa');
    await h.replay('dt/twice.csv');
    const first = h.publisher.messages(RAW).length;
    h.source.put('dt/twice.csv', dataset('csv', 500, 29), {}, 'bbbbbbbbbbbbbbbb');

    // Act
    const outcome = await h.replay('dt/twice.csv');

    // Assert
    expect(outcome).toMatchObject({ status: 'done', rowsSent: 500 });
    const second = h.publisher.messages(RAW).slice(first);
    expect(new Set(second.map((record) => sentOrigin(record.headers).run))).toEqual(
      new Set(['dt/twice.csv@bbbbbbbbbbbb']),
    );
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const sequences = second
        .filter((r) => r.partition === partition)
        .map((r) => sentOrigin(r.headers).sequence);
      expect(sequences).toEqual(sequences.map((_, index) => index));
    }
  });

  it('an object another invocation holds a live lease on is left to it (busy-elsewhere)', async () => {
    // Arrange: a checkpoint written by another invocation, lease valid for one more minute.
    const h = harness();
    h.source.put('dt/held.csv', dataset('csv', 300, 30), {}, 'etag-held');
    const now = h.clock.now();
    await h.store.put(
      {
        pk: 'replay',
        sk: `${BUCKET}/dt/held.csv`,
        version: 1,
        payload: {
          bucket: BUCKET,
          key: 'dt/held.csv',
          etag: 'etag-held',
          analysis: 'dt',
          run: 'dt/held.csv@etag-held',
          status: 'running',
          rowsPerRecord: 1,
          rate: 0,
          checkpointRows: 10_000,
          rowsSent: 0,
          recordsSent: 0,
          sequences: new Array(PARTITIONS).fill(0),
          objectBytes: 1,
          bytesRead: 0,
          startedAtMs: now,
          updatedAtMs: now,
          leaseOwner: 'someone-else',
          leaseUntilMs: now + 60_000,
          invocations: 1,
        },
      },
      { kind: 'absent' },
    );

    // Act
    const busy = await h.replay('dt/held.csv');
    h.clock.advance(60_001);
    const afterExpiry = await h.replay('dt/held.csv');

    // Assert
    expect(busy).toEqual({ status: 'busy-elsewhere', rowsSent: 0, recordsSent: 0 });
    expect(afterExpiry).toMatchObject({ status: 'done', rowsSent: 300 });
    expect(await progressOf(h.store, 'dt/held.csv')).toMatchObject({ invocations: 2, status: 'done' });
  });

  it('two invocations racing for a new object: the second write of the first checkpoint loses', async () => {
    // Arrange: another invocation writes the first checkpoint between our read and our write.
    const h = harness();
    h.source.put('dt/race.csv', dataset('csv', 300, 31));
    class RacingStore extends InMemoryItemStore {
      private raced = false;
      override async get(key: ItemKey): Promise<StoredItem | undefined> {
        const item = await super.get(key);
        if (!this.raced) {
          this.raced = true;
          await super.put({ ...key, version: 1, payload: 'taken by another invocation' }, { kind: 'absent' });
        }
        return item;
      }
    }
    const store = new RacingStore({ now: h.clock.now });

    // Act
    const outcome = await h.replay('dt/race.csv', { store });

    // Assert
    expect(outcome.status).toBe('busy-elsewhere');
    expect(h.publisher.calls.size).toBe(0);
  });
});

describe('replayObject: deadline, crash and resume give the same records', () => {
  const KEY = 'dt/big.csv';
  const ROWS = 15_000;

  it('near the deadline it stops at a checkpoint (continued) and asks for a continuation', async () => {
    // Arrange
    const h = harness();
    h.source.put(KEY, dataset('csv', ROWS, 40));

    // Act: 30 s left, below the 60 s margin: stop at the first checkpoint.
    const first = await h.replay(KEY, { remainingMs: () => 30_000 });

    // Assert
    expect(first.status).toBe('continued');
    expect(first.rowsSent).toBe(10_000);
    expect(h.continued).toEqual([{ bucket: BUCKET, key: KEY }]);
    expect(await progressOf(h.store, KEY)).toMatchObject({ status: 'running', rowsSent: 10_000 });
    const sentRows = h.publisher.messages(RAW).flatMap(rowsOfRecord);
    expect(sentRows).toHaveLength(10_000);
  });

  it('the continuation finishes, and the union of records is exactly an uninterrupted replay', async () => {
    // Arrange
    const bytes = dataset('csv', ROWS, 40);
    const expected = await uninterrupted(KEY, bytes);
    const h = harness();
    h.source.put(KEY, bytes);
    await h.replay(KEY, { remainingMs: () => 30_000 });
    h.clock.advance(30_001); // the first invocation's lease runs out with its time

    // Act
    const second = await h.replay(KEY, { invocationId: 'invocation-2' });

    // Assert: nothing sent twice, nothing missing, same partition, sequence and bytes.
    expect(second).toMatchObject({ status: 'done', rowsSent: ROWS - 10_000 });
    const records = recordsOf(h.publisher);
    expect(records).toHaveLength(expected.length);
    expect(distinctRecords(records)).toEqual(distinctRecords(expected));
    expect(await progressOf(h.store, KEY)).toMatchObject({
      status: 'done',
      rowsSent: ROWS,
      recordsSent: expected.length,
      invocations: 2,
    });
  });

  // Regression test; the bug it caught was: on 'continued' the last checkpoint keeps the lease
  // (leaseOwner = this invocation, leaseUntilMs = now + remaining time, up to the 60 s margin) and
  // continueLater fires at once. The continuation is a new invocation (new awsRequestId), so it finds
  // a live lease held by someone else and returns 'busy-elsewhere': nobody continues and the object
  // stays half replayed. Fixed by: release the lease (leaseUntilMs = 0) in the checkpoint written before
  // returning 'continued', or hand the lease to the continuation (pass a lease token in the event).
  it('a continuation invoked right away (new request id) picks up from the checkpoint', async () => {
    // Arrange
    const h = harness();
    h.source.put(KEY, dataset('csv', ROWS, 40));
    await h.replay(KEY, { remainingMs: () => 30_000 });

    // Act: the continuation arrives a few ms later, as an async Lambda invoke does.
    h.clock.advance(50);
    const second = await h.replay(KEY, { invocationId: 'invocation-2' });

    // Assert
    expect(second.status).toBe('done');
  });

  it.each([
    { rowsPerRecord: 1, succeedFirst: 13 },
    { rowsPerRecord: 7, succeedFirst: 2 },
  ])(
    'a crash mid-way (publisher throws, rowsPerRecord $rowsPerRecord), then a resume after the lease expired',
    async ({ rowsPerRecord, succeedFirst }) => {
      // Arrange
      const bytes = dataset('csv', ROWS, 41);
      const metadata = { 'rows-per-record': String(rowsPerRecord) };
      const expected = await uninterrupted(KEY, bytes, metadata);
      const h = harness();
      h.source.put(KEY, bytes, metadata);
      // A publish after the first checkpoint dies having delivered part of its records.
      h.publisher.failNext(RAW, 1, { succeedFirst, deliverBeforeFailing: 300 });

      // Act
      await expect(h.replay(KEY)).rejects.toThrow(/injected publish failure/);
      expect(await progressOf(h.store, KEY)).toMatchObject({ status: 'running', rowsSent: 10_000 });
      // The failed invocation released its lease: the retry resumes at once.
      const resumed = await h.replay(KEY, { invocationId: 'invocation-2' });

      // Assert
      expect(resumed.status).toBe('done');
      const records = recordsOf(h.publisher);
      const distinct = distinctRecords(records);
      expect(records.length).toBeGreaterThan(distinct.size); // something really was sent twice
      expect(distinct).toEqual(distinctRecords(expected));
      expect(await progressOf(h.store, KEY)).toMatchObject({ status: 'done', rowsSent: ROWS });
    },
  );

  // Regression test; the bug it caught was: the lease lasts until the invocation's own deadline (up to 15 min)
  // and is not released when the invocation fails. Lambda retries a failed async invocation (the S3
  // event) after ~1 and ~2 more minutes; both retries find the lease "held" by the dead invocation,
  // return 'busy-elsewhere' successfully, and the event is gone: the object stays half replayed until
  // someone re-uploads it. Fixed by: release the lease (conditional put, leaseUntilMs = 0) in a catch
  // before rethrowing, and keep leases short (e.g. 2 × the time between checkpoints), renewed at
  // each checkpoint, so a killed invocation's lease also runs out before the retries.
  it('after a crash, the async retry one minute later resumes the object', async () => {
    // Arrange
    const h = harness();
    h.source.put(KEY, dataset('csv', ROWS, 41));
    h.publisher.failNext(RAW, 1, { succeedFirst: 13 });
    await expect(h.replay(KEY)).rejects.toThrow(/injected publish failure/);

    // Act
    h.clock.advance(60_000);
    const retry = await h.replay(KEY, { invocationId: 'retry-1' });

    // Assert
    expect(retry.status).toBe('done');
  });

  // Regression test; the bug it caught was: rows without a readable partition key (corrupt rows) are spread
  // by `unkeyedRoundRobin`, a counter that restarts at 0 in every invocation. A resumed replay
  // therefore puts the unkeyed rows after the checkpoint into other partitions than the first run
  // did, so records with the same (partition, sequence) differ: the aggregate side keeps one copy by
  // sequence and drops or double-counts rows. Fixed by: derive the partition of an unkeyed row from its
  // row index (e.g. `(rowIndex - 1) % partitions`), or store the counter in the checkpoint.
  it('with unkeyed (corrupt) rows, a resumed replay still sends byte-identical records', async () => {
    // Arrange: corrupt rows with no ORBIT_CNT, a few before the first checkpoint and more after it.
    const lines = csvLines(dataset('csv', ROWS, 42));
    for (const at of [3_000, 7_001, 11_111, 12_345, 13_000, 13_500, 14_500])
      lines.splice(at, 0, `garbage,row,${at}`);
    const bytes = Buffer.from(`${HEADER}\n${lines.join('\n')}\n`);
    const expected = await uninterrupted(KEY, bytes);
    const h = harness();
    h.source.put(KEY, bytes);
    h.publisher.failNext(RAW, 1, { succeedFirst: 13 });

    // Act
    await expect(h.replay(KEY)).rejects.toThrow(/injected publish failure/);
    expect(await progressOf(h.store, KEY)).toMatchObject({ status: 'running', rowsSent: 10_000 });
    h.clock.advance(900_001);
    const resumed = await h.replay(KEY, { invocationId: 'invocation-2' });

    // Assert
    expect(resumed.status).toBe('done');
    expect(distinctRecords(recordsOf(h.publisher))).toEqual(distinctRecords(expected));
  });
});

describe('replayObject: rate limiting', () => {
  it('5000 rows at 1000 rows/s take about 5 s of (fake) time, paced in small steps', async () => {
    // Arrange
    const h = harness({ defaults: { rowsPerRecord: 1, rate: 1000 } });
    h.source.put('dt/paced.csv', dataset('csv', 5_000, 50));
    const started = h.clock.now();

    // Act
    const outcome = await h.replay('dt/paced.csv');

    // Assert
    expect(outcome.status).toBe('done');
    const elapsed = h.clock.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(4_900);
    expect(elapsed).toBeLessThanOrEqual(5_100);
    expect(Math.max(...h.clock.sleeps)).toBeLessThanOrEqual(100);
    // Records are stamped as they go: the first and last are ~5 s apart.
    const stamps = h.publisher.messages(RAW).map((record) => record.timestampMs);
    expect(Math.max(...stamps) - Math.min(...stamps)).toBeGreaterThan(4_800);
  });

  // Regression test; the bug it caught was: a local runtime that stops reports no time left, but a
  // paced replay went on at its rate to its next checkpoint row (up to 10,000 rows: 10 s at the
  // DAQ rate, longer on a busy machine), so a stop could end before the replay had checkpointed and
  // let go, leaving the object leased for two more minutes. Fixed by: with no time left at all,
  // stop pacing; the next checkpoint row comes at full speed, and there the object is released.
  it('with no time left (a runtime stopping), a paced replay runs to its next checkpoint at once and lets go', async () => {
    // Arrange: 25,000 rows at 1000 rows/s, 10 rows per record, checkpoints every 10,000 rows; the
    // runtime starts stopping 2 s in.
    const KEY = 'dt/stopping.csv';
    const bytes = dataset('csv', 25_000, 53);
    const h = harness();
    h.source.put(KEY, bytes, { rate: '1000', 'rows-per-record': '10' });
    const stopAt = h.clock.now() + 2_000;
    const remainingMs = () => (h.clock.now() >= stopAt ? 0 : 900_000);

    // Act
    const first = await h.replay(KEY, { remainingMs });

    // Assert: checkpointed at row 10,000 without waiting out the ~8 s of pacing left, the object
    // free and a continuation asked for (which a stopping runtime drops).
    expect(first).toMatchObject({ status: 'continued', rowsSent: 10_000 });
    expect(h.clock.now() - stopAt).toBeLessThan(100);
    expect(await progressOf(h.store, KEY)).toMatchObject({
      status: 'running',
      rowsSent: 10_000,
      leaseUntilMs: 0,
    });
    expect(h.continued).toEqual([{ bucket: BUCKET, key: KEY }]);
    expect(h.logs).toContain('replay: no time left, running to the next checkpoint at full speed');

    // Act: the next start goes on from the checkpoint (a new invocation).
    const second = await h.replay(KEY, { invocationId: 'invocation-2' });

    // Assert: the records are exactly those of an uninterrupted replay, none sent twice.
    expect(second).toMatchObject({ status: 'done', rowsSent: 15_000 });
    const records = recordsOf(h.publisher);
    const expected = await uninterrupted(KEY, bytes, { 'rows-per-record': '10' });
    expect(records).toHaveLength(expected.length);
    expect(distinctRecords(records)).toEqual(distinctRecords(expected));
  });

  it('a replay resumed two hours after it was interrupted shows the rate it ran at, not one diluted by the pause', async () => {
    // Arrange: 25,000 rows at 1000 rows/s; the runtime stops 2 s in (as Ctrl-C does), and the next
    // `npm start` comes two hours later.
    const KEY = 'dt/interrupted.csv';
    const h = harness();
    h.source.put(KEY, dataset('csv', 25_000, 57), { rate: '1000', 'rows-per-record': '10' });
    const stopAt = h.clock.now() + 2_000;
    await h.replay(KEY, { remainingMs: () => (h.clock.now() >= stopAt ? 0 : 900_000) });
    h.clock.advance(2 * 3600_000);

    // Act
    const second = await h.replay(KEY, { invocationId: 'invocation-2' });

    // Assert: the pause is recorded, and left out of the rate the dashboard and `npm start` show.
    expect(second).toMatchObject({ status: 'done' });
    const item = await h.store.get({ pk: 'replay', sk: `${BUCKET}/${KEY}` });
    if (!item) throw new Error('no progress item');
    const progress = readProgress(item);
    expect(progress.pausedMs).toBeGreaterThanOrEqual(2 * 3600_000);
    expect(progress.pausedMs).toBeLessThan(2 * 3600_000 + 1_000);
    const view = replayView(progress, h.clock.now());
    // 25,000 rows paced at 1000 rows/s, the first 10,000 sent at once when the stop came.
    expect(view.rowsPerSecond).toBeGreaterThan(1000);
    expect(view.rowsPerSecond).toBeLessThan(2000);
  });

  it('rate 0 never sleeps', async () => {
    // Arrange
    const h = harness({ defaults: { rowsPerRecord: 1, rate: 0 } });
    h.source.put('dt/fast.csv', dataset('csv', 3_000, 51));

    // Act
    await h.replay('dt/fast.csv');

    // Assert
    expect(h.clock.sleeps).toEqual([]);
  });

  // Regression test; the bug it caught was: the pacing threshold counts *records* (`pending.length >= rate / 20`), not
  // rows, and rows still waiting in partition buffers are already counted as sent. With
  // rowsPerRecord 100 at 1000 rows/s, 50 records (5000 rows) go out before the first pause: a 5000-row
  // object is sent in one burst with no pause at all (20 000 rows: two ~10 s sleeps). Fixed by: send when
  // the rows in `pending` reach max(1, rate / 20) and pace on rows actually published (also before
  // the final checkpoint).
  it('rowsPerRecord 100 at 1000 rows/s: 5000 rows still take about 5 s', async () => {
    // Arrange
    const h = harness({ defaults: { rowsPerRecord: 100, rate: 1000 } });
    h.source.put('dt/paced100.csv', dataset('csv', 5_000, 50));
    const started = h.clock.now();

    // Act
    await h.replay('dt/paced100.csv');

    // Assert
    expect(h.clock.now() - started).toBeGreaterThanOrEqual(4_000);
    expect(h.clock.now() - started).toBeLessThanOrEqual(5_100);
  });

  // Regression test; the bug it caught was: the deadline is only checked at checkpoints (every ≥ 10 000 rows) and
  // `pace` sleeps without looking at it. At a low rate (here 5 rows/s: 2000 s per checkpoint) the
  // invocation runs past Lambda's 15-minute limit before its first checkpoint; every retry restarts
  // from the same checkpoint and is killed again, so the object never finishes. Fixed by: check
  // remainingMs() in `pace` (stop at the next checkpoint boundary that fits) and bound checkpointRows
  // by the rate, e.g. min(…, rate × 60 s), still a function of the settings so resumes stay exact.
  it('a slow replay (5 rows/s) stops before its Lambda deadline', async () => {
    // Arrange
    const h = harness({ defaults: { rowsPerRecord: 1, rate: 5 } });
    h.source.put('dt/slow.csv', dataset('csv', 12_000, 52));
    const deadlineAt = h.clock.now() + 900_000;

    // Act
    const outcome = await h.replay('dt/slow.csv', { remainingMs: () => deadlineAt - h.clock.now() });

    // Assert
    expect(outcome.status).toBe('continued');
    expect(h.clock.now()).toBeLessThanOrEqual(deadlineAt);
  });
});
