import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asNumber, asRecord, type BatchLine, batchLines, type CliRun, runCli } from './run-cli.ts';

const ROWS = 20_000;
const SEED = 7;
const BATCH_ROWS = 5_000;

/** Summary fields that count rows or hits: the same however the rows are cut into batches. */
const PER_ROW_FIELDS = [
  'hit_count',
  'hit_count_chamber',
  'rows_read',
  'rows_filtered',
  'rows_rejected',
  'rejected_by_reason',
  'auxiliary_hits',
  'scintillator_hits',
];

/** Adds batch summaries field by field (histogram edges and chamber numbers must agree, not add). */
function sumSummaries(values: readonly unknown[]): unknown {
  const [first] = values;
  if (typeof first === 'number') return values.reduce<number>((sum, value) => sum + asNumber(value, 'n'), 0);
  if (Array.isArray(first)) {
    return first.map((_, index) => sumSummaries(values.map((value) => (value as unknown[])[index])));
  }
  const records = values.map((value) => asRecord(value, 'summary part'));
  const keys = [...new Set(records.flatMap((record) => Object.keys(record)))];
  return Object.fromEntries(
    keys.map((key) => {
      if (key === 'bin_edges' || key === 'chamber') {
        for (const record of records) expect(record[key]).toEqual(records[0]?.[key]);
        return [key, records[0]?.[key]];
      }
      return [key, sumSummaries(records.map((record) => record[key] ?? 0))];
    }),
  );
}

/** Independent orbit counts from the CSV text, batch by batch, with plain string handling. */
function orbitCountsByBatch(csv: string, batchRows: number) {
  const rows = csv.split('\n').filter((line) => line !== '' && !line.startsWith('HEAD'));
  let withHits = 0;
  let withScintillator = 0;
  for (let start = 0; start < rows.length; start += batchRows) {
    const hitOrbits = new Set<string>();
    const scintillatorOrbits = new Set<string>();
    for (const row of rows.slice(start, start + batchRows)) {
      const [head, fpga, channel, orbit = ''] = row.split(',');
      if (head !== '2') continue;
      if (Number(channel) < 128) hitOrbits.add(orbit);
      else if (fpga === '1' && channel === '128') scintillatorOrbits.add(orbit);
    }
    withHits += hitOrbits.size;
    withScintillator += scintillatorOrbits.size;
  }
  return { withHits, withScintillator };
}

