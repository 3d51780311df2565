import { describe, expect, it } from 'vitest';
import { generateDt } from '../../../shared/analyses/dt/generator.ts';
import { dtAnalysis } from '../../../shared/analyses/dt/index.ts';
import { analysisById, analysisForObjectKey } from '../../../shared/analyses/registry.ts';
import type { Json, JsonObject } from '../../../shared/core/analysis.ts';
import {
  type AggregateDependencies,
  aggregateSlices,
  type BatchSlice,
} from '../../../shared/pipeline/aggregate.ts';
import type { ItemStore, Publisher } from '../../../shared/pipeline/ports.ts';
import { bucketSeries, cumulativeSummary, pipelineHealth } from '../../../shared/pipeline/query.ts';
import { replayObject } from '../../../shared/pipeline/replay.ts';
import {
  FakeClock,
  InMemoryItemStore,
  InMemoryObjectSource,
  RecordingPublisher,
  toBatchSlices,
  topicLog,
} from '../../support/fakes.ts';
import { sentOrigin } from '../../support/sent-origin.ts';
import { asObject, concat, histogramOf } from '../dt/fixtures.ts';
import {
  parseReferenceTextRow,
  REFERENCE_DRIFT_EDGES,
  type ReferenceResult,
  referenceBatch,
} from '../dt/reference-model.ts';

const BUCKET = 'driftline-data';
const RAW = 'data_raw';
const CLEAN = 'data_clean';
const DEAD = 'data_dead';
const PARTITIONS = 10;
const HEADER = 'HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS';

// --- data ----------------------------------------------------------------------------------------

/** Rows that are not DAQ words (keyed and unkeyed), with the reason the reference gives them. */
const CORRUPT_ROWS = [
  '2,0,5,3387200947',
  '2,0,x,3387200947,1,2',
  '2,0,5,3387200947,4000,2',
  '2,0,5,1,2,3.5.1',
  'garbage',
  '2.5,0,5,3387200947,1,2',
];

const generated = new Map<string, string[]>();
/** The data lines of a generated CSV (split here, not by the framer), optionally with corrupt rows. */
function csvLines(rows: number, seed: number, corrupt = false): string[] {
  const id = `${rows}/${seed}`;
  let lines = generated.get(id);
  if (!lines) {
    const text = Buffer.from(concat([...generateDt({ rows, seed, format: 'csv' })])).toString('utf8');
    lines = text.split('\n').filter((line) => line.length > 0);
    expect(lines.shift()).toBe(HEADER);
    generated.set(id, lines);
  }
  const copy = [...lines];
  if (corrupt) {
    for (const [index, row] of CORRUPT_ROWS.entries()) copy.splice(1 + index * 701, 0, row);
  }
  return copy;
}

function csvObject(lines: readonly string[]): Uint8Array {
  return Buffer.from(`${HEADER}\n${lines.join('\n')}\n`);
}

function reference(lines: readonly string[]): ReferenceResult {
  return referenceBatch(lines.map(parseReferenceTextRow), REFERENCE_DRIFT_EDGES);
}

function numberAt(object: JsonObject, name: string): number {
  const value = object[name];
  if (typeof value !== 'number') throw new Error(`${name} is not a number`);
  return value;
}

function numbersAt(object: JsonObject, name: string): number[] {
  const value = object[name];
  if (!Array.isArray(value)) throw new Error(`${name} is not an array`);
  return value.map((item) => (typeof item === 'number' ? item : Number.NaN));
}

/** A dt summary (cumulative or per batch) in the reference model's shape. */
function summaryAsReference(summaryJson: Json | undefined): ReferenceResult {
  const summary = asObject(summaryJson);
  const perChamber = (name: string) => [0, 1, 2, 3].map((chamber) => histogramOf(summary, chamber, name));
  const drift = perChamber('drift_time_ns');
  const rejected: Record<string, number> = {};
  for (const [reason, count] of Object.entries(asObject(summary.rejected_by_reason)))
    if (typeof count === 'number') rejected[reason] = count;
  return {
    rowsRead: numberAt(summary, 'rows_read'),
    rejected,
    filtered: numberAt(summary, 'rows_filtered'),
    auxiliary: numberAt(summary, 'auxiliary_hits'),
    scintillator: numberAt(summary, 'scintillator_hits'),
    orbitsWithHits: numberAt(summary, 'orbits_with_hits'),
    orbitsWithScintillator: numberAt(summary, 'orbits_with_scintillator'),
    hitCountChamber: numbersAt(summary, 'hit_count_chamber'),
    occupancy: perChamber('occupancy').map((histogram) => histogram.counts),
    multiplicity: perChamber('multiplicity').map((histogram) => histogram.counts),
    gatedOccupancy: perChamber('gated_occupancy').map((histogram) => histogram.counts),
    drift: drift.map((histogram) => histogram.counts),
    driftUnderflow: drift.map((histogram) => histogram.underflow),
    driftOverflow: drift.map((histogram) => histogram.overflow),
  };
}

