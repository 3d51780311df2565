import { describe, expect, it } from 'vitest';
import { type DtBatch, type DtState, dtAnalysis } from '../../../shared/analyses/dt/index.ts';
import {
  MAX_OPEN_HITS,
  MAX_OPEN_ORBITS,
  openOrbitsTotals,
  rawOrbit,
} from '../../../shared/analyses/dt/open-orbits.ts';
import { summarize } from '../../../shared/analyses/dt/summary.ts';
import { mergeTotals } from '../../../shared/analyses/dt/totals.ts';
import type { Json, WireFormat } from '../../../shared/core/analysis.ts';
import {
  asObject,
  generatedRows,
  histogramOf,
  packRecords,
  partitionRows,
  randomSizes,
  referenceParse,
  splitBySizes,
  summaryAsReference,
  testRandom,
  textRecords,
  throughJsonText,
} from './fixtures.ts';
import { REFERENCE_DRIFT_EDGES, referenceBatch } from './reference-model.ts';

interface Folded {
  state: DtState;
  batches: DtBatch[];
}

/** Applies `rows` cut into batches of `sizes` rows (the last takes the rest), threading the state. */
function fold(
  rows: readonly Uint8Array[],
  wireFormat: WireFormat,
  rowsPerRecord: number,
  sizes: readonly number[],
  partition = 0,
): Folded {
  let state = dtAnalysis.emptyState();
  const batches: DtBatch[] = [];
  for (const batchRows of splitBySizes(rows, sizes)) {
    const step = dtAnalysis.applyBatch(state, packRecords(batchRows, wireFormat, rowsPerRecord, partition));
    state = step.state;
    batches.push(step.batch);
  }
  return { state, batches };
}

/** Every batch's contribution, summed, plus the open orbits counted now, is the cumulative view. */
function expectBatchesPlusOpenAreCumulative(state: DtState, batches: readonly DtBatch[]): void {
  const summed = batches.reduce(dtAnalysis.mergeBatches, dtAnalysis.emptyBatch());
  expect(state.closed).toEqual(summed);
  expect(summarize(mergeTotals(summed, openOrbitsTotals(state.open)))).toEqual(
    dtAnalysis.summarizeState(state),
  );
}

function sumOf(counts: readonly number[]): number {
  return counts.reduce((a, b) => a + b, 0);
}

