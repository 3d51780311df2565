import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { batchLines, runCli } from './run-cli.ts';

// The 74 real rows live beside the checkout (../shared/data), not in the repo.
const samplePath = fileURLToPath(
  new URL('../../../../shared/data/dt/data_000000.head74.csv', import.meta.url),
);
const sampleExists = existsSync(samplePath);

/** Counted here with plain string handling, independently of the analysis. */
function countRows(text: string) {
  const lines = text.split(/\r?\n/).filter((line) => line !== '');
  const rows = lines[0]?.startsWith('HEAD') ? lines.slice(1) : lines;
  const heads = rows.map((row) => row.split(',')[0]);
  const hits = rows.filter((row) => {
    const [head, , channel] = row.split(',');
    return head === '2' && Number(channel) < 128;
  });
  return { rows: rows.length, filtered: heads.filter((head) => head !== '2').length, hits: hits.length };
}

describe.skipIf(!sampleExists)(
  `driftline analyze on the 74 real rows (skipped when absent: ${samplePath})`,
  { timeout: 30_000 },
  () => {
    const expected = countRows(sampleExists ? readFileSync(samplePath, 'utf8') : '');

    it('reads every row: rows and filtered (HEAD ≠ 2) counts equal a plain count of the text', async () => {
      // Act
      const run = await runCli(['analyze', 'dt', samplePath]);

      // Assert
      expect(run.code, run.stderr).toBe(0);
      const [result, ...more] = batchLines(run.out);
      expect(more).toHaveLength(0);
      expect(expected.rows).toBe(74);
      expect(result?.rows).toBe(expected.rows);
      expect(result?.summary.rows_read).toBe(expected.rows);
      expect(result?.summary.rows_filtered).toBe(expected.filtered);
      expect(result?.summary.hit_count).toBe(expected.hits);
      expect(result?.rejectedRows).toBe(0);
      expect(run.stderr).toMatch(/74 rows in 1 batch, 0 rejected/);
    });

    it('cuts 74 rows into 8 batches of 10 (the last one of 4) with --batch-rows 10', async () => {
      // Act
      const run = await runCli(['analyze', 'dt', samplePath, '--batch-rows', '10']);

      // Assert
      expect(run.code, run.stderr).toBe(0);
      const lines = batchLines(run.out);
      expect(lines.map((line) => line.rows)).toEqual([10, 10, 10, 10, 10, 10, 10, 4]);
      expect(lines.at(-1)?.cumulative.rows_read).toBe(expected.rows);
      expect(lines.at(-1)?.cumulative.rows_filtered).toBe(expected.filtered);
    });
  },
);