/** The quantities that do not depend on where batches are cut (per-row counts). */
function perRowQuantities(result: ReferenceResult) {
  return {
    rowsRead: result.rowsRead,
    rejected: result.rejected,
    filtered: result.filtered,
    auxiliary: result.auxiliary,
    scintillator: result.scintillator,
    hitCountChamber: result.hitCountChamber,
    occupancy: result.occupancy,
  };
}

function addResults(a: ReferenceResult, b: ReferenceResult): ReferenceResult {
  const add = (x: readonly number[], y: readonly number[]) =>
    x.map((value, index) => value + (y[index] ?? 0));
  const add2 = (x: readonly number[][], y: readonly number[][]) =>
    x.map((row, index) => add(row, y[index] ?? []));
  const rejected = { ...a.rejected };
  for (const [reason, count] of Object.entries(b.rejected))
    rejected[reason] = (rejected[reason] ?? 0) + count;
  return {
    rowsRead: a.rowsRead + b.rowsRead,
    rejected,
    filtered: a.filtered + b.filtered,
    auxiliary: a.auxiliary + b.auxiliary,
    scintillator: a.scintillator + b.scintillator,
    orbitsWithHits: a.orbitsWithHits + b.orbitsWithHits,
    orbitsWithScintillator: a.orbitsWithScintillator + b.orbitsWithScintillator,
    hitCountChamber: add(a.hitCountChamber, b.hitCountChamber),
    occupancy: add2(a.occupancy, b.occupancy),
    multiplicity: add2(a.multiplicity, b.multiplicity),
    gatedOccupancy: add2(a.gatedOccupancy, b.gatedOccupancy),
    drift: add2(a.drift, b.drift),
    driftUnderflow: add(a.driftUnderflow, b.driftUnderflow),
    driftOverflow: add(a.driftOverflow, b.driftOverflow),
  };
}

function total(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}

// --- harness -------------------------------------------------------------------------------------

interface Pipeline {
  readonly clock: FakeClock;
  /** Replay's publisher: its data_raw log is what aggregate reads. */
  readonly raw: RecordingPublisher;
  /** Aggregate's publisher (data_clean, data_dead). */
  readonly out: RecordingPublisher;
  readonly store: InMemoryItemStore;
  readonly source: InMemoryObjectSource;
  readonly deps: AggregateDependencies;
  replay(key: string, lines: readonly string[], metadata?: Record<string, string>): Promise<string>;
  aggregate(slices: readonly BatchSlice[]): ReturnType<typeof aggregateSlices>;
}

function pipeline(options: { bucketSeconds?: number; defaultAnalysis?: string } = {}): Pipeline {
  const clock = new FakeClock();
  const raw = new RecordingPublisher({ now: clock.now });
  const out = new RecordingPublisher({ now: clock.now });
  const store = new InMemoryItemStore({ now: clock.now });
  const source = new InMemoryObjectSource();
  const deps: AggregateDependencies = {
    analyses: analysisById,
    store,
    publisher: out,
    topics: { clean: CLEAN, dead: DEAD },
    bucketSeconds: options.bucketSeconds ?? 60,
    batchTtlSeconds: 86_400,
    ...(options.defaultAnalysis === undefined ? {} : { defaultAnalysis: options.defaultAnalysis }),
    now: clock.now,
  };
  return {
    clock,
    raw,
    out,
    store,
    source,
    deps,
    async replay(key, lines, metadata = { 'rows-per-record': '10' }) {
      const etag = `etag-${key.replace(/\W/g, '')}`;
      source.put(key, csvObject(lines), metadata, etag);
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
      expect(outcome.status).toBe('done');
      return `${key}@${etag.slice(0, 12)}`;
    },
    aggregate: (slices) => aggregateSlices(slices, deps),
  };
}

function parsedTexts(publisher: RecordingPublisher, topic: string): JsonObject[] {
  return publisher.texts(topic).map((text) => asObject(JSON.parse(text)));
}

function stateItems(store: InMemoryItemStore) {
  return store.itemsOf('state#dt');
}

// --- tests ---------------------------------------------------------------------------------------