describe.each([
  { seed: 31, format: 'bin', rowsPerRecord: 1, rowCount: 40_000 },
  { seed: 32, format: 'csv', rowsPerRecord: 1, rowCount: 25_000 },
  { seed: 33, format: 'bin', rowsPerRecord: 25, rowCount: 40_000 },
  { seed: 34, format: 'csv', rowsPerRecord: 100, rowCount: 25_000 },
] as const)(
  'dt state: orbits across batches (seed $seed, $format, $rowsPerRecord rows/record)',
  ({ seed, format, rowsPerRecord, rowCount }) => {
    const { rows, wireFormat } = generatedRows({ rows: rowCount, seed, format });
    const whole = fold(rows, wireFormat, rowsPerRecord, [rows.length]);
    const wholeSummary = dtAnalysis.summarizeState(whole.state);

    it('one batch over the whole file is the naive whole-file reference, nothing late', () => {
      // Act
      const expected = referenceBatch(
        rows.map((row) => referenceParse(row, wireFormat)),
        REFERENCE_DRIFT_EDGES,
      );

      // Assert
      expect(summaryAsReference(wholeSummary)).toEqual(expected);
      expect(wholeSummary.late_hits).toBe(0);
      // Not vacuous: many orbits, some still open at the end, gated hits and multi-channel orbits.
      expect(whole.state.open.orbits).toHaveLength(MAX_OPEN_ORBITS);
      expect(expected.orbitsWithHits).toBeGreaterThan(4 * MAX_OPEN_ORBITS);
      expect(sumOf(expected.drift.flat())).toBeGreaterThan(1_000);
      expect(expected.multiplicity.flat().filter((count) => count > 0).length).toBeGreaterThan(8);
      expectBatchesPlusOpenAreCumulative(whole.state, whole.batches);
    });

    it.each([1, 2, 3])(
      'batches of random sizes, 1-row batches included, give the same cumulative view (cut %i)',
      (cut) => {
        // Arrange: 1-row batches for a stretch, then random sizes up to 3000 rows.
        const random = testRandom(seed * 10 + cut);
        const ones = new Array<number>(800 + Math.floor(random() * 400)).fill(1);
        const sizes = [
          ...randomSizes(random, 2_000, 300),
          ...ones,
          ...randomSizes(random, rows.length, 3_000),
        ];

        // Act
        const { state, batches } = fold(rows, wireFormat, rowsPerRecord, sizes);

        // Assert
        expect(dtAnalysis.summarizeState(state)).toEqual(wholeSummary);
        expect(batches.length).toBeGreaterThan(800);
        expectBatchesPlusOpenAreCumulative(state, batches);
        for (const batch of batches) {
          expect(batch.lateHits).toBe(0);
          expect(
            Math.min(...batch.multiplicity, ...batch.gatedOccupancy, ...batch.driftTime),
          ).toBeGreaterThanOrEqual(0);
        }
      },
    );

    it('10 partitions keyed by ORBIT_CNT % 10, each cut at random, merged: the same cumulative view', () => {
      // Arrange
      const random = testRandom(seed + 100);
      const partitions = partitionRows(rows, wireFormat, 10);

      // Act
      const folded = partitions.map((partitionRowsOf, partition) =>
        fold(
          partitionRowsOf,
          wireFormat,
          rowsPerRecord,
          randomSizes(random, partitionRowsOf.length, partition % 3 === 0 ? 40 : 1_000),
          partition,
        ),
      );
      const states = folded.map(({ state }) => state);
      const merged = dtAnalysis.mergeStates(states);

      // Assert: complete at any time, whatever the merge order.
      expect(dtAnalysis.summarizeState(merged)).toEqual(wholeSummary);
      expect(dtAnalysis.summarizeState(dtAnalysis.mergeStates([...states].reverse()))).toEqual(wholeSummary);
      expectBatchesPlusOpenAreCumulative(
        merged,
        folded.flatMap(({ batches }) => batches),
      );
      expect(merged.open.orbits.length).toBe(
        states.reduce((sum, state) => sum + state.open.orbits.length, 0),
      );
    });
  },
);

describe('dt state: the window of open orbits', () => {
  it("covers the generator's reordering with a wide margin", () => {
    // Arrange: one stream (as `driftline analyze` reads a file) and one partition of ten.
    const { rows, wireFormat } = generatedRows({ rows: 200_000, seed: 41, format: 'bin' });
    const hitOrbits = (stream: readonly Uint8Array[]) =>
      stream
        .filter((row) => (row[7] ?? 0) >> 5 === 2)
        .map((row) => Number(dtAnalysis.replay.partitionKey(row, wireFormat)));

    // Act: for every hit, the number of distinct higher orbits already seen (a Fenwick tree over ranks).
    const depth = (orbits: readonly number[]): number => {
      const sorted = [...new Set(orbits)].sort((a, b) => a - b);
      const rankOf = new Map(sorted.map((orbit, index) => [orbit, index + 1]));
      const tree = new Int32Array(sorted.length + 1);
      let seen = 0;
      let deepest = 0;
      for (const orbit of orbits) {
        const rank = rankOf.get(orbit) ?? 0;
        let below = 0;
        for (let index = rank; index > 0; index -= index & -index) below += tree[index] ?? 0;
        let atRank = below;
        for (let index = rank - 1; index > 0; index -= index & -index) atRank -= tree[index] ?? 0;
        if (atRank === 0) {
          for (let index = rank; index <= sorted.length; index += index & -index)
            tree[index] = (tree[index] ?? 0) + 1;
          seen++;
          below++;
        }
        deepest = Math.max(deepest, seen - below);
      }
      return deepest;
    };
    const oneStream = depth(hitOrbits(rows));
    const onePartition = depth(hitOrbits(partitionRows(rows, wireFormat, 10)[3] ?? []));

    // Assert: a hit is late only at a depth of MAX_OPEN_ORBITS (open-orbits.ts documents the margin).
    expect(oneStream).toBeGreaterThan(5);
    expect(oneStream).toBeLessThan(MAX_OPEN_ORBITS / 4);
    expect(onePartition).toBeLessThan(MAX_OPEN_ORBITS / 20);
  });
});

