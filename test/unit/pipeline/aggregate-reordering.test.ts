/**
 * Exactly-once under reordering within a shard: over Kinesis a PutRecords entry may fail while a
 * later entry of the same shard is stored, and the re-sent entry then lands after it. Replay over
 * an in-memory Kinesis stream that fails chosen entries (test/support/fake-kinesis.ts), then
 * aggregate over what each shard holds, must give the same totals as a replay without failures.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateDt } from '../../../shared/analyses/dt/generator.ts';
import { dtAnalysis } from '../../../shared/analyses/dt/index.ts';
import { analysisById, analysisForObjectKey } from '../../../shared/analyses/registry.ts';
import { originHeaders } from '../../../shared/core/record-headers.ts';
import { MAX_GAPS } from '../../../shared/pipeline/aggregate/sequence-guard.ts';
import {
  type AggregateDependencies,
  aggregateSlices,
  type BatchSlice,
  type SliceRecord,
} from '../../../shared/pipeline/aggregate.ts';
import { sliceOf } from '../../../shared/pipeline/batch-slice.ts';
import { kinesisPublisher } from '../../../shared/pipeline/kinesis-batches.ts';
import { bucketSeries, cumulativeSummary } from '../../../shared/pipeline/query.ts';
import { replayObject } from '../../../shared/pipeline/replay.ts';
import { type FailurePlan, FakeKinesisStream, replaySequences } from '../../support/fake-kinesis.ts';
import {
  FakeClock,
  InMemoryItemStore,
  InMemoryObjectSource,
  RecordingPublisher,
} from '../../support/fakes.ts';
import { concat } from '../dt/fixtures.ts';

const RAW = 'data_raw';
const SHARDS = 10;
const KEY = 'dt/kinesis-partial.csv';
const ETAG = 'etag-partial';
const RUN = `${KEY}@${ETAG.slice(0, 12)}`;

interface World {
  readonly clock: FakeClock;
  readonly store: InMemoryItemStore;
  readonly stream: FakeKinesisStream;
  readonly deps: AggregateDependencies;
}

function world(fails?: FailurePlan): World {
  const clock = new FakeClock();
  const store = new InMemoryItemStore({ now: clock.now });
  const deps: AggregateDependencies = {
    analyses: analysisById,
    store,
    publisher: new RecordingPublisher({ now: clock.now }),
    topics: { clean: 'data_clean', dead: 'data_dead' },
    bucketSeconds: 60,
    batchTtlSeconds: 86_400,
    now: clock.now,
  };
  return { clock, store, stream: new FakeKinesisStream(SHARDS, fails, clock.now), deps };
}

/** Replays a generated dt file into the world's stream, `rowsPerRecord` rows a record. */
async function replayInto(w: World, rows: number, rowsPerRecord: number): Promise<void> {
  const source = new InMemoryObjectSource();
  source.put(
    KEY,
    concat([...generateDt({ rows, seed: 71, format: 'csv' })]),
    {
      'rows-per-record': String(rowsPerRecord),
    },
    ETAG,
  );
  const outcome = await replayObject(
    { bucket: 'driftline-data', key: KEY },
    {
      analysisForKey: analysisForObjectKey,
      source,
      publisher: kinesisPublisher(w.stream.port()),
      store: w.store,
      rawTopic: RAW,
      partitions: SHARDS,
      defaults: { rowsPerRecord: 1, rate: 0 },
      invocationId: 'replay',
      remainingMs: w.clock.deadline(900_000),
      continueLater: async () => {},
      now: w.clock.now,
      sleep: w.clock.sleep,
      log: () => {},
    },
  );
  expect(outcome.status).toBe('done');
}

/** What the trigger would deliver: per shard, consecutive batches of at most `maxRecords`. */
function shardSlices(stream: FakeKinesisStream, maxRecords: number): BatchSlice[] {
  return stream.shards.flatMap((records, shard) => {
    const slices: BatchSlice[] = [];
    for (let start = 0; start < records.length; start += maxRecords)
      slices.push(sliceOf(RAW, shard, records.slice(start, start + maxRecords)));
    return slices;
  });
}