describe('aggregateSlices: replayed data gives the reference totals', () => {
  it('one batch per partition: every quantity of the cumulative summary equals the reference over the file', async () => {
    // Arrange
    const lines = csvLines(6_000, 60, true);
    const p = pipeline();
    const run = await p.replay('dt/whole.csv', lines);
    const slices = toBatchSlices(p.raw, RAW);

    // Act
    const outcomes = await p.aggregate(slices);

    // Assert
    const expected = reference(lines);
    const cumulative = await cumulativeSummary(p.store, dtAnalysis, undefined);
    expect(summaryAsReference(cumulative.summary)).toEqual(expected);
    expect(cumulative).toMatchObject({
      analysis: 'dt',
      runs: [run],
      partitions: PARTITIONS,
      rows: lines.length,
      batches: slices.length,
      rejectedRows: total(expected.rejected),
    });
    expect(asObject(cumulative.summary).hit_count).toBe(expected.hitCountChamber.reduce((a, b) => a + b, 0));
    expect(outcomes.map((outcome) => outcome.duplicate)).toEqual(slices.map(() => false));
    expect(outcomes.reduce((sum, outcome) => sum + outcome.inputRows, 0)).toBe(lines.length);
    // Not vacuous: gated hits, drift times and multi-channel orbits are there.
    expect(expected.drift.flat().reduce((a, b) => a + b, 0)).toBeGreaterThan(100);
    expect(expected.multiplicity.flat().filter((count) => count > 0).length).toBeGreaterThan(4);
  });

  it.each([
    { rowsPerRecord: '1', maxRecords: 97 },
    { rowsPerRecord: '10', maxRecords: 1 },
    { rowsPerRecord: '10', maxRecords: 13 },
    { rowsPerRecord: '100', maxRecords: 2 },
  ])(
    'rows per record $rowsPerRecord, batches of ≤ $maxRecords records: per-row totals equal the reference',
    async ({ rowsPerRecord, maxRecords }) => {
      // Arrange
      const lines = csvLines(3_000, 61, true);
      const p = pipeline();
      await p.replay('dt/sliced.csv', lines, { 'rows-per-record': rowsPerRecord });
      const slices = toBatchSlices(p.raw, RAW, { maxRecords });

      // Act
      await p.aggregate(slices);

      // Assert
      const cumulative = await cumulativeSummary(p.store, dtAnalysis, undefined);
      expect(perRowQuantities(summaryAsReference(cumulative.summary))).toEqual(
        perRowQuantities(reference(lines)),
      );
      expect(cumulative.batches).toBe(slices.length);
      // Each data_clean summary describes its own batch: they add up to the same totals.
      const perBatch = parsedTexts(p.out, CLEAN).map(summaryAsReference);
      expect(perRowQuantities(perBatch.reduce(addResults))).toEqual(perRowQuantities(reference(lines)));
    },
  );
});

