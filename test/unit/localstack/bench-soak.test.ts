import { describe, expect, it, vi } from 'vitest';
import { benchCommand } from '../../../localstack/commands/bench.ts';
import {
  FLAT_QUARTER_RATIO,
  FLAT_SLOPE_MIB_PER_M_ROWS,
  fitProcess,
  SOAK_DEFAULT_FILES,
  type SoakSample,
  seriesTable,
  slope,
  soakFiles,
  verdictLine,
} from '../../../localstack/commands/bench-soak-report.ts';

/** A sample every 0.25 M rows (every 3 s) with the RSS `rss(rowsInMillions)` for each process. */
function series(count: number, rss: Record<string, (millions: number) => number>): SoakSample[] {
  return Array.from({ length: count }, (_, index) => {
    const millions = index * 0.25;
    return {
      seconds: index * 3,
      rows: millions * 1e6,
      rssMiB: Object.fromEntries(Object.entries(rss).map(([name, of]) => [name, of(millions)])),
    };
  });
}

describe('bench soak: the least-squares slope of an RSS series', () => {
  it('is the line’s slope for points on a line, and near 0 for flat noise', () => {
    expect(slope([0, 1, 2, 3].map((x) => ({ x, y: 100 + 2.5 * x })))).toBeCloseTo(2.5, 10);
    const flat = [0, 1, 2, 3, 4, 5].map((x) => ({ x, y: 200 + (x % 2 === 0 ? 1 : -1) }));
    expect(Math.abs(slope(flat))).toBeLessThan(0.5);
  });

  it('is NaN when every point has the same x (no series to fit)', () => {
    expect(
      slope([
        { x: 1, y: 2 },
        { x: 1, y: 3 },
      ]),
    ).toBeNaN();
  });
});

describe('bench soak: the flatness rule', () => {
  it('passes a process that warms up and then stays level, whatever its warm-up cost', () => {
    // 150 MiB, +200 MiB over the first 2.5 M rows, then level with ±3 MiB of GC noise.
    const warm = (millions: number) =>
      150 + 80 * Math.min(millions, 2.5) + (millions * 4 >= 10 ? ((millions * 4) % 2) * 6 - 3 : 0);
    const fit = fitProcess(series(41, { daemon: warm }), 'daemon');
    expect(fit.mibPerMillionRows).toBeGreaterThan(FLAT_SLOPE_MIB_PER_M_ROWS);
    expect(Math.abs(fit.secondHalf.mibPerMillionRows)).toBeLessThan(FLAT_SLOPE_MIB_PER_M_ROWS);
    expect(fit.flat).toBe(true);
    expect(fit.firstMiB).toBe(150);
    expect(fit.peakMiB).toBeCloseTo(353, 0);
  });

  it('fails steady growth of 20 MiB per M rows (the daemon before the TTL sweep)', () => {
    const fit = fitProcess(series(41, { daemon: (millions) => 133 + 20 * millions }), 'daemon');
    expect(fit.secondHalf.mibPerMillionRows).toBeCloseTo(20, 6);
    expect(fit.flat).toBe(false);
  });

  it('fails slow growth under the slope threshold that, over a long run, grows the process by more than the ratio', () => {
    // 1.9 MiB per M rows passes the slope; over 30 M rows a 100 MiB process grows a fifth between
    // the second quarter's median and the last's.
    const fit = fitProcess(series(121, { api: (millions) => 100 + 1.9 * millions }), 'api');
    expect(fit.secondHalf.mibPerMillionRows).toBeLessThan(FLAT_SLOPE_MIB_PER_M_ROWS);
    expect(fit.lastToSecondQuarterMedian).toBeGreaterThan(FLAT_QUARTER_RATIO);
    expect(fit.flat).toBe(false);
  });

  it('passes a level process whose last quarter has one GC swing above the ratio (its peak, not its median)', () => {
    // Level at 105 MiB with ±2 MiB of noise; one sample of the last quarter at 121 (+15 %).
    const swinging = (millions: number) => (millions === 27 ? 121 : 105 + ((millions * 4) % 2) * 4 - 2);
    const fit = fitProcess(series(121, { api: swinging }), 'api');
    expect(fit.lastToSecondQuarterPeak).toBeGreaterThan(FLAT_QUARTER_RATIO);
    expect(fit.lastToSecondQuarterMedian).toBeCloseTo(1, 1);
    expect(fit.flat).toBe(true);
  });

  it('fails a step up that stays (the last quarter held 15 % more)', () => {
    const stepping = (millions: number) => (millions >= 22.5 ? 345 : 300);
    const fit = fitProcess(series(121, { broker: stepping }), 'broker');
    expect(fit.lastToSecondQuarterMedian).toBeCloseTo(1.15, 2);
    expect(fit.flat).toBe(false);
  });

  it('is not flat with too few samples to judge (a NaN slope)', () => {
    expect(fitProcess(series(1, { runtime: () => 100 }), 'runtime').flat).toBe(false);
  });

  it('says PASS or FAIL first on each verdict line', () => {
    const samples = series(41, { flat: () => 100, growing: (millions) => 100 + 10 * millions });
    expect(verdictLine('flat', fitProcess(samples, 'flat'))).toMatch(
      /^PASS {2}flat: second half 0\.00 MiB per M rows/,
    );
    expect(verdictLine('growing', fitProcess(samples, 'growing'))).toMatch(
      /^FAIL {2}growing: second half 10\.00/,
    );
  });
});