/** True when some shard holds a record stored after one with a higher replay sequence number. */
function reordered(stream: FakeKinesisStream): boolean {
  return stream.shards.some((records) =>
    replaySequences(records).some((sequence, index, all) => index > 0 && sequence < (all[index - 1] ?? 0)),
  );
}

async function totals(w: World) {
  const cumulative = await cumulativeSummary(w.store, dtAnalysis, RUN);
  const buckets = await bucketSeries(w.store, dtAnalysis, { fromMs: 0, toMs: w.clock.now() + 600_000 });
  return {
    rows: cumulative.rows,
    summary: cumulative.summary,
    rowsInRollups: buckets.reduce((sum, bucket) => sum + Number(bucket.rows), 0),
  };
}

/** Fails the first attempt of every third record of each partition: later ones of its shard go first. */
const everyThirdOnce: FailurePlan = ({ data, attempt }) => {
  const text = Buffer.from(data.subarray(0, 200)).toString('latin1');
  const sequence = Number(/"driftline-origin":"[^;"]*;(\d+);/.exec(text)?.[1]);
  return attempt === 1 && sequence % 3 === 1;
};

describe('aggregate over Kinesis shards with partial PutRecords failures', () => {
  it.each([
    { rowsPerRecord: 1, maxRecords: 1_000 },
    { rowsPerRecord: 10, maxRecords: 7 },
  ])(
    'rows per record $rowsPerRecord, batches of ≤ $maxRecords: totals equal a replay without failures',
    async ({ rowsPerRecord, maxRecords }) => {
      // Arrange
      const clean = world();
      const failing = world(everyThirdOnce);
      for (const w of [clean, failing]) await replayInto(w, 6_000, rowsPerRecord);
      expect(failing.stream.failedEntries).toBeGreaterThan(100);
      expect(reordered(failing.stream)).toBe(true);

      // Act
      for (const w of [clean, failing]) await aggregateSlices(shardSlices(w.stream, maxRecords), w.deps);

      // Assert
      const expected = await totals(clean);
      expect(expected.rows).toBe(6_000);
      expect(await totals(failing)).toEqual(expected);
    },
  );

  it('the publisher has one request in flight and re-sends a failed entry with its sequence number', async () => {
    // Arrange
    const w = world(everyThirdOnce);

    // Act
    await replayInto(w, 3_000, 1);

    // Assert
    expect(w.stream.maxInFlight).toBe(1);
    for (const records of w.stream.shards) {
      const sequences = replaySequences(records);
      expect(sequences.length).toBeGreaterThan(0);
      // Every sequence number of the partition once (none lost, none renumbered by the re-send).
      expect([...sequences].sort((a, b) => a - b)).toEqual(sequences.map((_, index) => index));
    }
  });

  it('the whole delivery again (a crash after the commit), and a crash before the state write: no row twice', async () => {
    // Arrange
    const clean = world();
    const failing = world(everyThirdOnce);
    for (const w of [clean, failing]) await replayInto(w, 4_000, 5);
    await aggregateSlices(shardSlices(clean.stream, 9), clean.deps);
    const slices = shardSlices(failing.stream, 9);
    failing.store.failNext('put', { when: (key) => key.pk === 'state#dt' && (key.sk ?? '').endsWith('#4') });

    const shard4 = slices.filter((slice) => slice.partition === 4);

    // Act: shard 4 alone first (so no other shard's writes are still running when it fails)
    await expect(aggregateSlices(shard4, failing.deps)).rejects.toThrow(/injected put failure/);
    await aggregateSlices(slices, failing.deps);
    const again = await aggregateSlices(slices, failing.deps);

    // Assert
    expect(again.every((outcome) => outcome.duplicate)).toBe(true);
    expect(await totals(failing)).toEqual(await totals(clean));
  });
});

