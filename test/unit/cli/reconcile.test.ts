/**
 * `driftline reconcile` without a stack: its help, the usage errors it answers in one line, and the
 * report it prints from checks (what the integration test runs against the real stack:
 * test/integration/reconcile.test.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, exitCodeOf, summaryLine } from '../../../localstack/commands/reconcile-report.ts';
import { compareQuantity, type RunCheck } from '../../../shared/pipeline/reconcile.ts';
import { runCli } from './run-cli.ts';

const object = { bucket: 'datasets', key: 'sf/replay/calls.json.gz' };
const base = { analysis: 'sf', run: 'sf/replay/calls.json.gz@90003750e836', liveRows: 199_999, object };

function comparedRun(live: number): RunCheck {
  return {
    ...base,
    kind: 'compared',
    order: 'event-time',
    partitions: 10,
    rows: 199_999,
    equal: live === 199_999,
    quantities: [
      compareQuantity('rows', live, 199_999),
      compareQuantity('crime_types', [{ name: 'a', count: 2 }], [{ name: 'a', count: 2 }]),
    ],
    oneStream: [{ name: 'windows', partitioned: {}, oneStream: {}, why: 'a reason' }],
  };
}

describe('driftline reconcile: help and usage errors', () => {
  let emptyDataDir = '';
  beforeAll(async () => {
    emptyDataDir = await mkdtemp(join(tmpdir(), 'driftline-reconcile-cli-'));
  });
  afterAll(async () => {
    await rm(emptyDataDir, { recursive: true, force: true });
  });

  it('--help says what it compares, what it does not, and the exit codes', async () => {
    const run = await runCli(['reconcile', '--help']);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^Usage: driftline reconcile \[--analysis dt\|sf\|sfb\]/);
    expect(run.out).toMatch(/still running or not yet fully aggregated/);
    expect(run.out).toMatch(/Exit code: 0 every run compared equal; 1 a quantity differs; 3/);
    expect(run.out).toMatch(/--stage STAGE/);
  });

  it('without a running local cloud it says how to start one; an unknown analysis is named', async () => {
    const noStack = await runCli(['reconcile'], { DRIFTLINE_DATA_DIR: emptyDataDir });
    expect(noStack.code).toBe(1);
    expect(noStack.stderr.trim()).toBe(
      `driftline reconcile: no local cloud is running from ${emptyDataDir}: start it (\`npm start\`), or give --stage for a deployed one`,
    );
    const unknown = await runCli(['reconcile', '--analysis', 'nyc'], { DRIFTLINE_DATA_DIR: emptyDataDir });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe(
      'driftline reconcile: unknown analysis "nyc"; known analyses: dt, sf, sfb',
    );
  });
});

describe('the reconcile report', () => {
  it('a table per compared run, with the difference and where; the one-stream notes with their reasons', () => {
    const lines = describeRun(comparedRun(200_002));
    expect(lines[0]).toBe(
      'sf/replay/calls.json.gz@90003750e836  (sf, s3://datasets/sf/replay/calls.json.gz)',
    );
    expect(lines[1]).toBe(
      '  199,999 rows, in event-time order, 10 partitions: DIFFERENT (1 of 2 quantities)',
    );
    expect(lines[2]).toMatch(/^ {4}quantity +live +offline$/);
    expect(lines[3]).toMatch(/^ {4}rows +200,002 +199,999 {2}DIFFERS by 3$/);
    expect(lines[4]).toMatch(/^ {4}crime_types +\[1 entry\] +\[1 entry\] {2}equal \(2 values\)$/);
    expect(lines.at(-1)).toBe('    windows: a reason');
  });

  it('runs it could not compare say why; the exit code tells a difference from something unchecked', () => {
    const running: RunCheck = { ...base, kind: 'running', rowsSent: 20_000, liveRows: 23_456 };
    const gone: RunCheck = { ...base, kind: 'object-gone', reason: 's3://datasets/x no longer exists' };
    expect(describeRun(running)[1]).toBe(
      '  still running: 23,456 rows counted so far (20,000 sent at its last checkpoint), nothing to compare yet',
    );
    expect(describeRun(gone)[1]).toMatch(
      /^ {2}OBJECT GONE: s3:\/\/datasets\/x no longer exists; the state holds 199,999 rows/,
    );
    expect(exitCodeOf([comparedRun(199_999)])).toBe(0);
    expect(exitCodeOf([comparedRun(199_999), comparedRun(1)])).toBe(1);
    expect(exitCodeOf([comparedRun(199_999), running])).toBe(3);
    expect(exitCodeOf([comparedRun(1), gone])).toBe(1);
    expect(exitCodeOf([])).toBe(3);
    expect(summaryLine([comparedRun(199_999), comparedRun(1), running, gone])).toBe(
      'reconcile: 4 runs: 1 equal, 1 different, 1 still running, 1 whose object is gone',
    );
  });
});