describe('aggregateSlices: exactly-once effect on state', () => {
  it('the same slices delivered again change nothing and re-publish the same summaries (same ids)', async () => {
    // Arrange
    const lines = csvLines(3_000, 62, true);
    const p = pipeline();
    await p.replay('dt/retried.csv', lines);
    const slices = toBatchSlices(p.raw, RAW, { maxRecords: 20 });
    await p.aggregate(slices);
    const storeBefore = p.store.snapshot();
    const firstSummaries = parsedTexts(p.out, CLEAN);
    const firstKeys = p.out.messages(CLEAN).map((message) => message.key);
    const deadBefore = p.out.messages(DEAD).length;
    p.out.clear(CLEAN);
    p.clock.advance(5_000);

    // Act
    const outcomes = await p.aggregate(slices);

    // Assert
    expect(p.store.snapshot()).toEqual(storeBefore);
    expect(outcomes.every((outcome) => outcome.duplicate && outcome.inputRows === 0)).toBe(true);
    // What a trigger retry re-delivers is each partition's last batch: its summary is published
    // again with the same id and body. Older batches sent again (a replay resend) publish nothing.
    const lastSliceKeys = new Set(
      [...new Map(slices.map((slice) => [slice.partition, slice])).values()].map(
        (slice) =>
          `${RAW}-${slice.partition}-${slice.records[0]?.position}-${slice.records.at(-1)?.position}`,
      ),
    );
    const republished = p.out.messages(CLEAN).map((message) => message.key ?? '');
    expect(new Set(republished)).toEqual(lastSliceKeys);
    const firstById = new Map(firstKeys.map((key, index) => [key, firstSummaries[index]]));
    for (const [index, summary] of parsedTexts(p.out, CLEAN).entries()) {
      expect(summary).toEqual(firstById.get(republished[index] ?? ''));
    }
    expect([...firstKeys].sort()).toEqual(
      slices
        .map(
          (slice) =>
            `${RAW}-${slice.partition}-${slice.records[0]?.position}-${slice.records[slice.records.length - 1]?.position}`,
        )
        .sort(),
    );
    expect(p.out.messages(DEAD)).toHaveLength(deadBefore);
  });

  it('re-sliced redelivery (other batch boundaries, overlapping what was applied) is applied once', async () => {
    // Arrange: half of each partition's log applied in batches of 40, then everything in batches of 67.
    const lines = csvLines(4_000, 63, true);
    const p = pipeline();
    await p.replay('dt/resliced.csv', lines, { 'rows-per-record': '3' });
    const firstHalf = [...topicLog(p.raw, RAW).entries()].flatMap(([partition, records]) => {
      const half = records.slice(0, Math.floor(records.length / 2));
      const slices: BatchSlice[] = [];
      for (let start = 0; start < half.length; start += 40)
        slices.push({ source: RAW, partition, records: half.slice(start, start + 40) });
      return slices;
    });
    await p.aggregate(firstHalf);

    // Act
    await p.aggregate(toBatchSlices(p.raw, RAW, { maxRecords: 67 }));
    const stateAfter = stateItems(p.store);
    await p.aggregate(toBatchSlices(p.raw, RAW, { maxRecords: 29 }));

    // Assert
    const cumulative = await cumulativeSummary(p.store, dtAnalysis, undefined);
    expect(perRowQuantities(summaryAsReference(cumulative.summary))).toEqual(
      perRowQuantities(reference(lines)),
    );
    expect(cumulative.rows).toBe(lines.length);
    expect(stateItems(p.store)).toEqual(stateAfter);
  });

  it('a data_clean failure after the state write: the retry gives the same state and the same summary', async () => {
    // Arrange: the same input through a pipeline that never fails, and one whose 4th summary publish fails.
    const lines = csvLines(3_000, 64, true);
    const clean = pipeline();
    const failing = pipeline();
    for (const p of [clean, failing]) await p.replay('dt/flaky.csv', lines);
    const slices = toBatchSlices(clean.raw, RAW, { maxRecords: 50 });
    await clean.aggregate(slices);
    failing.out.failNext(CLEAN, 1, { succeedFirst: 3 });

    // Act
    await expect(failing.aggregate(slices)).rejects.toThrow(/injected publish failure/);
    const retryOutcomes = await failing.aggregate(slices);

    // Assert: identical state, rollups and stored summaries
    expect(failing.store.snapshot()).toEqual(clean.store.snapshot());
    // Partitions run concurrently, so how many batches the failed attempt completed varies; every
    // slice is accounted for in the retry, as new work or as a recognised duplicate.
    expect(retryOutcomes).toHaveLength(slices.length);
    // Every batch id reached data_clean, the failed one with exactly the body of the clean run.
    const lastById = new Map(failing.out.messages(CLEAN).map((message) => [message.key, message]));
    const cleanById = new Map(clean.out.messages(CLEAN).map((message) => [message.key, message]));
    expect([...lastById.keys()].sort()).toEqual([...cleanById.keys()].sort());
    for (const [id, message] of cleanById) {
      expect(JSON.parse(Buffer.from(lastById.get(id)?.value ?? []).toString('utf8'))).toEqual(
        JSON.parse(Buffer.from(message.value).toString('utf8')),
      );
    }
  });

  it('a store failure between the rollup writes and the state write: the retry completes it once', async () => {
    // Arrange
    const lines = csvLines(3_000, 65, true);
    const clean = pipeline();
    const failing = pipeline();
    for (const p of [clean, failing]) await p.replay('dt/crash.csv', lines);
    const slices = toBatchSlices(clean.raw, RAW, { maxRecords: 50 });
    await clean.aggregate(slices);
    failing.store.failNext('put', { when: (key) => key.pk === 'state#dt' && (key.sk ?? '').endsWith('#3') });

    // Act
    await expect(failing.aggregate(slices)).rejects.toThrow(/injected put failure/);
    await failing.aggregate(slices);

    // Assert
    expect(stateItems(failing.store)).toEqual(stateItems(clean.store));
    expect(failing.store.itemsOf('rollup#dt')).toEqual(clean.store.itemsOf('rollup#dt'));
  });

  it('a resumed replay (records sent twice), one record per batch: every row counted once', async () => {
    // Arrange
    const lines = csvLines(12_000, 66);
    const p = pipeline();
    await crashAndResume(p, lines);
    const slices = toBatchSlices(p.raw, RAW, { maxRecords: 1 });

    // Act
    await p.aggregate(slices);

    // Assert
    const cumulative = await cumulativeSummary(p.store, dtAnalysis, undefined);
    expect(perRowQuantities(summaryAsReference(cumulative.summary))).toEqual(
      perRowQuantities(reference(lines)),
    );
    expect(cumulative.rows).toBe(lines.length);
  });

  // Regression test; the bug it caught was: `fresh` keeps every record whose sequence is above the *stored*
  // lastSequence, so when one batch holds a record and its resent copy (a replay that resumed from a
  // checkpoint writes `…, 41, 42, 40, 41, 42, 43…` to the partition), both copies are applied and the
  // rows are counted twice. Fixed by: walk the records in offset order keeping a running maximum —
  // accept a record only if its sequence is greater than max(lastSequence, sequences accepted so far).
  it('a resumed replay (records sent twice), whole partitions per batch: every row counted once', async () => {
    // Arrange
    const lines = csvLines(12_000, 66);
    const p = pipeline();
    await crashAndResume(p, lines);
    const slices = toBatchSlices(p.raw, RAW);

    // Act
    await p.aggregate(slices);

    // Assert
    const cumulative = await cumulativeSummary(p.store, dtAnalysis, undefined);
    expect(cumulative.rows).toBe(lines.length);
    expect(perRowQuantities(summaryAsReference(cumulative.summary))).toEqual(
      perRowQuantities(reference(lines)),
    );
  });

  // Regression test; the bug it caught was: a rollup's guard is "the bucket's lastSequence ≥ this batch's
  // last sequence in the bucket". After a crash between the rollup write and the state write, a
  // redelivery with *other* boundaries (here a larger batch: the trigger re-polls) has a higher last
  // sequence, so the rollup adds the whole batch again, including the records it already holds.
  // The state is right but bucketSeries over-counts. Fixed by: store in the rollup the range (first, last
  // sequence) it holds per (run, partition) and add only records above its lastSequence (filter
  // `fresh` per bucket by `sequence > current.lastSequence` before applyBatch).
  it('a crash before the state write, then a re-sliced redelivery: rollups still count each row once', async () => {
    // Arrange
    const lines = csvLines(3_000, 67);
    const p = pipeline();
    await p.replay('dt/rollup-crash.csv', lines);
    const partitionLog = topicLog(p.raw, RAW).get(3) ?? [];
    p.store.failNext('put', { when: (key) => key.pk === 'state#dt' });

    // Act
    await expect(
      p.aggregate([{ source: RAW, partition: 3, records: partitionLog.slice(0, 20) }]),
    ).rejects.toThrow(/injected put failure/);
    await p.aggregate([{ source: RAW, partition: 3, records: partitionLog.slice(0, 40) }]);

    // Assert
    const cumulative = await cumulativeSummary(p.store, dtAnalysis, undefined);
    const buckets = await bucketSeries(p.store, dtAnalysis, { fromMs: 0, toMs: p.clock.now() + 60_000 });
    expect(buckets.reduce((sum, bucket) => sum + numberAt(bucket, 'rows'), 0)).toBe(cumulative.rows);
  });
});