describe('dt state: late hits', () => {
  const X = 3_387_200_000;
  const hit = (orbit: number, channel: number) => `2,0,${channel},${orbit},104,${channel}`;
  const scintillator = (orbit: number) => `2,1,128,${orbit},100,0`;
  const first = [scintillator(X), hit(X, 1), hit(X, 2)];
  const newer = (count: number) => Array.from({ length: count }, (_, index) => hit(X + 1 + index, 3));

  function applyAll(batches: readonly (readonly string[])[]) {
    let state = dtAnalysis.emptyState();
    const steps = batches.map((lines) => {
      const step = dtAnalysis.applyBatch(state, textRecords(lines));
      state = step.state;
      return step;
    });
    return { state, steps };
  }

  it(`a hit arriving after ${MAX_OPEN_ORBITS} newer orbits is late and reopens its orbit`, () => {
    // Act
    const { state, steps } = applyAll([first, newer(MAX_OPEN_ORBITS), [hit(X, 4)], [hit(X, 5)]]);
    const whole = applyAll([[...first, ...newer(MAX_OPEN_ORBITS), hit(X, 4), hit(X, 5)]]);

    // Assert: orbit X closed at the end of batch 2 (MAX + 1 open), with its 2 gated hits.
    expect(steps[1]?.batch.orbitsWithHits).toBe(1);
    expect(steps[1]?.batch.orbitsWithScintillator).toBe(1);
    expect(sumOf(Array.from(steps[1]?.batch.gatedOccupancy ?? []))).toBe(2);
    // Both later hits of X are late. Each reopens X as a new orbit, the lowest of MAX + 1 open, so
    // it closes again at the end of its batch: X counts three times, once with 2 channels, twice with 1.
    expect(steps.map((step) => step.batch.lateHits)).toEqual([0, 0, 1, 1]);
    expect(steps.map((step) => step.batch.orbitsWithHits)).toEqual([0, 1, 1, 1]);
    const summary = dtAnalysis.summarizeState(state);
    expect(summary.late_hits).toBe(2);
    expect(summary.orbits_with_hits).toBe(MAX_OPEN_ORBITS + 3);
    expect(histogramOf(summary, 0, 'multiplicity').counts.slice(0, 4)).toEqual([
      MAX_OPEN_ORBITS + 2,
      1,
      0,
      0,
    ]);
    expect(sumOf(histogramOf(summary, 0, 'gated_occupancy').counts)).toBe(2);
    // One batch sees the whole orbit: nothing late, X has 4 channels, all gated.
    const wholeSummary = dtAnalysis.summarizeState(whole.state);
    expect(wholeSummary.late_hits).toBe(0);
    expect(wholeSummary.orbits_with_hits).toBe(MAX_OPEN_ORBITS + 1);
    expect(histogramOf(wholeSummary, 0, 'multiplicity').counts.slice(0, 4)).toEqual([
      MAX_OPEN_ORBITS,
      0,
      0,
      1,
    ]);
    expect(sumOf(histogramOf(wholeSummary, 0, 'gated_occupancy').counts)).toBe(4);
    // The per-row counts do not care.
    expect(summary.hit_count).toBe(wholeSummary.hit_count);
    expect(histogramOf(summary, 0, 'occupancy')).toEqual(histogramOf(wholeSummary, 0, 'occupancy'));
  });

  it(`after ${MAX_OPEN_ORBITS - 1} newer orbits the orbit is still open: nothing late`, () => {
    // Act
    const { state, steps } = applyAll([first, newer(MAX_OPEN_ORBITS - 1), [hit(X, 4)]]);
    const whole = applyAll([[...first, ...newer(MAX_OPEN_ORBITS - 1), hit(X, 4)]]);

    // Assert
    expect(steps.map((step) => step.batch.lateHits)).toEqual([0, 0, 0]);
    expect(steps.map((step) => step.batch.orbitsWithHits)).toEqual([0, 0, 0]);
    expect(dtAnalysis.summarizeState(state)).toEqual(dtAnalysis.summarizeState(whole.state));
  });

  it('a scintillator hit arriving late is late too, and gates nothing of the closed orbit', () => {
    // Act
    const { state } = applyAll([[hit(X, 1)], newer(MAX_OPEN_ORBITS), [scintillator(X)]]);

    // Assert
    const summary = dtAnalysis.summarizeState(state);
    expect(summary.late_hits).toBe(1);
    expect(summary.orbits_with_scintillator).toBe(1);
    expect(summary.orbits_with_hits).toBe(MAX_OPEN_ORBITS + 1);
    expect(sumOf(histogramOf(summary, 0, 'gated_occupancy').counts)).toBe(0);
  });
});

