/**
 * `driftline replay FILE` refuses, in one line and before anything is uploaded, what cannot be
 * replayed: an unknown analysis, a file it cannot read, a format no analysis reads or whose rows
 * are not the analysis' rows, and — with a good file — the absence of a running local cloud, with
 * how to start one. (Against a running pipeline, "already replayed" and a followed replay are
 * tested in test/integration/your-own-data.test.ts.)
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, runCli } from './run-cli.ts';

const DT_ROWS =
  'HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS\n2,0,75,3387200947,2922,2\n2,0,76,3387200947,2923,4\n';
const NOT_DT_ROWS = 'name,colour\napple,red\npear,green\nplum,purple\n';

function expectRefused(run: CliRun, message: RegExp): void {
  expect(run.out).toBe('');
  expect(run.code, run.stderr).toBe(1);
  expect(run.stderr.trimEnd().split('\n'), run.stderr).toHaveLength(1);
  expect(run.stderr).toMatch(/^driftline replay: /);
  expect(run.stderr).toMatch(message);
}

describe('driftline replay refuses what it cannot replay, in one line', { timeout: 60_000 }, () => {
  let dir = '';
  /** A data folder with no stack in it: a good file then meets "no local cloud is running". */
  let emptyDataDir = '';
  const path = (name: string) => join(dir, name);
  const replay = (args: string[]) => runCli(['replay', ...args], { DRIFTLINE_DATA_DIR: emptyDataDir });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'driftline-replay-errors-'));
    emptyDataDir = join(dir, 'no-stack-here');
    await mkdir(emptyDataDir);
    await writeFile(path('rows.csv'), DT_ROWS);
    await writeFile(path('rows.csv.gz'), gzipSync(DT_ROWS));
    await writeFile(path('rows.xyz'), DT_ROWS);
    await writeFile(path('fruit.csv'), NOT_DT_ROWS);
    await writeFile(path('plain.csv.gz'), DT_ROWS);
    await writeFile(path('unreadable.csv'), DT_ROWS);
    await chmod(path('unreadable.csv'), 0o000);
    await mkdir(path('folder.csv'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('an unknown analysis lists the known ones', async () => {
    expectRefused(
      await replay([path('rows.csv'), '--analysis', 'nope']),
      /unknown analysis "nope"; known analyses: dt, sf, sfb/,
    );
  });

  it('--order event-time for dt is refused before anything is uploaded, saying why', async () => {
    expectRefused(await replay([path('rows.csv'), '--order', 'event-time']), /--order event-time: .*dt/);
  });

  it('an --order other than file or event-time is refused', async () => {
    const run = await replay([path('rows.csv'), '--order', 'sideways']);
    expect(run.code, run.stderr).not.toBe(0);
    expect(run.stderr).toMatch(/--order must be file or event-time/);
  });

  it('a file it cannot read: missing, a folder, no permission', async () => {
    const [missing, folder, unreadable] = await Promise.all([
      replay([path('absent.csv')]),
      replay([path('folder.csv')]),
      replay([path('unreadable.csv')]),
    ]);
    expectRefused(missing, /absent\.csv: no such file/);
    expectRefused(folder, /folder\.csv: is a directory/);
    // Root reads any file whatever its mode: then this one is readable, and meets "no stack".
    if (process.getuid?.() === 0) expectRefused(unreadable, /no local cloud is running/);
    else expectRefused(unreadable, /unreadable\.csv: cannot read it \(EACCES\)/);
  });

  it('a format no analysis reads, or not the one asked for, names the supported ones', async () => {
    const [none, notSf] = await Promise.all([
      replay([path('rows.xyz')]),
      replay([path('rows.csv'), '--analysis', 'sf']),
    ]);
    expectRefused(
      none,
      /unsupported file: no analysis reads it \(dt cannot read .*supported: \.csv, \.txt, \.bin/,
    );
    expectRefused(notSf, /unsupported file: sf cannot read .*supported: \.json/);
  });

  it('a .gz that is not gzip, and a file whose rows are not the analysis rows', async () => {
    const [plain, fruit] = await Promise.all([replay([path('plain.csv.gz')]), replay([path('fruit.csv')])]);
    expectRefused(plain, /plain\.csv\.gz: named \.gz but it is not gzip/);
    expectRefused(
      fruit,
      /unsupported file .*fruit\.csv: none of its first \d+ rows is a dt row \(the first: /,
    );
  });

  it('a good file with no local cloud running says how to start one', async () => {
    const [csv, gzipped] = await Promise.all([replay([path('rows.csv')]), replay([path('rows.csv.gz')])]);
    for (const run of [csv, gzipped]) {
      expectRefused(run, /no local cloud is running from .*no-stack-here: start it with `npm start`/);
    }
  });

  it('bad options, and --help', async () => {
    const [rate, rows, help, bare] = await Promise.all([
      replay([path('rows.csv'), '--rate', 'fast']),
      replay([path('rows.csv'), '--rows-per-record', '0']),
      replay(['--help']),
      replay([]),
    ]);
    expectRefused(rate, /--rate must be a number/);
    expectRefused(rows, /--rows-per-record must be at least 1/);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: driftline replay FILE \[options\]/);
    expect(help.out).toMatch(/--follow/);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^Usage: driftline replay FILE/);
  });
});