describe('aggregate: the sequence guard of one (run, partition) under reordering', () => {
  const rows = Buffer.from(concat([...generateDt({ rows: 40, seed: 72, format: 'csv' })]))
    .toString('utf8')
    .trim()
    .split('\n')
    .slice(1);

  /** A slice of replay records with the given sequence numbers (row `sequence` of the file each). */
  function replaySlice(sequences: readonly number[], firstPosition = 0): BatchSlice {
    const records: SliceRecord[] = sequences.map((sequence, index) => ({
      position: String(firstPosition + index),
      timestampMs: 1_700_000_000_000 + index,
      value: Buffer.from(rows[sequence] ?? ''),
      headers: new Map(
        Object.entries(originHeaders({ analysis: 'dt', run: RUN, sequence, wireFormat: 'text' })),
      ),
    }));
    return sliceOf(RAW, 3, records);
  }

  it('records arriving e0, e1, e3, e2, e3 count four rows, the rollup as well', async () => {
    // Arrange
    const w = world();

    // Act
    await aggregateSlices([replaySlice([0, 1, 3])], w.deps);
    await aggregateSlices([replaySlice([2, 3], 3)], w.deps);

    // Assert
    const { rows, rowsInRollups } = await totals(w);
    expect({ rows, rowsInRollups }).toEqual({ rows: 4, rowsInRollups: 4 });
  });

  it(`gives up gaps beyond ${MAX_GAPS}, reports them, and keeps the item bounded`, async () => {
    // Arrange: every other record, each opening a gap
    const w = world();
    const sequences = Array.from({ length: MAX_GAPS + 5 }, (_, index) => index * 2);
    const texts = sequences.map(() => rows[0] ?? '');
    const slice = sliceOf(
      RAW,
      3,
      sequences.map((sequence, index) => ({
        position: String(index),
        timestampMs: 1_700_000_000_000,
        value: Buffer.from(texts[index] ?? ''),
        headers: new Map(
          Object.entries(originHeaders({ analysis: 'dt', run: RUN, sequence, wireFormat: 'text' })),
        ),
      })),
    );

    // Act
    const [outcome] = await aggregateSlices([slice], w.deps);

    // Assert
    expect(outcome).toMatchObject({ inputRows: sequences.length, droppedGaps: 4 });
    const [state] = w.store.itemsOf('state#dt');
    expect(state?.payload).toMatchObject({ droppedGaps: 4, lastSequence: (MAX_GAPS + 4) * 2 });
    const payload = z.object({ missingSequences: z.array(z.unknown()) }).parse(state?.payload);
    expect(payload.missingSequences).toHaveLength(MAX_GAPS);
  });

  it('records of another producer are guarded by their 56-digit sequence numbers, exactly', async () => {
    // Arrange: positions that differ in the last digits only (as JavaScript numbers, all equal)
    const w = world();
    const base = 49_654_512_345_678_901_234_567_890_123_456_789_012_345_678_901_234_567_000n;
    const positions = [base + 1n, base + 2n, base + 17n].map(String);
    expect(new Set(positions.map(Number)).size).toBe(1);
    const plain = (at: readonly string[]) =>
      sliceOf(
        RAW,
        5,
        at.map((position, index) => ({
          position,
          timestampMs: 1_700_000_000_000,
          value: Buffer.from(rows[index] ?? ''),
          headers: new Map(),
        })),
      );
    const deps = { ...w.deps, defaultAnalysis: 'dt' };

    // Act
    const first = await aggregateSlices([plain(positions.slice(0, 2))], deps);
    const second = await aggregateSlices([plain(positions)], deps);

    // Assert
    expect(first[0]?.inputRows).toBe(2);
    expect(second[0]).toMatchObject({ inputRows: 1, duplicate: false });
    const cumulative = await cumulativeSummary(w.store, dtAnalysis, `topic:${RAW}`);
    expect(cumulative.rows).toBe(3);
    const [state] = w.store.itemsOf('state#dt');
    expect(state?.payload).toMatchObject({ lastSequence: positions[2] });
  });
});
