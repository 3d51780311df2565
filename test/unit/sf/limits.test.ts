import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { analysisForObjectKey } from '../../../shared/analyses/registry.ts';
import {
  createSfAnalysis,
  describeDispositions,
  parseRadioCodes,
  type SfBatch,
  sfAnalysis,
} from '../../../shared/analyses/sf/index.ts';
import {
  MAX_CRIME_TYPES,
  MAX_DESCRIBED_SUMMARY_BYTES,
  MAX_DESCRIPTION_BYTES,
  MAX_DISPOSITIONS,
  MAX_FIELD_BYTES,
  MAX_ROW_BYTES,
  MAX_STATE_BYTES_WITHOUT_DEDUP,
  MAX_SUMMARY_BYTES,
  MAX_WINDOW_CRIME_TYPES,
  maxStateBytes,
  STATE_FIXED_BYTES,
  SUMMARY_FIXED_BYTES,
} from '../../../shared/analyses/sf/limits.ts';
import { emptyBatch, emptyState } from '../../../shared/analyses/sf/state.ts';
import type { Json, JsonObject } from '../../../shared/core/analysis.ts';
import { replayObject } from '../../../shared/pipeline/replay.ts';
import {
  FakeClock,
  InMemoryItemStore,
  InMemoryObjectSource,
  RecordingPublisher,
} from '../../support/fakes.ts';
import {
  asArray,
  asObject,
  bytes,
  call,
  chunked,
  FULL_PATH,
  frameObject,
  records,
  slices,
} from './fixtures.ts';

/** Kafka's default largest message (broker `message.max.bytes` ≈ producer `max.request.size`). */
const KAFKA_DEFAULT_MESSAGE_BYTES = 1024 * 1024;
/** The largest synchronous Lambda response. */
const LAMBDA_RESPONSE_BYTES = 6 * 1024 * 1024;
const CRIME_TYPE_LIMIT = MAX_FIELD_BYTES.original_crime_type_name ?? 0;
const DISPOSITION_LIMIT = MAX_FIELD_BYTES.disposition ?? 0;

const encoder = new TextEncoder();
function jsonBytes(value: Json): number {
  return encoder.encode(JSON.stringify(value)).length;
}

/**
 * A distinct name of exactly `limit` bytes as JSON text: plain ASCII, quotes (2 bytes each once
 * escaped) or accented letters (2 bytes of UTF-8 each), by turns.
 */
function nameAtLimit(index: number, limit: number): string {
  const tag = index.toString(36).padStart(6, '0');
  const rest = limit - tag.length;
  switch (index % 3) {
    case 0:
      return tag + 'x'.repeat(rest);
    case 1:
      return tag + '"'.repeat(Math.floor(rest / 2)) + 'x'.repeat(rest % 2);
    default:
      return tag + 'é'.repeat(Math.floor(rest / 2)) + 'x'.repeat(rest % 2);
  }
}

/** The three kept fields only: hostile rows need nothing else. */
function hostileRow(eventMs: number, crimeType: string, disposition: string): string {
  return JSON.stringify({
    call_date_time: new Date(eventMs).toISOString().slice(0, 23),
    disposition,
    original_crime_type_name: crimeType,
  });
}

function countsOf(list: Json | undefined): number {
  return asArray(list).reduce<number>((sum, entry) => sum + Number(asObject(entry).count), 0);
}