describe('bench soak: the series table', () => {
  it('has a row per process (a sandbox that appears later shows "-" before) and a column per M rows', () => {
    const samples = series(9, { runtime: (millions) => 100 + millions }).map((sample, index) =>
      index < 4 ? sample : { ...sample, rssMiB: { ...sample.rssMiB, 'sandbox replay': 60 } },
    );
    const [header, runtime, sandbox, ...rest] = seriesTable(samples);
    expect(rest).toEqual([]);
    expect(header?.split(/\s+/)).toEqual(['M', 'rows', '0.0', '1.0', '2.0']);
    expect(runtime?.split(/\s+/)).toEqual(['runtime', '100', '101', '102']);
    expect(sandbox?.split(/\s+/)).toEqual(['sandbox', 'replay', '-', '60', '60']);
  });
});

describe('bench soak: --soak-files, the length of the run', () => {
  it('is 10 million-row files without the option, 1 with --quick', () => {
    expect(soakFiles(undefined, false)).toBe(SOAK_DEFAULT_FILES);
    expect(SOAK_DEFAULT_FILES).toBe(30);
    expect(soakFiles(undefined, true)).toBe(1);
  });

  it('is the number given, whole and from 1, whatever --quick says', () => {
    expect(soakFiles('50', false)).toBe(50);
    expect(soakFiles('1', true)).toBe(1);
  });

  it.each(['0', '-3', '2.5', '1e2', '0x10', '', 'ten', '30M'])(
    'refuses "%s" with a message naming the option',
    (text) => {
      expect(soakFiles(text, false)).toEqual({
        error: `--soak-files takes a whole number of million-row files from 1, not "${text}"`,
      });
    },
  );
});

describe('bench soak: the command refuses a bad --soak-files before it starts anything', () => {
  it.each([
    [
      ['--only', 'soak', '--soak-files', 'ten'],
      '--soak-files takes a whole number of million-row files from 1, not "ten"',
    ],
    [['--soak-files', '30'], '--soak-files needs --only soak'],
    [['--only', 'e2e', '--soak-files', '30'], '--soak-files needs --only soak'],
  ])('%j: exit code 2 and a message', async (args, message) => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await benchCommand(args)).toBe(2);
      expect(errors).toHaveBeenCalledWith(`driftline bench: ${message}`);
    } finally {
      errors.mockRestore();
    }
  });
});