/** Replays `lines` (20 rows per record) with a crash after the first checkpoint, then resumes it. */
async function crashAndResume(p: Pipeline, lines: readonly string[]): Promise<void> {
  const key = 'dt/resumed.csv';
  p.source.put(key, csvObject(lines), { 'rows-per-record': '20' }, 'etag-resumed');
  const run = (invocationId: string) =>
    replayObject(
      { bucket: BUCKET, key },
      {
        analysisForKey: analysisForObjectKey,
        source: p.source,
        publisher: p.raw,
        store: p.store,
        rawTopic: RAW,
        partitions: PARTITIONS,
        defaults: { rowsPerRecord: 1, rate: 0 },
        invocationId,
        remainingMs: () => 600_000,
        continueLater: async () => {},
        now: p.clock.now,
        sleep: p.clock.sleep,
        log: () => {},
      },
    );
  // The last publish (after the checkpoint at row 10 000) dies having delivered 200 records.
  p.raw.failNext(RAW, 1, { succeedFirst: 1, deliverBeforeFailing: 200 });
  await expect(run('first')).rejects.toThrow(/injected publish failure/);
  p.clock.advance(600_001);
  expect((await run('second')).status).toBe('done');
  const sent = p.raw.messages(RAW);
  const distinct = new Set(
    sent.map((message) => `${message.partition}/${sentOrigin(message.headers).sequence}`),
  );
  expect(sent.length - distinct.size).toBeGreaterThan(50); // records really were sent twice
}

