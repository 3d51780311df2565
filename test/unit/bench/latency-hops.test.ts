import { describe, expect, it } from 'vitest';
import {
  type CleanBatchSeen,
  HOPS,
  hopPercentiles,
  hopsOf,
  hopTable,
  type TriggerBatchSeen,
} from '../../../localstack/commands/bench-latency-hops.ts';

const clean: CleanBatchSeen = {
  batchId: 'data_raw-3-10-19',
  firstRecordTimestampMs: 1_000,
  receivedAtMs: 1_140,
  // As aggregate builds the summary: the phases before its own put.
  durationMs: { stateRead: 12, rollupRead: 0, apply: 2, deadLetters: 1, rollupWrite: 15 },
  appendedAtMs: 1_195,
  seenAtMs: 1_230,
};
const trigger: TriggerBatchSeen = {
  fetchedAtMs: 1_020,
  takenAtMs: 1_120,
  returnedAtMs: 1_200,
  committedAtMs: 1_210,
  // Aggregate's result: every phase, those after the summary was built included.
  durationMs: {
    stateRead: 12,
    rollupRead: 0,
    apply: 2,
    deadLetters: 1,
    rollupWrite: 15,
    summaryWrite: 10,
    stateWrite: 11,
    publish: 9,
  },
};

describe('hopsOf: a batch latency cut into consecutive hops', () => {
  it('gives each hop from the timestamps, and the hops before the total add up to it', () => {
    const hops = hopsOf(clean, trigger);

    expect(hops['produce → fetched by the trigger (send, broker append, fetch)']).toBe(20);
    expect(hops['fetched → taken (window, partition in flight, invocations in flight)']).toBe(100);
    expect(hops['taken → aggregate started (event JSON, IPC, parse in the sandbox)']).toBe(20);
    expect(hops['aggregate: state + rollup read (one round trip)']).toBe(12);
    expect(hops['aggregate: fold (apply, dead letters)']).toBe(3);
    expect(hops['aggregate: summary put']).toBe(10);
    expect(hops['aggregate: state write (the commit point)']).toBe(11);
    expect(hops['state written → data_clean record timestamped (publish)']).toBe(4);
    expect(hops['after: data_clean publish, whole round trip']).toBe(9);
    expect(hops['total: produce → data_clean (oldest row)']).toBe(195);
    expect(hops['after: data_clean → the bench consumer']).toBe(35);
    expect(hops['after: this slice published → the invocation returned and committed']).toBe(15);
    const total = HOPS.indexOf('total: produce → data_clean (oldest row)');
    const parts = HOPS.slice(0, total).reduce((sum, hop) => sum + hops[hop], 0);
    expect(parts).toBe(hops['total: produce → data_clean (oldest row)']);
  });
});

describe('hopPercentiles and hopTable', () => {
  it('gives p50 and p99 of every hop over the batches, and a line for each', () => {
    const batches = [10, 20, 30].map((shift) =>
      hopsOf({ ...clean, appendedAtMs: clean.appendedAtMs + shift }, trigger),
    );

    const figures = hopPercentiles(batches);

    const total = figures.find(({ hop }) => hop === 'total: produce → data_clean (oldest row)');
    expect(total).toEqual({ hop: 'total: produce → data_clean (oldest row)', p50: 215, p99: 225 });
    expect(figures).toHaveLength(HOPS.length);
    const table = hopTable(figures, batches.length);
    expect(table).toHaveLength(HOPS.length + 2);
    expect(table.at(-4)).toMatch(/total: produce → data_clean \(oldest row\)\s+215\s+225$/);
  });

  it('takes the phases from the summary alone when the result had none', () => {
    const hops = hopsOf(clean, { ...trigger, durationMs: {} });

    expect(hops['aggregate: rollup writes (concurrent)']).toBe(15);
    expect(hops['aggregate: summary put']).toBe(0);
    expect(hops['state written → data_clean record timestamped (publish)']).toBe(25);
  });

  it('shows a hop without batches as a dash, not as NaN', () => {
    expect(hopTable(hopPercentiles([]), 0)[2]).toMatch(/—\s+—$/);
  });
});