describe('sf field limits: a row with an over-long field is rejected, its neighbours counted', () => {
  it('rejects it as field-too-long naming the field, its length and the limit; the quoted row stays short', () => {
    // Arrange
    const atLimitAscii = 'x'.repeat(CRIME_TYPE_LIMIT);
    const atLimitAccented = 'é'.repeat(CRIME_TYPE_LIMIT / 2);
    const rows = [
      call({ time: '00:01', type: 'Before', crimeId: '1' }),
      call({ time: '00:02', type: 'y'.repeat(900_000), crimeId: '2' }),
      call({ time: '00:03', type: atLimitAscii, crimeId: '3' }),
      call({ time: '00:04', type: '"'.repeat(CRIME_TYPE_LIMIT / 2 + 1), crimeId: '4' }),
      call({ time: '00:05', type: atLimitAccented, crimeId: '5' }),
      call({ time: '00:06', type: 'Address', extra: { address: 'z'.repeat(201) }, crimeId: '6' }),
      call({ time: '00:07', type: 'After', crimeId: '7' }),
    ];
    const packed = sfAnalysis.replay.pack(rows.map(bytes), 'text');

    // Act
    const step = sfAnalysis.applyBatch(sfAnalysis.emptyState(), [
      { value: packed, wireFormat: 'text', partition: 2, offset: '41', timestampMs: 0 },
    ]);
    const summary = sfAnalysis.summarizeBatch(step.batch);

    // Assert
    expect(step.rejections.map(({ reason, rowIndex }) => [reason, rowIndex])).toEqual([
      ['field-too-long', 1],
      ['field-too-long', 3],
      ['field-too-long', 5],
    ]);
    expect(step.rejections.map((rejection) => rejection.detail)).toEqual([
      `original_crime_type_name is 900000 bytes long (UTF-8, as JSON text); the limit is ${CRIME_TYPE_LIMIT}`,
      `original_crime_type_name is ${CRIME_TYPE_LIMIT + 2} bytes long (UTF-8, as JSON text); the limit is ${CRIME_TYPE_LIMIT}`,
      `address is 201 bytes long (UTF-8, as JSON text); the limit is ${MAX_FIELD_BYTES.address}`,
    ]);
    for (const rejection of step.rejections) {
      expect(rejection.row.length).toBeLessThanOrEqual(301);
      expect(rejection).toMatchObject({ partition: 2, offset: '41' });
    }
    expect(summary).toMatchObject({
      rows_read: 7,
      rows_rejected: 3,
      rejected_by_reason: { 'field-too-long': 3 },
      rows_distinct: 4,
    });
    expect(
      new Set(asArray(summary.crime_types).map((entry) => asObject(entry).original_crime_type_name)),
    ).toEqual(new Set(['Before', atLimitAscii, atLimitAccented, 'After']));
  });
});