describe('aggregateSlices: rejected rows', () => {
  it('malformed rows go to data_dead with reason, detail and source coordinates, and are counted', async () => {
    // Arrange
    const lines = csvLines(2_000, 68, true);
    const p = pipeline();
    const run = await p.replay('dt/dirty.csv', lines, { 'rows-per-record': '4' });
    const log = topicLog(p.raw, RAW);
    const slices = toBatchSlices(p.raw, RAW, { maxRecords: 30 });

    // Act
    const outcomes = await p.aggregate(slices);

    // Assert: one dead letter per rejected row, reasons as the reference gives them
    const expected = reference(lines);
    expect(total(expected.rejected)).toBe(CORRUPT_ROWS.length);
    const dead = parsedTexts(p.out, DEAD);
    expect(dead).toHaveLength(CORRUPT_ROWS.length);
    const reasons: Record<string, number> = {};
    for (const letter of dead) {
      const reason = String(letter.reason);
      reasons[reason] = (reasons[reason] ?? 0) + 1;
      expect(typeof letter.detail === 'string' && letter.detail.length > 5).toBe(true);
      expect(letter).toMatchObject({ analysis: 'dt', run });
      // The coordinates lead back to the very row.
      const source = asObject(letter.source);
      expect(source.topic).toBe(RAW);
      const record = log.get(Number(source.partition))?.[Number(source.offset)];
      const rowText = Buffer.from(record?.value ?? [])
        .toString('utf8')
        .split('\n')[Number(source.rowIndex)];
      expect(rowText).toBe(letter.row);
      expect(CORRUPT_ROWS).toContain(letter.row);
      expect(String(letter.batchId)).toMatch(new RegExp(`^${RAW}-${source.partition}-\\d+-\\d+$`));
    }
    expect(reasons).toEqual(expected.rejected);
    expect(new Set(dead.map((letter) => letter.row))).toEqual(new Set(CORRUPT_ROWS));

    // Assert: counted in outcomes, batch summaries and the cumulative state
    expect(outcomes.reduce((sum, outcome) => sum + outcome.rejectedRows, 0)).toBe(CORRUPT_ROWS.length);
    const summaries = parsedTexts(p.out, CLEAN);
    expect(summaries.reduce((sum, summary) => sum + numberAt(summary, 'rows_rejected'), 0)).toBe(
      CORRUPT_ROWS.length,
    );
    const cumulative = await cumulativeSummary(p.store, dtAnalysis, undefined);
    expect(cumulative.rejectedRows).toBe(CORRUPT_ROWS.length);
    expect(asObject(cumulative.summary).rejected_by_reason).toEqual(expected.rejected);
  });

  function plainSlice(values: readonly string[], headers: Record<string, string> = {}): BatchSlice {
    return {
      source: RAW,
      partition: 2,
      records: values.map((value, offset) => ({
        position: String(100 + offset),
        timestampMs: 1_700_000_000_000,
        value: Buffer.from(value),
        headers: new Map(Object.entries(headers)),
      })),
    };
  }

  const PLAIN_ROWS = [
    '2,0,5,3387200947,100,10',
    '2,1,128,3387200947,101,0',
    '2,0,70,3387200950,7,29',
    '0,0,1,3,4,0',
  ];

  it('records without driftline headers use the default analysis, positioned by offset', async () => {
    // Arrange
    const p = pipeline({ defaultAnalysis: 'dt' });
    const slice = plainSlice(PLAIN_ROWS);

    // Act
    const outcomes = await p.aggregate([slice]);
    const again = await p.aggregate([slice]);

    // Assert
    expect(outcomes).toEqual([
      {
        batchId: `${RAW}-2-100-103`,
        analysis: 'dt',
        run: `topic:${RAW}`,
        inputRows: 4,
        rejectedRows: 0,
        duplicate: false,
        durationMs: expect.objectContaining({ stateWrite: 0, publish: 0 }),
      },
    ]);
    expect(again[0]?.duplicate).toBe(true);
    const cumulative = await cumulativeSummary(p.store, dtAnalysis, `topic:${RAW}`);
    expect(summaryAsReference(cumulative.summary)).toEqual(reference(PLAIN_ROWS));
    expect(p.out.messages(DEAD)).toHaveLength(0);
  });

  it('records without driftline headers and no default analysis are dead letters (bad-origin)', async () => {
    // Arrange
    const p = pipeline();

    // Act
    const outcomes = await p.aggregate([plainSlice(PLAIN_ROWS)]);

    // Assert
    const dead = parsedTexts(p.out, DEAD);
    expect(dead).toHaveLength(PLAIN_ROWS.length);
    for (const [index, letter] of dead.entries()) {
      expect(letter).toMatchObject({
        reason: 'bad-origin',
        row: PLAIN_ROWS[index],
        source: { topic: RAW, partition: 2, offset: String(100 + index), rowIndex: 0 },
        batchId: `${RAW}-2-100-103`,
      });
      expect(String(letter.detail)).toContain('driftline-analysis');
    }
    expect(outcomes.reduce((sum, outcome) => sum + outcome.rejectedRows, 0)).toBe(PLAIN_ROWS.length);
    expect(stateItems(p.store)).toEqual([]);
    expect(p.out.messages(CLEAN)).toHaveLength(0);
  });

  it('records no analysis can take are counted once per reason, even when the event comes again', async () => {
    // Arrange
    const p = pipeline();
    const unknown = plainSlice(PLAIN_ROWS.slice(0, 2), {
      'driftline-analysis': 'radar',
      'driftline-run': 'r1',
      'driftline-seq': '0',
    });
    const later = {
      ...plainSlice(PLAIN_ROWS),
      records: plainSlice(PLAIN_ROWS).records.map((record) => ({
        ...record,
        position: String(Number(record.position) + 10),
      })),
    };

    // Act: the first event twice (a retry), then a later one.
    await p.aggregate([unknown]);
    await p.aggregate([unknown]);
    await p.aggregate([later]);

    // Assert
    const health = await pipelineHealth(p.store, [dtAnalysis], p.clock.now(), 60_000);
    expect(health.unroutedRows).toBe(2 + PLAIN_ROWS.length);
    expect(health.unroutedByReason).toEqual({ 'unknown-analysis': 2, 'bad-origin': PLAIN_ROWS.length });
    // data_dead holds each record at least once, under a key made of its coordinates.
    const keys = p.out.messages(DEAD).map((message) => message.key);
    expect(new Set(keys).size).toBe(2 + PLAIN_ROWS.length);
  });

  it('an unknown analysis header is a dead letter (unknown-analysis) naming it', async () => {
    // Arrange
    const p = pipeline({ defaultAnalysis: 'dt' });
    const slice = plainSlice(PLAIN_ROWS.slice(0, 2), {
      'driftline-analysis': 'radar',
      'driftline-run': 'r1',
      'driftline-seq': '0',
    });

    // Act
    await p.aggregate([slice]);

    // Assert
    const dead = parsedTexts(p.out, DEAD);
    expect(dead.map((letter) => letter.reason)).toEqual(['unknown-analysis', 'unknown-analysis']);
    expect(dead[0]).toMatchObject({ analysis: 'radar', source: { partition: 2, offset: '100' } });
    expect(String(dead[0]?.detail)).toContain('radar');
    expect(stateItems(p.store)).toEqual([]);
  });
});