describe('driftline generate → analyze, as subprocesses', { timeout: 60_000 }, () => {
  let dir = '';
  const path = (name: string) => join(dir, name);
  let generated: Record<string, CliRun> = {};
  const analyses = new Map<string, Promise<CliRun>>();
  /** Each (file, batch size) is analysed once and shared by the tests that read it. */
  const analyze = (name: string, batchRows?: number): Promise<CliRun> => {
    const args = ['analyze', 'dt', path(name), ...(batchRows ? ['--batch-rows', String(batchRows)] : [])];
    const key = args.join(' ');
    const run = analyses.get(key) ?? runCli(args);
    analyses.set(key, run);
    return run;
  };
  const lines = async (name: string, batchRows?: number): Promise<BatchLine[]> => {
    const run = await analyze(name, batchRows);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(run.code).toBe(0);
    return batchLines(run.out);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'driftline-cli-'));
    const common = ['generate', 'dt', '--rows', String(ROWS), '--seed', String(SEED)];
    const runs = await Promise.all([
      runCli([...common, '--out', path('a.csv'), '--truth', path('truth.json')]),
      runCli([...common, '--out', path('again.csv')]),
      runCli([...common, '--out', path('a.bin')]),
      runCli([...common, '--out', path('again.bin')]),
      runCli([...common, '--out', path('a.csv.gz')]),
      runCli([...common, '--out', '-']),
    ]);
    const names = ['a.csv', 'again.csv', 'a.bin', 'again.bin', 'a.csv.gz', 'stdout'];
    generated = Object.fromEntries(names.map((name, index) => [name, runs[index] as CliRun]));
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(analyses.values());
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('generates every file with exit 0 and a final line of rows, bytes and seconds on stderr', () => {
    for (const [name, run] of Object.entries(generated)) {
      expect(run.code, `${name}: ${run.stderr}`).toBe(0);
      expect(run.stderr).toMatch(new RegExp(`generate dt: ${ROWS} rows .* \\d+ bytes in \\d+\\.\\d+ s`));
    }
    expect(generated['a.csv']?.out).toBe('');
  });

  it('is deterministic: the same seed gives the same bytes, in a file or on stdout', async () => {
    // Act
    const [csv, csvAgain, bin, binAgain] = await Promise.all(
      ['a.csv', 'again.csv', 'a.bin', 'again.bin'].map((name) => readFile(path(name))),
    );

    // Assert
    expect(csv?.length).toBeGreaterThan(ROWS * 20);
    expect(csvAgain?.equals(csv ?? Buffer.alloc(0))).toBe(true);
    expect(bin?.length).toBe(ROWS * 8);
    expect(binAgain?.equals(bin ?? Buffer.alloc(0))).toBe(true);
    expect(generated.stdout?.stdout.equals(csv ?? Buffer.alloc(0))).toBe(true);
  });

  it('writes .gz output that gunzips to the same CSV bytes', async () => {
    // Act
    const [csv, gzipped] = await Promise.all([readFile(path('a.csv')), readFile(path('a.csv.gz'))]);

    // Assert
    expect(gzipped.length).toBeLessThan(csv.length);
    expect(gunzipSync(gzipped).equals(csv)).toBe(true);
  });

  it('analyses csv, bin and csv.gz of the same seed to identical cumulative results', async () => {
    // Act
    const [csv, bin, gzipped] = await Promise.all([lines('a.csv'), lines('a.bin'), lines('a.csv.gz')]);

    // Assert
    for (const result of [csv, bin, gzipped]) {
      expect(result).toHaveLength(1);
      expect(result[0]?.rows).toBe(ROWS);
      expect(result[0]?.rejectedRows).toBe(0);
      // One batch: hit-level fields of the batch are the state's (orbit-level ones differ by the
      // orbits still open at the end, which only the cumulative view counts).
      for (const field of PER_ROW_FIELDS)
        expect(result[0]?.cumulative[field], field).toEqual(result[0]?.summary[field]);
    }
    expect(csv[0]?.cumulative.rows_read).toBe(ROWS);
    expect(asNumber(csv[0]?.cumulative.hit_count, 'hit_count')).toBeGreaterThan(ROWS / 4);
    expect(bin[0]?.cumulative).toEqual(csv[0]?.cumulative);
    expect(gzipped[0]?.cumulative).toEqual(csv[0]?.cumulative);
  });

  it('matches the generator truth written by --truth', async () => {
    // Act
    const [result] = await lines('a.csv');
    const truth = asRecord(JSON.parse(await readFile(path('truth.json'), 'utf8')), 'truth');
    const chamberHits = truth.chamberHits as number[];

    // Assert
    const summary = result?.summary ?? {};
    expect(truth.rows).toBe(ROWS);
    expect(summary.hit_count_chamber).toEqual(chamberHits);
    expect(summary.rows_filtered).toBe(truth.ancillaryRows);
    expect(summary.scintillator_hits).toBe(truth.scintillatorHits);
    expect(summary.auxiliary_hits).toBe(truth.auxiliaryHits);
  });

  it(`--batch-rows ${BATCH_ROWS} prints one line per batch whose last cumulative adds up the batches`, async () => {
    // Act
    const batched = await lines('a.csv', BATCH_ROWS);
    const [whole] = await lines('a.csv');

    // Assert
    expect(batched.map((line) => [line.batch, line.rows])).toEqual([
      [1, 5000],
      [2, 5000],
      [3, 5000],
      [4, 5000],
    ]);
    const last = batched.at(-1)?.cumulative ?? {};
    const summed = asRecord(sumSummaries(batched.map((line) => line.summary)), 'summed');
    for (const field of PER_ROW_FIELDS) expect(summed[field], field).toEqual(last[field]);
    // However the file is cut, the cumulative view is the whole file's, orbit-level fields included.
    expect(last).toEqual(whole?.cumulative);
    const hitCounts = batched.map((line) => asNumber(line.summary.hit_count, 'hit_count'));
    expect(hitCounts.reduce((sum, count) => sum + count, 0)).toBe(whole?.summary.hit_count);
    for (const field of PER_ROW_FIELDS) expect(last[field], field).toEqual(whole?.summary[field]);
    const chambers = (summary: unknown) =>
      (asRecord(summary, 'summary').chambers as JsonChamber[]).map(({ chamber, hit_count, occupancy }) => ({
        chamber,
        hit_count,
        occupancy,
      }));
    expect(chambers(last)).toEqual(chambers(whole?.summary));
    expect((await analyze('a.csv', BATCH_ROWS)).stderr).toMatch(
      new RegExp(`${ROWS} rows in 4 batches, 0 rejected, .* rows/s`),
    );
  });

  it('counts an orbit cut by a batch boundary once: orbit figures equal the whole-file ones', async () => {
    // Arrange
    const csv = await readFile(path('a.csv'), 'utf8');
    const perBatch = orbitCountsByBatch(csv, BATCH_ROWS);
    const wholeFile = orbitCountsByBatch(csv, Number.POSITIVE_INFINITY);

    // Act
    const last = (await lines('a.csv', BATCH_ROWS)).at(-1)?.cumulative;
    const [whole] = await lines('a.csv');

    // Assert: some orbits do straddle the boundaries (counted per batch they would be more)…
    expect(perBatch.withHits).toBeGreaterThan(wholeFile.withHits);
    // …yet the cumulative view counts each orbit once, batched or not.
    expect(last?.orbits_with_hits).toBe(wholeFile.withHits);
    expect(last?.orbits_with_scintillator).toBe(wholeFile.withScintillator);
    expect(whole?.cumulative.orbits_with_hits).toBe(wholeFile.withHits);
    expect(whole?.cumulative.orbits_with_scintillator).toBe(wholeFile.withScintillator);
    expect(last?.late_hits).toBe(0);
  });
});

type JsonChamber = { chamber: unknown; hit_count: unknown; occupancy: unknown };
