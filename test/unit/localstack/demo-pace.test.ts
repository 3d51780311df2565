import { describe, expect, it } from 'vitest';
import { fallingBehindLine, type PaceSample, PaceWatch } from '../../../localstack/commands/demo-pace.ts';

/** Feeds a timeline of samples, one per second, and returns the last verdict. */
function verdictAfter(timeline: readonly { readonly atS: number; readonly sample: PaceSample }[]) {
  const watch = new PaceWatch();
  let verdict: ReturnType<PaceWatch['observe']>;
  for (const { atS, sample } of timeline) verdict = watch.observe(atS * 1000, sample);
  return verdict;
}

const seconds = (count: number) => Array.from({ length: count }, (_, index) => index);

describe('PaceWatch', () => {
  it('says nothing before it has seen 20 s', () => {
    const early = seconds(15).map((atS) => ({
      atS,
      sample: { rowsInPerSecond: 3000, rowsOutPerSecond: 1000, latencyP50Ms: 5000 + atS * 200 },
    }));
    expect(verdictAfter(early)).toBeUndefined();
  });

  it('a pipeline that keeps up is not behind', () => {
    const steady = seconds(40).map((atS) => ({
      atS,
      sample: { rowsInPerSecond: 1000, rowsOutPerSecond: 990, latencyP50Ms: 650 },
    }));
    expect(verdictAfter(steady)).toMatchObject({ fallingBehind: false, rowsInPerSecond: 1000 });
  });

  it('more in than out with the latency above a second, or a latency that keeps growing, is behind', () => {
    const outrun = seconds(40).map((atS) => ({
      atS,
      sample: { rowsInPerSecond: 3000, rowsOutPerSecond: 1800, latencyP50Ms: 1500 },
    }));
    const growing = seconds(40).map((atS) => ({
      atS,
      sample: { rowsInPerSecond: 3000, rowsOutPerSecond: 2900, latencyP50Ms: 1000 + atS * 100 },
    }));
    expect(verdictAfter(outrun)).toMatchObject({ fallingBehind: true, rowsOutPerSecond: 1800 });
    expect(verdictAfter(growing)).toMatchObject({ fallingBehind: true, lagGrowthMs: 3000 });
  });

  it('a short burst under a second of latency is not behind, whatever the rates', () => {
    const burst = seconds(40).map((atS) => ({
      atS,
      sample: { rowsInPerSecond: 3000, rowsOutPerSecond: 1000, latencyP50Ms: 700 },
    }));
    expect(verdictAfter(burst)).toMatchObject({ fallingBehind: false });
  });

  it('nothing aggregated for the whole window while rows go in is stuck, not quiet', () => {
    const stuck = seconds(40).map((atS) => ({
      atS,
      sample: { rowsInPerSecond: 3000, rowsOutPerSecond: 0, latencyP50Ms: null },
    }));
    const verdict = verdictAfter(stuck);
    expect(verdict).toMatchObject({ fallingBehind: true, stalled: true });
    if (!verdict) throw new Error('no verdict');
    expect(fallingBehindLine(verdict, { files: 3, rate: 1000 })).toBe(
      '⚠ nothing aggregated for 30 s while the replays put in 3.0k rows/s: the pipeline is stuck or far behind (the log above says why).',
    );
  });

  it('has no verdict without paced input (nothing running, or full speed)', () => {
    const idle = seconds(40).map((atS) => ({
      atS,
      sample: { rowsInPerSecond: 0, rowsOutPerSecond: 12_000, latencyP50Ms: 9000 },
    }));
    expect(verdictAfter(idle)).toBeUndefined();
  });
});

describe('fallingBehindLine', () => {
  it('gives the rates, the lag and what to try', () => {
    const line = fallingBehindLine(
      {
        rowsInPerSecond: 3000,
        rowsOutPerSecond: 1850,
        latencyP50Ms: 4200,
        lagGrowthMs: 2100,
        stalled: false,
        fallingBehind: true,
      },
      { files: 3, rate: 1000 },
    );
    expect(line).toBe(
      '⚠ falling behind: in 3.0k rows/s, out 1.9k rows/s, latency p50 4.2 s (+2.1 s in 30 s): the lag grows. ' +
        'This machine keeps up with about 1.9k rows/s now: try --rate 400 or --files 2.',
    );
  });
});