describe('aggregateSlices: a batch of many bad rows', () => {
  /** One data_raw record of `rows` rows that no analysis can parse, as a replayed dt record. */
  function badRecordSlice(rows: number, records = 1) {
    return {
      source: RAW,
      partition: 4,
      records: Array.from({ length: records }, (_, index) => ({
        position: String(index),
        timestampMs: 1_700_000_000_000,
        value: Buffer.from(`${'x\n'.repeat(rows - 1)}x`),
        headers: new Map([
          ['driftline-analysis', 'dt'],
          ['driftline-run', 'bad'],
          ['driftline-seq', String(index)],
          ['driftline-format', 'text'],
        ]),
      })),
    };
  }

  // Regression test; the bug it caught was: aggregate gathered a batch's rejections with
  // `push(...step.rejections)`, which throws RangeError (maximum call stack size exceeded) above
  // ~128,000 elements: a 400 KB record of 200,000 bad rows failed on every retry and held its
  // partition for ever. Fixed by: rejections go to a dead-letter sink as each call of the analysis
  // yields them, counted and sent in chunks, never gathered.
  it('one 400 KB record of 200,000 bad rows is counted, dead-lettered in chunks, and the batch completes', async () => {
    // Arrange
    const p = pipeline();

    // Act
    const outcomes = await p.aggregate([badRecordSlice(200_000)]);

    // Assert
    expect(outcomes).toMatchObject([{ inputRows: 200_000, rejectedRows: 200_000, duplicate: false }]);
    expect(p.out.messages(DEAD)).toHaveLength(200_000);
    expect(p.out.calls.get(DEAD)).toBe(200);
    const [summary] = parsedTexts(p.out, CLEAN);
    expect(summary).toMatchObject({ rows_rejected: 200_000, rejected_by_reason: { 'field-count': 200_000 } });
    const [state] = stateItems(p.store);
    expect(asObject(state?.payload)).toMatchObject({ rows: 200_000, rejectedRows: 200_000 });
  });

  it('a batch of many bad records applies them a bounded amount at a time, sending dead letters in between', async () => {
    // Arrange: 40 records of 10,000 bad rows (20 KB each, 800 KB in all: several calls of the analysis).
    const p = pipeline();
    const perCall: number[] = [];
    const sentBeforeCall: number[] = [];
    const watched = {
      ...dtAnalysis,
      applyBatch: (state: unknown, records: Parameters<typeof dtAnalysis.applyBatch>[1]) => {
        sentBeforeCall.push(p.out.messages(DEAD).length);
        const step = dtAnalysis.applyBatch(state as ReturnType<typeof dtAnalysis.emptyState>, records);
        perCall.push(step.rejections.length);
        return step;
      },
    };
    const deps = { ...p.deps, analyses: (id: string) => (id === 'dt' ? watched : analysisById(id)) };

    // Act
    const outcomes = await aggregateSlices([badRecordSlice(10_000, 40)], deps as typeof p.deps);

    // Assert
    expect(outcomes).toMatchObject([{ rejectedRows: 400_000 }]);
    expect(p.out.messages(DEAD)).toHaveLength(400_000);
    expect(perCall.length).toBeGreaterThan(1);
    expect(Math.max(...perCall)).toBeLessThanOrEqual(140_000);
    // Each call's letters are out before the next call starts: memory holds one call's rejections.
    expect(sentBeforeCall).toEqual(
      perCall.map((_, index) => perCall.slice(0, index).reduce((a, b) => a + b, 0)),
    );
  });
});

