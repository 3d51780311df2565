/**
 * The soak's progress (bench-soak-progress.ts): a rows axis that never goes back, a `moved` signal
 * that sees the aggregated count rise below the delivered count reported before (a 60 M-row soak
 * was declared stalled there while it was still aggregating), and complete runs read once.
 */
import { describe, expect, it } from 'vitest';
import { RunProgress } from '../../../localstack/commands/bench-soak-progress.ts';

function world() {
  const counts = { delivered: 0, perRun: new Map<string, number>() };
  const reads: string[] = [];
  const progress = new RunProgress(
    {
      deliveredRecords: () => counts.delivered,
      runRows: async (run) => {
        reads.push(run);
        return counts.perRun.get(run) ?? 0;
      },
    },
    { rowsPerRecord: 1000, rowsPerRun: 1_000_000 },
  );
  progress.add('a');
  progress.add('b');
  return { counts, reads, progress };
}

describe('the soak progress', () => {
  it('counts delivered rows first, reading one run as a dashboard does', async () => {
    const { counts, reads, progress } = world();
    counts.delivered = 1500;
    expect(await progress.rows(2_000_000)).toBe(1_500_000);
    expect(progress.moved).toBe(true);
    expect(reads).toEqual(['a']);
    expect(await progress.rows(2_000_000)).toBe(1_500_000);
    expect(progress.moved).toBe(false);
  });

  it('once all is delivered, never goes back, and moves while the aggregated count rises below it', async () => {
    const { counts, progress } = world();
    counts.delivered = 1990;
    expect(await progress.rows(2_000_000)).toBe(1_990_000);
    counts.delivered = 2000;
    counts.perRun.set('a', 1_000_000).set('b', 200_000);
    expect(await progress.rows(2_000_000)).toBe(1_990_000);
    expect(progress.moved).toBe(true);
    counts.perRun.set('b', 600_000);
    expect(await progress.rows(2_000_000)).toBe(1_990_000);
    expect(progress.moved).toBe(true);
    expect(await progress.rows(2_000_000)).toBe(1_990_000);
    expect(progress.moved).toBe(false);
    counts.perRun.set('b', 1_000_000);
    expect(await progress.rows(2_000_000)).toBe(2_000_000);
  });

  it('reads a complete run no more', async () => {
    const { counts, reads, progress } = world();
    counts.delivered = 2000;
    counts.perRun.set('a', 1_000_000).set('b', 10);
    await progress.rows(2_000_000);
    await progress.rows(2_000_000);
    await progress.rows(2_000_000);
    expect(reads).toEqual(['a', 'b', 'b', 'b']);
  });
});
