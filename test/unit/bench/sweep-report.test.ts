import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FACTORS,
  pointsAlong,
  reportMarkdown,
  type SweepPoint,
  type SweepRun,
  type SweepSettings,
  writeSweepReport,
} from '../../../localstack/commands/bench-sweep-report.ts';

const defaults: SweepSettings = {
  partitions: 10,
  rate: 5000,
  rowsPerRecord: 1,
  batchSize: 10_000,
  batchingWindowMs: 500,
};

function point(varies: SweepPoint['varies'], overrides: Partial<SweepSettings>, batchMs: number): SweepPoint {
  return {
    settings: { ...defaults, ...overrides },
    varies,
    rows: 100_000,
    throughput: 4_990,
    batchMs: { p50: batchMs, p99: batchMs * 2, mean: batchMs },
    batches: 200,
    meanRecordsPerBatch: 500,
    latencyMs: { p50: 600, p99: 900 },
    batchSample: [
      { records: 500, durationMs: batchMs },
      { records: 0, durationMs: 1 },
    ],
  };
}

const run: SweepRun = {
  date: '2026-12-01T12:00:00.000Z',
  machine: '2 × AMD EPYC, Node v20.20.2',
  quick: false,
  defaults,
  seconds: 600,
  points: [
    point(undefined, {}, 40),
    point('partitions', { partitions: 200 }, 90),
    point('partitions', { partitions: 1 }, 20),
    point('rate', { rate: 0 }, 300),
    point('rate', { rate: 1000 }, 15),
  ],
};

describe('the sweep report', () => {
  it('orders the points along a factor, the default among them, full speed last', () => {
    expect(pointsAlong(run, 'partitions').map((p) => p.settings.partitions)).toEqual([1, 10, 200]);
    expect(pointsAlong(run, 'rate').map((p) => p.settings.rate)).toEqual([1000, 5000, 0]);
    expect(pointsAlong(run, 'batchSize')).toHaveLength(1);
  });

  it('links a plot per factor and the batch-size scatter, and lists every point', () => {
    const report = reportMarkdown(run);
    for (const factor of FACTORS) expect(report).toContain(`(vs-${factor}.svg)`);
    expect(report).toContain('(batch-time-vs-batch-size.svg)');
    expect(report).toContain(
      '| partitions | 200 | 5000 | 1 | 10000 | 500 | 100000 | 4990 | 200 | 500 | 90 | 180 | 600 | 900 |',
    );
    expect(report).toContain('| rate | 10 | full speed |');
    expect(report).toContain('2 × AMD EPYC');
    expect(report).not.toContain('Failed');
    expect(reportMarkdown({ ...run, failures: ['stack with 200 partitions: shard limit'] })).toContain(
      '**Failed, so missing below:** stack with 200 partitions: shard limit',
    );
  });

  it('renders the plots as SVG files, headless, with their data drawn', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sweep-report-'));
    try {
      const files = await writeSweepReport(dir, run);
      expect(files.map((file) => file.slice(dir.length + 1)).sort()).toEqual(
        [
          'batch-time-vs-batch-size.svg',
          'report.md',
          'results.json',
          ...FACTORS.map((factor) => `vs-${factor}.svg`),
        ].sort(),
      );
      const partitions = await readFile(join(dir, 'vs-partitions.svg'), 'utf8');
      expect(partitions.startsWith('<svg')).toBe(true);
      expect(partitions).toContain('Kafka partitions (data_raw)');
      expect(partitions).toContain('batch processing time (ms)');
      // A line through the three points of each series is drawn (vega writes paths for the marks).
      expect(partitions).toMatch(/<path[^>]+d="M[\d.]+,[\d.]+L[\d.]+,[\d.]+L/);
      const rate = await readFile(join(dir, 'vs-rate.svg'), 'utf8');
      expect(rate).toContain('full speed');
      const parsed = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8')) as SweepRun;
      expect(parsed.points).toHaveLength(5);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
