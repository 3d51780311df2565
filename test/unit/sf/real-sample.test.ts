import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeDispositions, parseRadioCodes, sfAnalysis } from '../../../shared/analyses/sf/index.ts';
import { partitionForKey } from '../../../shared/core/kafka-partitioner.ts';
import { analyzeOffline } from '../../../shared/pipeline/offline-analysis.ts';
import {
  asArray,
  asObject,
  bytes,
  chunked,
  frameObject,
  RADIO_CODES_PATH,
  radioCodesExist,
  records,
  SAMPLE_PATH,
  sampleExists,
  slices,
} from './fixtures.ts';

/** The source job's answer, computed here plainly: the whole array parsed, a Set of triples. */
function sourceJobAnswer(objectText: string) {
  const parsed: unknown = JSON.parse(objectText);
  if (!Array.isArray(parsed)) throw new Error('not an array');
  const seen = new Set<string>();
  const perType = new Map<string, number>();
  const perDisposition = new Map<string, number>();
  let empty = 0;
  for (const record of parsed) {
    const { call_date_time: time, disposition, original_crime_type_name: type } = record;
    if (!time || !disposition || !type) {
      empty++;
      continue;
    }
    const triple = JSON.stringify([time, disposition, type]);
    if (seen.has(triple)) continue;
    seen.add(triple);
    perType.set(type, (perType.get(type) ?? 0) + 1);
    perDisposition.set(disposition, (perDisposition.get(disposition) ?? 0) + 1);
  }
  const ranked = [...perType].sort(([nameA, a], [nameB, b]) => b - a || (nameA < nameB ? -1 : 1));
  return { rows: parsed.length, empty, distinct: seen.size, ranked, perDisposition };
}

describe.skipIf(!sampleExists)(
  `sf on the 2,000-record sample (skipped when absent: ${SAMPLE_PATH})`,
  { timeout: 30_000 },
  () => {
    const sample = sampleExists ? readFileSync(SAMPLE_PATH) : Buffer.alloc(0);
    const expected = sampleExists ? sourceJobAnswer(sample.toString('utf8')) : undefined;
    const rows = sampleExists ? frameObject('sf/sample.json', chunked(sample, 65_536)) : [];

    it('counts per crime type exactly as the source job: distinct triples, complete, by count descending', () => {
      // Act
      const state = sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(rows)).state;
      const summary = sfAnalysis.summarizeState(state);

      // Assert
      expect(expected?.rows).toBe(2000);
      expect(summary).toMatchObject({
        rows_read: 2000,
        rows_dropped_empty: expected?.empty,
        rows_rejected: 0,
        rows_distinct: expected?.distinct,
      });
      expect(summary.rows_duplicate).toBe(2000 - (expected?.distinct ?? 0) - (expected?.empty ?? 0));
      expect(summary.crime_types).toEqual(
        expected?.ranked.map(([name, count]) => ({ original_crime_type_name: name, count })),
      );
      expect(
        new Map(
          asArray(summary.dispositions).map((entry) => [asObject(entry).disposition, asObject(entry).count]),
        ),
      ).toEqual(expected?.perDisposition);
    });

    it('gives the same cumulative answer in batches of 200 rows as in one batch', () => {
      // Act
      const whole = sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(rows)).state;
      let state = sfAnalysis.emptyState();
      let batches = sfAnalysis.emptyBatch();
      for (const batchRows of slices(rows, 200)) {
        const step = sfAnalysis.applyBatch(state, records(batchRows));
        state = step.state;
        batches = sfAnalysis.mergeBatches(batches, step.batch);
      }

      // Assert
      const wholeSummary = sfAnalysis.summarizeState(whole);
      const batchedSummary = sfAnalysis.summarizeState(state);
      for (const field of [
        'rows_read',
        'rows_dropped_empty',
        'rows_duplicate',
        'rows_distinct',
        'crime_types',
        'dispositions',
      ]) {
        expect(batchedSummary[field], field).toEqual(wholeSummary[field]);
      }
      expect(batchedSummary).toEqual(wholeSummary);
      // The batches' contributions add up to the cumulative counts (what rollups and data_clean rely on).
      expect(sfAnalysis.summarizeBatch(batches).crime_types).toEqual(wholeSummary.crime_types);
    });

    it('runs as `driftline analyze sf <file> --batch-rows 200` does (offline analysis)', async () => {
      // Act
      const results = [];
      for await (const result of analyzeOffline({
        analysis: sfAnalysis,
        fileName: SAMPLE_PATH,
        bytes: (async function* () {
          yield* chunked(sample, 65_536);
        })(),
        batchRows: 200,
      })) {
        results.push(result);
      }

      // Assert
      expect(results.map((result) => result.rows)).toEqual(new Array(10).fill(200));
      expect(results.at(-1)?.cumulative.crime_types).toEqual(
        expected?.ranked.map(([name, count]) => ({ original_crime_type_name: name, count })),
      );
      expect(results.at(-1)?.cumulative.rows_late).toBeGreaterThan(1900);
    });

    it('gives the same counts over 10 partitions keyed as replay keys them', () => {
      // Arrange
      const partitions: string[][] = Array.from({ length: 10 }, () => []);
      for (const row of rows) {
        const key = sfAnalysis.replay.partitionKey(bytes(row), 'text');
        if (key === undefined) throw new Error(`no key for ${row}`);
        partitions[partitionForKey(key, 10)]?.push(row);
      }

      // Act
      const states = partitions.map((partitionRows, partition) => {
        let state = sfAnalysis.emptyState();
        for (const batchRows of slices(partitionRows, 20))
          state = sfAnalysis.applyBatch(state, records(batchRows, partition)).state;
        return state;
      });
      const merged = sfAnalysis.summarizeState(sfAnalysis.mergeStates(states));

      // Assert
      expect(merged.crime_types).toEqual(
        expected?.ranked.map(([name, count]) => ({ original_crime_type_name: name, count })),
      );
      expect(merged.rows_distinct).toBe(expected?.distinct);
    });

    it.skipIf(!radioCodesExist)(
      'describes the dispositions from radio_code.json, keeping codes it lacks (left join)',
      () => {
        // Arrange
        const codes = parseRadioCodes(readFileSync(RADIO_CODES_PATH));
        const summary = sfAnalysis.summarizeState(
          sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(rows)).state,
        );

        // Act
        const described = describeDispositions(summary, codes);

        // Assert
        const byCode = new Map(
          asArray(described.dispositions).map((entry) => [
            asObject(entry).disposition,
            asObject(entry).description,
          ]),
        );
        expect(byCode.get('HAN')).toBe('Handled');
        expect(byCode.get('Not recorded')).toBeNull();
        const meta = asObject(described.disposition_descriptions);
        expect(Number(meta.rows_described) + Number(meta.rows_without_description)).toBe(expected?.distinct);
        expect(Number(meta.rows_without_description)).toBeGreaterThan(0);
      },
    );
  },
);
