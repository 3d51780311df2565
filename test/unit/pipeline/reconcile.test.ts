/**
 * Reconcile over the in-memory fakes: objects replayed (replayObject) and aggregated (aggregateSlices)
 * into a fake state table, then read back and folded offline. Equal after a clean replay; a tampered
 * state item is a difference, named; a replay still running or still being aggregated is not compared;
 * a run whose object is gone is said to be. And, for dt and sf, the merged partition states against
 * one stream of the same rows: only the quantities the analysis names as order-dependent may differ.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { generateDt } from '../../../shared/analyses/dt/generator.ts';
import { allAnalyses, analysisById, analysisForObjectKey } from '../../../shared/analyses/registry.ts';
import type { Json } from '../../../shared/core/analysis.ts';
import { type AggregateDependencies, aggregateSlices } from '../../../shared/pipeline/aggregate.ts';
import { listedReplays } from '../../../shared/pipeline/query.ts';
import {
  compareQuantity,
  type RunCheck,
  reconcile,
  recordOf,
  writeRecord,
} from '../../../shared/pipeline/reconcile.ts';
import { readReconcileRecord } from '../../../shared/pipeline/reconcile-record.ts';
import { replayObject } from '../../../shared/pipeline/replay.ts';
import {
  FakeClock,
  InMemoryItemStore,
  InMemoryObjectSource,
  RecordingPublisher,
  toBatchSlices,
} from '../../support/fakes.ts';
import { concat, testRandom } from '../dt/fixtures.ts';
import { bytes, call } from '../sf/fixtures.ts';

const BUCKET = 'datasets';
const RAW = 'data_raw';
const PARTITIONS = 10;

/** A day of calls, newest first (as the real file), with duplicates and a few rows sf drops. */
function callsNewestFirst(count: number, seed: number): string[] {
  const random = testRandom(seed);
  const rows: string[] = [];
  for (let index = 0; index < count; index++) {
    const minute = Math.floor(((count - index) / count) * 1439);
    const time = `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
    const type = ['Passing Call', 'Traffic Stop', 'Suspicious Person', 'Noise'][Math.floor(random() * 4)];
    const disposition = random() < 0.02 ? '' : random() < 0.5 ? 'HAN' : 'ADV';
    rows.push(call({ time, type, crimeId: String(index), disposition }));
    if (random() < 0.05) rows.push(rows[rows.length - 1] ?? '');
  }
  rows.push('{"not": "a call"', '{"call_date_time": 5}');
  return rows;
}

function sfObject(rows: readonly string[]): Uint8Array {
  return bytes(`${rows.join('\n')}\n`);
}

function dtObject(rows: number, seed: number): Uint8Array {
  return concat([...generateDt({ rows, seed, format: 'csv' })]);
}

interface World {
  readonly clock: FakeClock;
  readonly store: InMemoryItemStore;
  readonly source: InMemoryObjectSource;
  readonly raw: RecordingPublisher;
  /** Replays an object into data_raw; returns its run. */
  replay(
    key: string,
    object: Uint8Array,
    metadata?: Record<string, string>,
    expected?: string,
  ): Promise<string>;
  /** Aggregates what data_raw holds (batches of `maxRecords`), as the trigger would. */
  aggregate(maxRecords?: number): Promise<void>;
  check(selection?: Parameters<typeof reconcile>[0]): Promise<RunCheck[]>;
}

function world(): World {
  const clock = new FakeClock();
  const store = new InMemoryItemStore({ now: clock.now });
  const source = new InMemoryObjectSource();
  const raw = new RecordingPublisher({ now: clock.now });
  const aggregateDeps: AggregateDependencies = {
    analyses: analysisById,
    store,
    publisher: new RecordingPublisher({ now: clock.now }),
    topics: { clean: 'data_clean', dead: 'data_dead' },
    bucketSeconds: 5,
    batchTtlSeconds: 86_400,
    now: clock.now,
  };
  return {
    clock,
    store,
    source,
    raw,
    async replay(key, object, metadata = {}, expected = 'done') {
      source.put(key, object, metadata);
      const outcome = await replayObject(
        { bucket: BUCKET, key },
        {
          analysisForKey: analysisForObjectKey,
          source,
          publisher: raw,
          store,
          rawTopic: RAW,
          partitions: PARTITIONS,
          defaults: { rowsPerRecord: 1, rate: 0 },
          invocationId: `replay-${key}`,
          remainingMs: clock.deadline(900_000),
          continueLater: async () => {},
          now: clock.now,
          sleep: clock.sleep,
          log: () => {},
        },
      );
      expect(outcome.status).toBe(expected);
      const head = await source.head(BUCKET, key);
      return `${key}@${head.etag.slice(0, 12)}`;
    },
    async aggregate(maxRecords = 700) {
      await aggregateSlices(toBatchSlices(raw, RAW, { maxRecords }), aggregateDeps);
      clock.advance(1_000);
    },
    check: (selection = {}) => reconcile(selection, { store, source, analyses: allAnalyses() }),
  };
}

function compared(check: RunCheck | undefined) {
  if (check?.kind !== 'compared') throw new Error(`expected a compared run, got ${check?.kind}`);
  return check;
}

/** A state item of the run, rewritten as if someone had changed the table. */
async function tamper(
  store: InMemoryItemStore,
  run: string,
  change: (payload: Record<string, Json>) => void,
) {
  const [item] = store.itemsOf('state#dt').filter((candidate) => candidate.sk.startsWith(`${run}#`));
  if (!item || typeof item.payload !== 'object' || item.payload === null || Array.isArray(item.payload))
    throw new Error('no state item to tamper with');
  const payload = { ...item.payload };
  change(payload);
  await store.put(
    { ...item, version: item.version + 1, payload },
    { kind: 'version', version: item.version },
  );
}

describe('reconcile: the live state against an offline run of the same object', () => {
  it('after a clean replay every quantity is equal (dt packed, sf gzipped in event-time order, sf to one partition)', async () => {
    // Arrange
    const w = world();
    const dtRun = await w.replay('dt/a/telescope.csv', dtObject(20_000, 3), { 'rows-per-record': '25' });
    const calls = callsNewestFirst(3_000, 1);
    const sfRun = await w.replay('sf/a/calls.ndjson.gz', gzipSync(sfObject(calls)), { order: 'event-time' });
    const oneRun = await w.replay('sfb/a/calls.ndjson', sfObject(callsNewestFirst(1_000, 2)), {
      partition: '3',
    });
    await w.aggregate();

    // Act
    const checks = await w.check();

    // Assert
    expect(checks.map((check) => [check.run, check.kind])).toEqual([
      [dtRun, 'compared'],
      [sfRun, 'compared'],
      [oneRun, 'compared'],
    ]);
    for (const check of checks.map(compared)) {
      expect(check.quantities.filter((quantity) => !quantity.equal)).toEqual([]);
      expect(check.equal).toBe(true);
    }
    const [dt, sf, one] = checks.map(compared);
    expect(dt?.rows).toBe(20_000);
    expect(dt?.partitions).toBe(PARTITIONS);
    expect(sf).toMatchObject({ order: 'event-time', rows: calls.length });
    expect(sf?.quantities.find((quantity) => quantity.name === 'rows_late')?.live).toBe(0);
    expect(one).toMatchObject({ partitions: 1, oneStream: undefined });
  });

  it('a tampered state item is a difference, named with its first differing value', async () => {
    // Arrange
    const w = world();
    const run = await w.replay('dt/b/telescope.csv', dtObject(5_000, 4));
    await w.aggregate();
    await tamper(w.store, run, (payload) => {
      payload.rows = Number(payload.rows) + 7;
    });

    // Act
    const [check] = await w.check({ runs: new Set([run]) });

    // Assert
    const result = compared(check);
    expect(result.equal).toBe(false);
    const rows = result.quantities.find((quantity) => quantity.name === 'rows');
    expect(rows).toMatchObject({ equal: false, live: 5_007, offline: 5_000 });
    expect(result.quantities.filter((quantity) => !quantity.equal).map((quantity) => quantity.name)).toEqual([
      'rows',
    ]);
  });

  it('a state counted twice (a batch applied again) differs in the counts, not only in rows', async () => {
    // Arrange: the partition's state replaced by its own state merged with itself.
    const w = world();
    const run = await w.replay('dt/c/telescope.csv', dtObject(3_000, 5));
    await w.aggregate();
    const dt = analysisById('dt');
    if (!dt) throw new Error('no dt');
    await tamper(w.store, run, (payload) => {
      const state = dt.stateCodec.decode(payload.data ?? null);
      const doubled = dt.mergeStates([state, state]);
      payload.data = dt.stateCodec.encode(doubled);
    });

    // Act
    const [check] = await w.check({ runs: new Set([run]) });

    // Assert
    const differing = compared(check)
      .quantities.filter((quantity) => !quantity.equal)
      .map((quantity) => quantity.name);
    expect(differing).toContain('hit_count');
    expect(differing).not.toContain('rows');
  });

  it('a replay still running, and one not yet aggregated, are not compared', async () => {
    // Arrange: one object replayed but not aggregated; one whose checkpoint says it is running.
    const w = world();
    const notYet = await w.replay('dt/d/telescope.csv', dtObject(2_000, 6));
    const running = await w.replay('dt/e/telescope.csv', dtObject(2_000, 7));
    await w.aggregate();
    const pending = await w.replay('dt/f/telescope.csv', dtObject(2_000, 8));
    const checkpoint = await w.store.get({ pk: 'replay', sk: `${BUCKET}/dt/e/telescope.csv` });
    if (!checkpoint || typeof checkpoint.payload !== 'object' || checkpoint.payload === null)
      throw new Error();
    await w.store.put(
      {
        ...checkpoint,
        version: checkpoint.version + 1,
        payload: { ...checkpoint.payload, status: 'running' },
      },
      undefined,
    );

    // Act
    const checks = await w.check();

    // Assert
    const byRun = new Map(checks.map((check) => [check.run, check]));
    expect(byRun.get(notYet)?.kind).toBe('compared');
    expect(byRun.get(running)).toMatchObject({ kind: 'running', rowsSent: 2_000 });
    expect(byRun.get(pending)).toMatchObject({ kind: 'aggregating', rowsSent: 2_000, liveRows: 0 });
  });

  it('a run whose object was deleted, or replaced by a new version, is reported as gone', async () => {
    // Arrange
    const w = world();
    const deleted = await w.replay('dt/g/telescope.csv', dtObject(1_000, 9));
    const replaced = await w.replay('dt/h/telescope.csv', dtObject(1_000, 10));
    await w.aggregate();
    w.source.delete('dt/g/telescope.csv');
    // A new version under the same key, replayed: its checkpoint replaces the old run's.
    const newer = await w.replay('dt/h/telescope.csv', dtObject(1_000, 11));
    await w.aggregate();

    // Act
    const checks = await w.check();

    // Assert
    const byRun = new Map(checks.map((check) => [check.run, check]));
    expect(byRun.get(deleted)).toMatchObject({ kind: 'object-gone', liveRows: 1_000 });
    expect(byRun.get(deleted)?.kind === 'object-gone' && byRun.get(deleted)).toMatchObject({
      reason: `s3://${BUCKET}/dt/g/telescope.csv no longer exists`,
    });
    expect(byRun.get(replaced)).toMatchObject({ kind: 'object-gone', object: undefined, liveRows: 1_000 });
    expect(compared(byRun.get(newer)).equal).toBe(true);
  });

  it('a replay refused part-way (a truncated .gz) is compared over the rows it sent', async () => {
    // Arrange
    const w = world();
    const compressed = gzipSync(dtObject(20_000, 17));
    const run = await w.replay(
      'dt/cut/telescope.csv.gz',
      compressed.subarray(0, compressed.length * 0.6),
      {},
      'refused',
    );
    await w.aggregate();

    // Act
    const [check] = await w.check();

    // Assert
    const result = compared(check);
    expect(result.run).toBe(run);
    expect(result.equal).toBe(true);
    expect(result.rows).toBeGreaterThan(0);
    expect(result.rows).toBeLessThan(20_000);
  });

  it('the analysis filter and an unknown analysis', async () => {
    const w = world();
    await w.replay('dt/i/telescope.csv', dtObject(500, 12));
    await w.aggregate();
    expect(await w.check({ analysis: 'sf' })).toEqual([]);
    await expect(w.check({ analysis: 'nope' })).rejects.toThrow(
      /unknown analysis "nope"; known: dt, sf, sfb/,
    );
  });

  it('the record for the dashboard: written per object, served with its replay (for that run only)', async () => {
    // Arrange
    const w = world();
    const run = await w.replay('dt/j/telescope.csv', dtObject(1_000, 13));
    await w.aggregate();
    const [check] = await w.check();

    // Act
    await writeRecord(w.store, recordOf(compared(check), w.clock.now()));

    // Assert
    const [item] = w.store.itemsOf('reconcile');
    expect(item && readReconcileRecord(item)).toMatchObject({
      run,
      equal: true,
      rows: 1_000,
      differences: [],
    });
    const { replays } = await listedReplays(w.store, w.clock.now());
    expect(replays[0]?.reconciled).toMatchObject({ equal: true, rows: 1_000, differences: [] });
    // A new version of the object is another run: the old result is not shown for it.
    await w.replay('dt/j/telescope.csv', dtObject(1_000, 14));
    const after = await listedReplays(w.store, w.clock.now());
    expect(after.replays[0]?.reconciled).toBeUndefined();
  });
});

describe('merged partition states against one stream of the same rows', () => {
  async function notesFor(key: string, object: Uint8Array, metadata: Record<string, string> = {}) {
    const w = world();
    await w.replay(key, object, metadata);
    await w.aggregate();
    const [check] = await w.check();
    const result = compared(check);
    expect(result.equal).toBe(true);
    return result.oneStream ?? [];
  }

  it('dt: every quantity is the same (an orbit stays in one partition)', async () => {
    expect(await notesFor('dt/k/telescope.csv', dtObject(30_000, 15))).toEqual([]);
  });

  it.each([
    ['sf', 'file order (newest first)', {}],
    ['sf', 'event-time order', { order: 'event-time' }],
    ['sfb', 'file order (newest first)', {}],
    ['sfb', 'event-time order', { order: 'event-time' }],
  ])(
    '%s, %s: only quantities the analysis names as order-dependent differ, each with its reason',
    async (id, _order, metadata) => {
      const notes = await notesFor(`${id}/l/calls.ndjson`, sfObject(callsNewestFirst(4_000, 16)), metadata);
      expect(notes.length).toBeGreaterThan(0);
      for (const note of notes) {
        expect(note.why, `${note.name} differs without a reason`).toBeDefined();
        expect(analysisById(id)?.orderDependentFields?.[note.name]).toBe(note.why);
      }
      // Exact dedup: every copy of a call meets in one partition, so the counts never depend on it.
      if (id === 'sf') {
        const names = notes.map((note) => note.name);
        for (const exact of ['rows_read', 'rows_duplicate', 'rows_distinct', 'crime_types', 'dispositions']) {
          expect(names).not.toContain(exact);
        }
      }
    },
  );
});

describe('compareQuantity', () => {
  it('counts values and finds the first difference by path', () => {
    const check = compareQuantity(
      'crime_types',
      [
        { name: 'a', count: 2 },
        { name: 'b', count: 1 },
      ],
      [
        { name: 'a', count: 2 },
        { name: 'b', count: 3 },
        { name: 'c', count: 1 },
      ],
    );
    expect(check).toMatchObject({ equal: false, values: 6, differing: 3 });
    expect(check.first).toEqual({ path: 'crime_types[1].count', live: 1, offline: 3 });
    expect(compareQuantity('n', 5, 5)).toMatchObject({ equal: true, values: 1, differing: 0 });
    expect(compareQuantity('e', {}, [])).toMatchObject({ equal: false });
  });
});