describe('dt state: ORBIT_CNT wrapping at 2^32', () => {
  it('closes the oldest orbits first across the wrap: same totals as one batch, nothing late', () => {
    // Arrange: 300 orbits from 2^32 − 150 through the wrap; each orbit's second hit 40 orbits later.
    const orbits = Array.from({ length: 300 }, (_, index) => (2 ** 32 - 150 + index) % 2 ** 32);
    const lines: string[] = [];
    orbits.forEach((orbit, index) => {
      lines.push(`2,1,128,${orbit},90,0`, `2,0,${index % 64},${orbit},100,0`);
      const earlier = orbits[index - 40];
      if (earlier !== undefined) lines.push(`2,0,${(index + 7) % 64},${earlier},101,0`);
    });
    for (const orbit of orbits.slice(-40)) lines.push(`2,0,63,${orbit},102,0`);

    // Act
    let state = dtAnalysis.emptyState();
    for (const batch of splitBySizes(lines, new Array<number>(lines.length).fill(7))) {
      state = dtAnalysis.applyBatch(state, textRecords(batch)).state;
    }
    const whole = dtAnalysis.applyBatch(dtAnalysis.emptyState(), textRecords(lines)).state;

    // Assert: the orbits left open are the last 256 in time (post-wrap counters included).
    const summary = dtAnalysis.summarizeState(state);
    expect(summary).toEqual(dtAnalysis.summarizeState(whole));
    expect(summary.late_hits).toBe(0);
    expect(summary.orbits_with_hits).toBe(300);
    expect(Array.from(state.open.orbits, rawOrbit)).toEqual(orbits.slice(-MAX_OPEN_ORBITS));
    expect(summaryAsReference(summary)).toEqual(
      referenceBatch(
        lines.map((line) => referenceParse(new TextEncoder().encode(line), 'text')),
        REFERENCE_DRIFT_EDGES,
      ),
    );
  });
});