describe('sf size bounds: hostile rows (names at the limits, many distinct values) stay under them', () => {
  it('states bounds under Kafka’s 1 MiB message and the 6 MB Lambda response', () => {
    // The figures limits.ts and the README state (change them there when the limits change).
    expect({ MAX_SUMMARY_BYTES, MAX_DESCRIBED_SUMMARY_BYTES, MAX_STATE_BYTES_WITHOUT_DEDUP }).toEqual({
      MAX_SUMMARY_BYTES: 644_908,
      MAX_DESCRIBED_SUMMARY_BYTES: 691_709,
      MAX_STATE_BYTES_WITHOUT_DEDUP: 573_608,
    });
    expect(MAX_SUMMARY_BYTES + 16 * 1024).toBeLessThan(KAFKA_DEFAULT_MESSAGE_BYTES);
    expect(MAX_DESCRIBED_SUMMARY_BYTES).toBeLessThan(LAMBDA_RESPONSE_BYTES);
    expect(MAX_STATE_BYTES_WITHOUT_DEDUP).toBeLessThan(KAFKA_DEFAULT_MESSAGE_BYTES);
  });

  it('keeps every summary, the described summary and every state item under the bounds', {
    timeout: 60_000,
  }, () => {
    // Arrange: 100,000 distinct calls over 4 partitions, event time rising over two hours (every row
    // on time: windows fill up); 24,000 crime types at the length limit, taken in turn (so each
    // partition sees 6,000, and names it keeps come back in every window), 1,000 dispositions at theirs.
    const rows = 100_000;
    const startMs = Date.UTC(2018, 11, 31, 10, 0);
    const spanMs = 2 * 3600_000;
    const partitions: string[][] = [[], [], [], []];
    for (let index = 0; index < rows; index++) {
      partitions[index % 4]?.push(
        hostileRow(
          startMs + Math.floor((index * spanMs) / rows),
          nameAtLimit(index % 24_000, CRIME_TYPE_LIMIT),
          nameAtLimit(index % 1000, DISPOSITION_LIMIT),
        ),
      );
    }
    const codes = parseRadioCodes(
      JSON.stringify(
        Array.from({ length: 1000 }, (_, index) => ({
          disposition_code: nameAtLimit(index, DISPOSITION_LIMIT),
          description: nameAtLimit(index, MAX_DESCRIPTION_BYTES),
        })),
      ),
    );

    // Act
    const steps = partitions.map((partitionRows, partition) =>
      sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(partitionRows, partition)),
    );
    const merged = sfAnalysis.mergeStates(steps.map((step) => step.state));
    const allBatches = steps.reduce<SfBatch>(
      (sum, step) => sfAnalysis.mergeBatches(sum, step.batch),
      sfAnalysis.emptyBatch(),
    );
    const cumulative = sfAnalysis.summarizeState(merged);
    const described = describeDispositions(cumulative, codes);

    // Assert
    expect(steps.every((step) => step.rejections.length === 0)).toBe(true);
    for (const step of steps) {
      const encoded = sfAnalysis.stateCodec.encode(step.state);
      expect(jsonBytes(encoded)).toBeLessThanOrEqual(maxStateBytes(step.state.dedup.size, false));
      expect(jsonBytes(sfAnalysis.summarizeBatch(step.batch))).toBeLessThanOrEqual(MAX_SUMMARY_BYTES);
      expect(jsonBytes(sfAnalysis.summarizeState(step.state))).toBeLessThanOrEqual(MAX_SUMMARY_BYTES);
      expect(step.state.crimeTypes.size).toBe(MAX_CRIME_TYPES + 1);
      expect(step.state.dispositions.size).toBe(MAX_DISPOSITIONS + 1);
      for (const window of [...step.state.openWindows.values(), ...step.state.closedWindows.values()])
        expect(window.size).toBe(MAX_WINDOW_CRIME_TYPES + 1);
      // Still the state it was: it decodes to the same encoding.
      expect(sfAnalysis.stateCodec.encode(sfAnalysis.stateCodec.decode(encoded))).toEqual(encoded);
    }
    const batchSummary = sfAnalysis.summarizeBatch(allBatches);
    expect(jsonBytes(batchSummary)).toBeLessThanOrEqual(MAX_SUMMARY_BYTES);
    expect(jsonBytes(cumulative)).toBeLessThanOrEqual(MAX_SUMMARY_BYTES);
    expect(jsonBytes(described)).toBeLessThanOrEqual(MAX_DESCRIBED_SUMMARY_BYTES);
    // The worst case built here comes near the bound (its counts are short numbers, the bound's 16 digits).
    expect(jsonBytes(cumulative)).toBeGreaterThan(0.8 * MAX_SUMMARY_BYTES);
    // Every distinct row is still counted: what is not listed is in the "other" buckets.
    for (const summary of [cumulative, batchSummary]) {
      expect(summary.rows_distinct).toBe(rows);
      expect(asArray(summary.crime_types)).toHaveLength(MAX_CRIME_TYPES);
      expect(countsOf(summary.crime_types) + Number(summary.crime_types_other)).toBe(rows);
      expect(asArray(summary.dispositions)).toHaveLength(MAX_DISPOSITIONS);
      expect(countsOf(summary.dispositions) + Number(summary.dispositions_other)).toBe(rows);
    }
    expect(asArray(cumulative.notes).join(' ')).toMatch(/more than 5000 distinct crime types/);
    const joined = asObject(described.disposition_descriptions);
    expect(Number(joined.rows_described) + Number(joined.rows_without_description)).toBe(rows);
  });

  it('folds names past the caps the same way wherever the stream is cut into batches', () => {
    // Arrange: one partition, 12,000 calls, 6,000 crime types and 300 dispositions in turn.
    const startMs = Date.UTC(2018, 11, 31, 10, 0);
    const rows = Array.from({ length: 12_000 }, (_, index) =>
      hostileRow(
        startMs + index * 600,
        nameAtLimit(index % 6000, CRIME_TYPE_LIMIT),
        nameAtLimit(index % 300, DISPOSITION_LIMIT),
      ),
    );

    // Act
    const whole = sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(rows)).state;
    let batched = sfAnalysis.emptyState();
    for (const batchRows of slices(rows, 997))
      batched = sfAnalysis.applyBatch(batched, records(batchRows)).state;

    // Assert
    expect(sfAnalysis.stateCodec.encode(batched)).toEqual(sfAnalysis.stateCodec.encode(whole));
    expect(sfAnalysis.summarizeState(batched)).toEqual(sfAnalysis.summarizeState(whole));
    expect(sfAnalysis.summarizeState(whole)).toMatchObject({
      crime_type_count: MAX_CRIME_TYPES,
      crime_types_other: 12_000 - 2 * MAX_CRIME_TYPES,
      dispositions_other: 12_000 - 40 * MAX_DISPOSITIONS,
    });
  });

  it('holds everything but the lists within the fixed allowances, every counter at 2^53 − 1', () => {
    // Arrange
    const largest = Number.MAX_SAFE_INTEGER;
    const analysis = createSfAnalysis({ id: 'sfb', dedup: 'bounded', horizonMinutes: Number.MAX_VALUE });
    const counters = {
      rowsRead: largest,
      droppedEmpty: largest,
      duplicates: largest,
      uniqueRows: largest,
      lateRows: largest,
      beyondDedupHorizon: largest,
      outOfOrderRows: largest,
    };
    const rejectedByReason = Object.fromEntries(
      [
        'invalid-json',
        'not-an-object',
        'field-type',
        'field-too-long',
        'bad-event-time',
        'empty-record',
        'wire-format',
      ].map((reason) => [reason, largest]),
    );
    const other = new Map([['', largest]]);
    const eventTime = { minMs: -8.64e15, maxMs: 8.64e15, watermarkMs: -8.64e15 };
    const batch: SfBatch = {
      ...emptyBatch(),
      counters,
      rejectedByReason,
      crimeTypes: other,
      dispositions: other,
      eventTime,
    };
    const state = {
      ...emptyState(true),
      counters,
      rejectedByReason,
      minEventMs: eventTime.minMs,
      maxEventMs: eventTime.maxMs,
      lastEventMs: eventTime.minMs,
    };

    // Act
    const summary = analysis.summarizeBatch(batch);
    const encoded = analysis.stateCodec.encode(state);

    // Assert
    expect(asArray(summary.notes).length).toBeGreaterThanOrEqual(3);
    expect(jsonBytes(summary)).toBeLessThanOrEqual(SUMMARY_FIXED_BYTES);
    expect(jsonBytes(encoded)).toBeLessThanOrEqual(STATE_FIXED_BYTES);
  });
});

