import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, runCli } from './run-cli.ts';

const SAMPLE_ROWS = 'HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS\n2,0,75,3387200947,2922,2\n';

/** A refused command: non-zero exit, one line on stderr naming the problem, nothing on stdout. */
function expectRefused(run: CliRun, message: RegExp): void {
  expect(run.out).toBe('');
  expect(run.code).not.toBe(0);
  expect(run.stderr.trimEnd().split('\n'), run.stderr).toHaveLength(1);
  expect(run.stderr).toMatch(message);
}

// Each run starts a Node process with the TypeScript loader (~0.7 s of CPU); several share 2 cores.
describe('driftline analyze / generate refuse wrong input in one line', { timeout: 60_000 }, () => {
  let dir = '';
  const path = (name: string) => join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'driftline-cli-errors-'));
    await writeFile(path('rows.csv'), SAMPLE_ROWS);
    await writeFile(path('rows.xyz'), SAMPLE_ROWS);
    await writeFile(path('truncated.bin'), Buffer.alloc(13));
    await writeFile(path('corrupt.csv.gz'), gzipSync(SAMPLE_ROWS).subarray(0, 20));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('analyze: unknown analysis lists the known ones', async () => {
    expectRefused(
      await runCli(['analyze', 'nope', path('rows.csv')]),
      /unknown analysis "nope"; known analyses: dt/,
    );
  });

  it('analyze: missing file', async () => {
    expectRefused(await runCli(['analyze', 'dt', path('absent.csv')]), /absent\.csv: no such file/);
  });

  it('analyze: bad --batch-rows', async () => {
    const runs = await Promise.all(
      ['0', 'abc', '-5'].map((value) => runCli(['analyze', 'dt', path('rows.csv'), `--batch-rows=${value}`])),
    );
    for (const run of runs) expectRefused(run, /--batch-rows must be a whole number of rows ≥ 1, got "/);
  });

  it('analyze: unsupported extension names the supported ones', async () => {
    expectRefused(
      await runCli(['analyze', 'dt', path('rows.xyz')]),
      /unsupported extension 'xyz'; supported: \.csv, \.txt, \.bin/,
    );
  });

  it('analyze: a truncated binary word or a corrupt gzip stream is an object format error', async () => {
    const [truncated, corrupt] = await Promise.all([
      runCli(['analyze', 'dt', path('truncated.bin')]),
      runCli(['analyze', 'dt', path('corrupt.csv.gz')]),
    ]);
    expectRefused(truncated, /13 bytes, not a multiple of 8/);
    expectRefused(corrupt, /not a valid gzip stream/);
  });

  it('generate: unknown analysis, missing or bad options, conflicting names', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['generate', 'sf', '--rows', '10', '--out', path('x.csv')],
        /analysis "sf" has no generator yet; generate supports: dt/,
      ],
      [['generate', 'nope', '--rows', '10', '--out', path('x.csv')], /unknown analysis "nope"/],
      [['generate', 'dt', '--out', path('x.csv')], /--rows N is required/],
      [['generate', 'dt', '--rows', '10'], /--out FILE is required/],
      [['generate', 'dt', '--rows', 'ten', '--out', path('x.csv')], /--rows must be a whole number/],
      [['generate', 'dt', '--rows', '10', '--seed=-1', '--out', path('x.csv')], /--seed/],
      [
        ['generate', 'dt', '--rows', '10', '--format', 'json', '--out', path('x.csv')],
        /--format must be csv or bin/,
      ],
      [
        ['generate', 'dt', '--rows', '10', '--format', 'bin', '--out', path('x.csv')],
        /conflicts with the name/,
      ],
      [['generate', 'dt', '--rows', '10', '--gzip', '--out', path('x.csv')], /use '.*x\.csv\.gz'/],
      [['generate', 'dt', '--rows', '10', '--out', path('no/such/dir/x.csv')], /cannot write .* \(ENOENT\)/],
    ];
    const runs = await Promise.all(cases.map(([args]) => runCli(args)));
    runs.forEach((run, index) => {
      expectRefused(run, cases[index]?.[1] ?? /never/);
    });
    expect((await readdir(dir)).sort()).toEqual(['corrupt.csv.gz', 'rows.csv', 'rows.xyz', 'truncated.bin']);
  });

  it('--help prints the usage on stdout and exits 0', async () => {
    const [analyze, generate, top] = await Promise.all([
      runCli(['analyze', '--help']),
      runCli(['generate', '--help']),
      runCli(['--help']),
    ]);
    expect(analyze.code).toBe(0);
    expect(analyze.out).toMatch(/^Usage: driftline analyze <analysis> <file> \[--batch-rows N\]/);
    expect(generate.code).toBe(0);
    expect(generate.out).toMatch(/^Usage: driftline generate dt --rows N --out FILE/);
    expect(top.out).toMatch(/\n {2}generate {2}.*\n {2}analyze {3}/);
  });

  it('without arguments prints the usage on stderr and exits 2', async () => {
    const [analyze, generate] = await Promise.all([runCli(['analyze']), runCli(['generate'])]);
    for (const run of [analyze, generate]) {
      expect(run.code).toBe(2);
      expect(run.out).toBe('');
      expect(run.stderr).toMatch(/^Usage: driftline /);
    }
  });
});