describe('dt state: orbits far out of order', () => {
  it('one batch of 3000 shuffled orbits, or the same cut in batches of 500, is the reference', () => {
    // Arrange: each orbit a scintillator hit and two chamber hits, orbits in random order.
    const random = testRandom(77);
    const orbits = Array.from({ length: 3_000 }, (_, index) => 3_387_200_000 + 3 * index);
    for (let index = orbits.length - 1; index > 0; index--) {
      const other = Math.floor(random() * (index + 1));
      [orbits[index], orbits[other]] = [orbits[other] ?? 0, orbits[index] ?? 0];
    }
    const lines = orbits.flatMap((orbit, index) => [
      `2,1,128,${orbit},100,0`,
      `2,0,${index % 64},${orbit},104,${index % 30}`,
      `2,1,${64 + ((index * 7) % 64)},${orbit},110,3`,
    ]);
    const expected = referenceBatch(
      lines.map((line) => referenceParse(new TextEncoder().encode(line), 'text')),
      REFERENCE_DRIFT_EDGES,
    );

    // Act
    const whole = dtAnalysis.summarizeState(
      dtAnalysis.applyBatch(dtAnalysis.emptyState(), textRecords(lines)).state,
    );
    let state = dtAnalysis.emptyState();
    for (const batch of splitBySizes(lines, new Array<number>(18).fill(500))) {
      state = dtAnalysis.applyBatch(state, textRecords(batch)).state;
    }
    const batched = dtAnalysis.summarizeState(state);

    // Assert: one batch is exact; batches of 500 rows see orbits older than the window: late hits.
    expect(summaryAsReference(whole)).toEqual(expected);
    expect(whole.late_hits).toBe(0);
    expect(Number(batched.late_hits)).toBeGreaterThan(0);
    expect(batched.hit_count).toBe(whole.hit_count);
    expect(Number(batched.orbits_with_hits)).toBeGreaterThanOrEqual(Number(whole.orbits_with_hits));
  });
});

describe('dt state: merging and purity', () => {
  it('mergeStates of nothing is the empty state; the same orbits of two runs count twice', () => {
    // Arrange
    const { rows, wireFormat } = generatedRows({ rows: 3_000, seed: 15, format: 'csv' });
    const { state } = fold(rows, wireFormat, 1, [1_000, 1_000, 1_000]);
    const single = dtAnalysis.summarizeState(state);

    // Act
    const twice = dtAnalysis.summarizeState(dtAnalysis.mergeStates([state, state]));

    // Assert
    expect(dtAnalysis.summarizeState(dtAnalysis.mergeStates([]))).toEqual(
      dtAnalysis.summarizeState(dtAnalysis.emptyState()),
    );
    expect(twice.orbits_with_hits).toBe(2 * Number(single.orbits_with_hits));
    expect(twice.hit_count).toBe(2 * Number(single.hit_count));
    expect(histogramOf(twice, 2, 'drift_time_ns').counts).toEqual(
      histogramOf(single, 2, 'drift_time_ns').counts.map((count) => 2 * count),
    );
  });

  it('never modifies the state it is given', () => {
    // Arrange
    const { rows, wireFormat } = generatedRows({ rows: 2_000, seed: 13, format: 'csv' });
    const before = fold(rows, wireFormat, 5, [700, 600]).state;
    const snapshot = dtAnalysis.stateCodec.encode(before);

    // Act
    dtAnalysis.applyBatch(before, packRecords(rows, wireFormat, 5));
    dtAnalysis.summarizeState(dtAnalysis.mergeStates([before, before]));

    // Assert
    expect(dtAnalysis.stateCodec.encode(before)).toEqual(snapshot);
  });

  it('an orbit split across two batches counts once, gated by its scintillator in the other batch', () => {
    // Arrange: one orbit, scintillator + 4 chamber-0 channels, cut after the second hit.
    const orbitRows = ['2,1,128,3387200947,100,0', '2,0,1,3387200947,104,0', '2,0,2,3387200947,104,5'];
    const rest = ['2,0,3,3387200947,105,0', '2,0,4,3387200947,106,0'];

    // Act
    const whole = dtAnalysis.applyBatch(dtAnalysis.emptyState(), textRecords([...orbitRows, ...rest])).state;
    const first = dtAnalysis.applyBatch(dtAnalysis.emptyState(), textRecords(orbitRows));
    const second = dtAnalysis.applyBatch(first.state, textRecords(rest));

    // Assert: one orbit with 4 channels, all 4 hits gated; the orbit is still open (no batch closed it).
    const summary = dtAnalysis.summarizeState(second.state);
    expect(summary).toEqual(dtAnalysis.summarizeState(whole));
    expect(histogramOf(summary, 0, 'multiplicity').counts.slice(0, 4)).toEqual([0, 0, 0, 1]);
    expect(summary.orbits_with_hits).toBe(1);
    expect(sumOf(histogramOf(summary, 0, 'gated_occupancy').counts)).toBe(4);
    expect(first.batch.orbitsWithHits + second.batch.orbitsWithHits).toBe(0);
  });
});