describe('aggregateSlices: rollups and runs', () => {
  it('bucketSeries summed over all buckets equals the cumulative totals', async () => {
    // Arrange: replay at 1000 rows/s, so the records span ~4 s of 1 s buckets.
    const lines = csvLines(4_000, 69, true);
    const p = pipeline({ bucketSeconds: 1 });
    await p.replay('dt/buckets.csv', lines, { 'rows-per-record': '5', rate: '1000' });
    const slices = toBatchSlices(p.raw, RAW, { maxRecords: 25 });

    // Act
    await p.aggregate(slices);

    // Assert
    const buckets = await bucketSeries(p.store, dtAnalysis, { fromMs: 0, toMs: p.clock.now() + 1_000 });
    expect(buckets.length).toBeGreaterThanOrEqual(3);
    const starts = buckets.map((bucket) => numberAt(bucket, 'bucketStartMs'));
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    for (const start of starts) expect(start % 1_000).toBe(0);
    const cumulative = await cumulativeSummary(p.store, dtAnalysis, undefined);
    const summed = buckets.map((bucket) => summaryAsReference(bucket.summary)).reduce(addResults);
    // Buckets hold hit-level counts at once and orbit-level ones when an orbit closes; the
    // cumulative view also counts the orbits still open. Hit-level quantities must add up exactly.
    expect(perRowQuantities(summed)).toEqual(perRowQuantities(summaryAsReference(cumulative.summary)));
    expect(buckets.reduce((sum, bucket) => sum + numberAt(bucket, 'rows'), 0)).toBe(lines.length);
    expect(buckets.reduce((sum, bucket) => sum + numberAt(bucket, 'rejectedRows'), 0)).toBe(
      CORRUPT_ROWS.length,
    );
    expect(perRowQuantities(summed)).toEqual(perRowQuantities(reference(lines)));
  });

  it('two runs are kept apart: the run filter gives each its own reference totals', async () => {
    // Arrange
    const linesA = csvLines(2_500, 70);
    const linesB = csvLines(1_500, 71, true);
    const p = pipeline();
    const runA = await p.replay('dt/a.csv', linesA);
    const runB = await p.replay('dt/b.csv', linesB);
    const slices = toBatchSlices(p.raw, RAW);

    // Act
    const outcomes = await p.aggregate(slices);

    // Assert
    const a = await cumulativeSummary(p.store, dtAnalysis, runA);
    const b = await cumulativeSummary(p.store, dtAnalysis, runB);
    const both = await cumulativeSummary(p.store, dtAnalysis, undefined);
    expect(summaryAsReference(a.summary)).toEqual(reference(linesA));
    expect(summaryAsReference(b.summary)).toEqual(reference(linesB));
    expect(a).toMatchObject({ runs: [runA], rows: linesA.length });
    expect(b).toMatchObject({ runs: [runB], rows: linesB.length, rejectedRows: CORRUPT_ROWS.length });
    expect(both).toMatchObject({ runs: [runA, runB].sort(), rows: linesA.length + linesB.length });
    expect(summaryAsReference(both.summary)).toEqual(addResults(reference(linesA), reference(linesB)));
    // One slice carried both runs: two batches with distinct ids.
    const ids = outcomes.map((outcome) => outcome.batchId);
    expect(new Set(ids).size).toBe(ids.length);
    const bucketsA = await bucketSeries(p.store, dtAnalysis, { fromMs: 0, toMs: p.clock.now(), run: runA });
    expect(bucketsA.reduce((sum, bucket) => sum + numberAt(bucket, 'rows'), 0)).toBe(linesA.length);
    const none = await cumulativeSummary(p.store, dtAnalysis, 'dt/unknown.csv@x');
    expect(none).toMatchObject({ runs: [], rows: 0, partitions: 0 });
  });

  it("an applied batch's outcome gives its phases, the summary put, the state write and the publish too", async () => {
    // Arrange: each put and the data_clean publish take a time of their own on the fake clock.
    const lines = csvLines(100, 73);
    const p = pipeline();
    await p.replay('dt/phases.csv', lines, { 'rows-per-record': '100' });
    const [slice] = toBatchSlices(p.raw, RAW, { maxRecords: 10 });
    const costMs = (pk: string) => (pk.startsWith('batch#') ? 7 : pk.startsWith('state#') ? 11 : 3);
    const store: ItemStore = {
      get: (key) => p.store.get(key),
      query: (pk, range) => p.store.query(pk, range),
      put: async (item, condition) => {
        p.clock.advance(costMs(item.pk));
        return p.store.put(item, condition);
      },
    };
    const publisher: Publisher = {
      publish: async (topic, messages) => {
        if (topic === CLEAN) p.clock.advance(5);
        await p.out.publish(topic, messages);
      },
    };

    // Act
    const outcomes = await aggregateSlices(slice ? [slice] : [], { ...p.deps, store, publisher });

    // Assert
    expect(outcomes[0]?.durationMs).toMatchObject({
      rollupWrite: 3,
      summaryWrite: 7,
      stateWrite: 11,
      publish: 5,
    });
    // The summary can only hold the phases before its own put.
    const [summary] = parsedTexts(p.out, CLEAN);
    expect(summary?.progress).toMatchObject({ durationMs: { rollupWrite: 3 } });
    expect(summary?.progress).not.toHaveProperty('durationMs.summaryWrite');
  });

  it('each data_clean summary carries Spark-style progress for its batch', async () => {
    // Arrange
    const lines = csvLines(1_000, 72);
    const p = pipeline();
    await p.replay('dt/progress.csv', lines, { 'rows-per-record': '2' });
    const slices = toBatchSlices(p.raw, RAW, { maxRecords: 10 });
    p.clock.advance(1_500);

    // Act
    await p.aggregate(slices);

    // Assert
    const summaries = parsedTexts(p.out, CLEAN);
    expect(summaries).toHaveLength(slices.length);
    // Partitions are processed concurrently: match each summary to its slice by batch id.
    const sliceById = new Map(
      slices.map((slice) => [
        `${RAW}-${slice.partition}-${slice.records[0]?.position}-${slice.records.at(-1)?.position}`,
        slice,
      ]),
    );
    for (const summary of summaries) {
      const slice = sliceById.get(String(summary.msg_ID));
      expect(slice).toBeDefined();
      const rows = (slice?.records ?? []).reduce(
        (sum, record) => sum + Buffer.from(record.value).toString('utf8').split('\n').length,
        0,
      );
      expect(summary).toMatchObject({
        analysis: 'dt',
        topic: RAW,
        partition: slice?.partition,
        progress: {
          numInputRows: rows,
          numInputRecords: slice?.records.length,
          startOffset: Number(slice?.records[0]?.position),
          endOffset: Number(slice?.records.at(-1)?.position),
          lagMs: { min: 1_500, max: 1_500, avg: 1_500 },
        },
      });
      // msg_ID is the batch id (found above); the duplicate it replaced is gone.
      expect(summary).not.toHaveProperty('batchId');
    }
  });
});