describe('sf row limit: replay refuses an object with a runaway row', () => {
  it('marks an .ndjson object with a 1 MB line refused, naming the limit; the rows before it are sent', async () => {
    // Arrange
    const clock = new FakeClock();
    const store = new InMemoryItemStore({ now: clock.now });
    const publisher = new RecordingPublisher({ now: clock.now });
    const source = new InMemoryObjectSource(new Map(), { chunkSize: 64 * 1024 });
    const good = [call({ time: '00:01' }), call({ time: '00:02', type: 'B' })].join('\n');
    source.put('sf/runaway.ndjson', bytes(`${good}\n{"original_crime_type_name":"${'x'.repeat(1 << 20)}`));

    // Act
    const outcome = await replayObject(
      { bucket: 'driftline-data', key: 'sf/runaway.ndjson' },
      {
        analysisForKey: analysisForObjectKey,
        source,
        publisher,
        store,
        rawTopic: 'data_raw',
        partitions: 4,
        defaults: { rowsPerRecord: 1, rate: 0 },
        invocationId: 'invocation-1',
        remainingMs: clock.deadline(900_000),
        continueLater: async () => {},
        now: clock.now,
        sleep: clock.sleep,
        log: () => {},
      },
    );

    // Assert
    expect(outcome).toMatchObject({ status: 'refused', rowsSent: 2 });
    expect(outcome.message).toContain(`line longer than ${MAX_ROW_BYTES} bytes (line 3)`);
    expect(publisher.messages('data_raw')).toHaveLength(2);
  });
});

const fullExists = existsSync(FULL_PATH);

describe.skipIf(!fullExists)(`sf limits on the full DataSF file (skipped when absent: ${FULL_PATH})`, () => {
  it('reject no real call and fold nothing: 3,418 crime types, every window complete', {
    timeout: 120_000,
  }, () => {
    // Arrange: the whole file, sorted by event time so that windows fill (in file order nearly every
    // row is late and in no window).
    const rows = frameObject('sf/calls.json', chunked(gunzipSync(readFileSync(FULL_PATH)), 1 << 16));
    const timeOf = (row: string) => row.slice(row.indexOf('"call_date_time":"') + 18).slice(0, 23);
    const ascending = rows
      .map((row) => ({ row, time: timeOf(row) }))
      .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0))
      .map(({ row }) => row);

    // Act
    const step = sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(ascending));
    const summary: JsonObject = sfAnalysis.summarizeState(step.state);

    // Assert
    expect(rows).toHaveLength(199_999);
    expect(summary).toMatchObject({ rows_read: 199_999, rows_rejected: 0, crime_type_count: 3418 });
    expect(summary.crime_types_other).toBeUndefined();
    expect(summary.dispositions_other).toBeUndefined();
    expect(step.batch.windows.size).toBeGreaterThan(20_000);
    for (const counts of step.batch.windows.values()) expect(counts.has('')).toBe(false);
    expect(jsonBytes(summary)).toBeLessThan(MAX_SUMMARY_BYTES);
  });
});