describe('dt codecs', () => {
  const { rows, wireFormat } = generatedRows({ rows: 3_000, seed: 14, format: 'csv' });
  const step = dtAnalysis.applyBatch(dtAnalysis.emptyState(), [
    ...packRecords(rows, wireFormat, 100),
    ...textRecords(['2,0,5,1,2', 'x,0,5,1,2,3']),
  ]);
  /** The state with its open orbits 0 and 5 flagged as reopened by a late hit. */
  function withLateOrbits(): DtState {
    const encoded = asObject(dtAnalysis.stateCodec.encode(step.state));
    return dtAnalysis.stateCodec.decode({ ...encoded, open: { ...asObject(encoded.open), late: [0, 5] } });
  }

  it('round-trips states (open orbits included) and a batch through JSON text', () => {
    // Act
    const state = dtAnalysis.stateCodec.decode(throughJsonText(dtAnalysis.stateCodec.encode(step.state)));
    const lateState = withLateOrbits();
    const late = dtAnalysis.stateCodec.decode(throughJsonText(dtAnalysis.stateCodec.encode(lateState)));
    const empty = dtAnalysis.stateCodec.decode(
      throughJsonText(dtAnalysis.stateCodec.encode(dtAnalysis.emptyState())),
    );
    const batch = dtAnalysis.batchCodec.decode(throughJsonText(dtAnalysis.batchCodec.encode(step.batch)));

    // Assert
    expect(state).toEqual(step.state);
    expect(state.open.orbits.length).toBeGreaterThan(100);
    expect(late).toEqual(lateState);
    expect(Array.from(late.open.late).filter((flag) => flag === 1)).toHaveLength(2);
    expect(Array.from(step.state.open.scintillatorTimes)).toContain(Number.POSITIVE_INFINITY);
    expect(empty).toEqual(dtAnalysis.emptyState());
    expect(batch).toEqual(step.batch);
    expect(state.closed.rejectedByReason).toEqual({ 'field-count': 1, 'not-a-number': 1 });
    // Applying the next batch to the decoded state is the same as to the original.
    const next = textRecords(['2,0,9,3387200947,1,0']);
    expect(dtAnalysis.applyBatch(state, next)).toEqual(dtAnalysis.applyBatch(step.state, next));
  });

  it('counts every hit of a reopened orbit that is still open as late', () => {
    // Arrange: open orbit 5 is flagged, orbit 6 is not.
    const state = withLateOrbits();
    const hitOn = (index: number) => `2,0,9,${rawOrbit(state.open.orbits[index] ?? 0)},1,0`;

    // Act
    const { batch } = dtAnalysis.applyBatch(state, textRecords([hitOn(5), hitOn(5), hitOn(6)]));

    // Assert
    expect(state.open.orbits.length).toBeLessThan(MAX_OPEN_ORBITS);
    expect(batch.lateHits).toBe(2);
  });

  it('reads version-1 items (before open orbits and late hits)', () => {
    // Arrange
    const { lateHits: _, ...totals } = asObject(dtAnalysis.batchCodec.encode(step.batch));
    const version1 = { ...totals, version: 1 };

    // Act
    const state = dtAnalysis.stateCodec.decode(version1);
    const batch = dtAnalysis.batchCodec.decode(version1);

    // Assert
    expect(batch).toEqual({ ...step.batch, lateHits: 0 });
    expect(state).toEqual({ closed: batch, open: dtAnalysis.emptyState().open });
  });

  it('encodes compactly: plain arrays of numbers; a realistic partition stays far below the 400 KB item limit', () => {
    // Arrange: one partition of ten, batches of 1000 one-row records, as the pipeline folds it.
    const generated = generatedRows({ rows: 200_000, seed: 16, format: 'bin' });
    const partition = partitionRows(generated.rows, generated.wireFormat, 10)[7] ?? [];
    const { state } = fold(partition, generated.wireFormat, 1, new Array<number>(100).fill(1_000));

    // Act
    const encoded = asObject(dtAnalysis.stateCodec.encode(state));
    const open = asObject(encoded.open);
    const size = JSON.stringify(encoded).length;

    // Assert: a full window, ~7 hits per orbit, ~26 KB.
    expect(state.open.orbits).toHaveLength(MAX_OPEN_ORBITS);
    expect(Array.isArray(asObject(encoded.closed).occupancy)).toBe(true);
    expect(Array.isArray(open.hitTimes)).toBe(true);
    expect(size).toBeGreaterThan(15_000);
    expect(size).toBeLessThan(40_000);
  });

  it.each([
    ['integer', 0, 120_000],
    ['fractional', 0.123457, 250_000],
  ])('bounds the state by MAX_OPEN_HITS even for dense orbits (%s TDC_MEAS)', (_, fraction, limit) => {
    // Arrange: 400 orbits with a hit on every one of the 256 channels, late in the orbit.
    const lines: string[] = [];
    for (let orbit = 0; orbit < 400; orbit++) {
      for (let channel = 0; channel < 256; channel++) {
        lines.push(
          `2,${channel >> 7},${channel & 127},${3387200000 + orbit},3563,${(28 + fraction).toFixed(6)}`,
        );
      }
    }

    // Act
    let state = dtAnalysis.emptyState();
    for (const batch of splitBySizes(lines, new Array<number>(100).fill(1_000))) {
      state = dtAnalysis.applyBatch(state, textRecords(batch)).state;
    }
    const size = JSON.stringify(dtAnalysis.stateCodec.encode(state)).length;

    // Assert
    expect(state.open.hitSlots.length).toBeLessThanOrEqual(MAX_OPEN_HITS);
    expect(state.open.orbits.length).toBe(MAX_OPEN_HITS / 256);
    expect(size).toBeLessThan(limit);
  });

  it.each<[string, (encoded: Record<string, Json>) => Json]>([
    ['not an object', () => [1, 2, 3]],
    ['null', () => null],
    ['an unknown version', (encoded) => ({ ...encoded, version: 99 })],
    ['a missing counter', ({ rowsRead: _, ...rest }) => rest],
    ['a missing late-hit counter', ({ lateHits: _, ...rest }) => rest],
    ['a negative counter', (encoded) => ({ ...encoded, rowsFiltered: -1 })],
    ['a fractional counter', (encoded) => ({ ...encoded, auxiliaryHits: 0.5 })],
    ['a short histogram', (encoded) => ({ ...encoded, occupancy: [1, 2, 3] })],
    ['a non-number in a histogram', (encoded) => ({ ...encoded, chamberHits: [1, 2, '3', 4] })],
    ['a string for the reasons', (encoded) => ({ ...encoded, rejectedByReason: 'none' })],
    ['a bad reason count', (encoded) => ({ ...encoded, rejectedByReason: { 'field-count': 'x' } })],
  ])('refuses to decode totals with %s, with a clear error', (_, corrupt) => {
    // Arrange
    const encoded = asObject(dtAnalysis.batchCodec.encode(step.batch));

    // Act + Assert
    expect(() => dtAnalysis.batchCodec.decode(corrupt(encoded))).toThrow(/^dt totals: /);
  });

  it.each<[string, (open: Record<string, Json>) => Json, RegExp]>([
    ['no open part', () => null, /'open' must be an object/],
    [
      'unsorted orbits',
      (open) => ({ ...open, orbits: [...asArray(open.orbits)].reverse() }),
      /sorted ascending/,
    ],
    [
      'a fractional orbit',
      (open) => ({ ...open, orbits: [0.5, ...asArray(open.orbits).slice(1)] }),
      /open\.orbits\[0\]/,
    ],
    [
      'a missing scintillator time',
      (open) => ({ ...open, scintillatorTimes: asArray(open.scintillatorTimes).slice(1) }),
      /one per open orbit/,
    ],
    [
      'a negative scintillator time',
      (open) => ({ ...open, scintillatorTimes: [-2, ...asArray(open.scintillatorTimes).slice(1)] }),
      /scintillatorTimes\[0\]/,
    ],
    [
      'a hit count too many',
      (open) => ({ ...open, hitCounts: [...asArray(open.hitCounts), 1] }),
      /one per open orbit/,
    ],
    [
      'hits not matching the counts',
      (open) => ({ ...open, hitSlots: asArray(open.hitSlots).slice(1) }),
      /sum\(hitCounts\)/,
    ],
    [
      'a slot beyond the chambers',
      (open) => ({ ...open, hitSlots: [256, ...asArray(open.hitSlots).slice(1)] }),
      /hitSlots\[0\]/,
    ],
    [
      'a time outside the orbit',
      (open) => ({ ...open, hitTimes: [3564 * 750, ...asArray(open.hitTimes).slice(1)] }),
      /hitTimes\[0\]/,
    ],
    [
      'a string time',
      (open) => ({ ...open, hitTimes: ['1', ...asArray(open.hitTimes).slice(1)] }),
      /hitTimes\[0\]/,
    ],
    ['a late index out of range', (open) => ({ ...open, late: [asArray(open.orbits).length] }), /late\[0\]/],
    ['a late index twice', (open) => ({ ...open, late: [0, 0] }), /twice/],
    ['a fractional last orbit', (open) => ({ ...open, lastOpenedOrbit: 1.5 }), /lastOpenedOrbit/],
  ])('refuses to decode a state with %s, with a clear error', (_, corrupt, message) => {
    // Arrange
    const encoded = asObject(dtAnalysis.stateCodec.encode(step.state));

    // Act + Assert
    const decode = () => dtAnalysis.stateCodec.decode({ ...encoded, open: corrupt(asObject(encoded.open)) });
    expect(decode).toThrow(/^dt state: /);
    expect(decode).toThrow(message);
    expect(() => dtAnalysis.stateCodec.decode({ ...encoded, version: 3 })).toThrow(/^dt state: unsupported/);
    expect(() => dtAnalysis.stateCodec.decode({ ...encoded, closed: { version: 2 } })).toThrow(
      /^dt totals: /,
    );
  });

  it('summarizes with the source field names and one entry per chamber', () => {
    // Act
    const summary = dtAnalysis.summarizeBatch(step.batch);

    // Assert
    expect(Object.keys(summary)).toEqual([
      'hit_count',
      'hit_count_chamber',
      'rows_read',
      'rows_filtered',
      'rows_rejected',
      'rejected_by_reason',
      'auxiliary_hits',
      'scintillator_hits',
      'late_hits',
      'orbits_with_hits',
      'orbits_with_scintillator',
      'chambers',
    ]);
    expect(Object.keys(dtAnalysis.summarizeState(step.state))).toEqual(Object.keys(summary));
    expect(summary.rows_rejected).toBe(2);
    const chambers = Array.isArray(summary.chambers) ? summary.chambers : [];
    expect(chambers.map((chamber) => asObject(chamber).chamber)).toEqual([0, 1, 2, 3]);
    for (const chamber of [0, 1, 2, 3]) {
      for (const name of ['occupancy', 'multiplicity', 'gated_occupancy', 'drift_time_ns']) {
        const histogram = histogramOf(summary, chamber, name);
        expect(histogram.edges).toHaveLength(histogram.counts.length + 1);
      }
      expect(histogramOf(summary, chamber, 'occupancy').counts).toHaveLength(64);
      expect(histogramOf(summary, chamber, 'multiplicity').edges[0]).toBe(0.5);
    }
  });
});

function asArray(json: Json | undefined): Json[] {
  if (!Array.isArray(json)) throw new Error('expected an array');
  return json;
}
