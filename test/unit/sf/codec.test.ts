import { describe, expect, it } from 'vitest';
import { SfDecodeError } from '../../../shared/analyses/sf/codec.ts';
import { createSfAnalysis, sfAnalysis } from '../../../shared/analyses/sf/index.ts';
import type { Json } from '../../../shared/core/analysis.ts';
import { asObject, call, records, throughJsonText } from './fixtures.ts';

/** `count` distinct calls one minute apart, over `types` crime types and 28 dispositions. */
function distinctCalls(count: number, types: number): string[] {
  return Array.from({ length: count }, (_, index) =>
    call({
      time: new Date(Date.UTC(2018, 9, 1) + index * 60_000).toISOString().slice(0, 23),
      type: `Crime type number ${(index * 7) % types}`,
      disposition: `D${index % 28}`,
    }),
  );
}

function decodeError(json: Json): string {
  try {
    sfAnalysis.stateCodec.decode(json);
  } catch (error) {
    if (error instanceof SfDecodeError) return error.message;
    throw error;
  }
  throw new Error('expected an SfDecodeError');
}

describe('sf state and batch encoding', () => {
  const rows = [
    ...distinctCalls(500, 40),
    call({ time: '2018-10-01T00:00:00.000', type: 'Crime type number 0', disposition: 'D0' }),
  ];
  const step = sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(rows));

  it('round-trips a state through JSON text: same summary, and deduplication continues', () => {
    // Act
    const decoded = sfAnalysis.stateCodec.decode(throughJsonText(sfAnalysis.stateCodec.encode(step.state)));
    const next = records([rows[3] ?? '', call({ time: '2018-12-01T00:00:00.000' })]);

    // Assert
    expect(sfAnalysis.summarizeState(decoded)).toEqual(sfAnalysis.summarizeState(step.state));
    expect(sfAnalysis.applyBatch(decoded, next).batch).toEqual(sfAnalysis.applyBatch(step.state, next).batch);
    expect(sfAnalysis.stateCodec.encode(decoded)).toEqual(sfAnalysis.stateCodec.encode(step.state));
  });

  it('round-trips a batch contribution', () => {
    const decoded = sfAnalysis.batchCodec.decode(throughJsonText(sfAnalysis.batchCodec.encode(step.batch)));
    expect(decoded).toEqual(step.batch);
    expect(sfAnalysis.batchCodec.decode(sfAnalysis.batchCodec.encode(sfAnalysis.emptyBatch()))).toEqual(
      sfAnalysis.emptyBatch(),
    );
  });

  it('keeps 20,000 distinct calls with 1,500 crime types under 300 KB of JSON (8 bytes per dedup key)', () => {
    // Arrange
    const state = sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(distinctCalls(20_000, 1500))).state;

    // Act
    const encoded = sfAnalysis.stateCodec.encode(state);
    const size = JSON.stringify(encoded).length;
    const keysSize = JSON.stringify(asObject(encoded).dedup).length;

    // Assert
    expect(state.dedup.size).toBe(20_000);
    expect(keysSize / 20_000).toBeLessThan(11);
    expect(size).toBeLessThan(300_000);
  });

  it('reads a state written by the other dedup mode', () => {
    // Arrange
    const bounded = createSfAnalysis({ dedup: 'bounded', horizonMinutes: 60 });
    const exactJson = throughJsonText(sfAnalysis.stateCodec.encode(step.state));
    const boundedState = bounded.applyBatch(bounded.emptyState(), records(rows)).state;

    // Act
    const asBounded = bounded.stateCodec.decode(exactJson);
    const asExact = sfAnalysis.stateCodec.decode(throughJsonText(bounded.stateCodec.encode(boundedState)));
    const again = records([rows[499] ?? '']); // the newest call, again (within the horizon)

    // Assert
    expect(asBounded.dedup.keepsTimes).toBe(true);
    expect(bounded.applyBatch(asBounded, again).batch.counters.duplicates).toBe(1);
    expect(asExact.dedup.keepsTimes).toBe(false);
    expect(sfAnalysis.applyBatch(asExact, again).batch.counters.duplicates).toBe(1);
  });

  it.each([
    [
      'another version',
      (json: Record<string, Json>) => ({ ...json, version: 2 }),
      /unsupported encoding version 2/,
    ],
    [
      'a negative counter',
      (json: Record<string, Json>) => ({ ...json, counters: { ...asObject(json.counters), duplicates: -1 } }),
      /counters.duplicates' must be a non-negative integer/,
    ],
    [
      'broken base64 keys',
      (json: Record<string, Json>) => ({ ...json, dedup: { keys: 'abc!' } }),
      /dedup.keys must be a base64 string/,
    ],
    [
      'a partial key',
      (json: Record<string, Json>) => ({ ...json, dedup: { keys: 'AAAAAAAA' } }),
      /whole number of 8-byte entries, holds 6 bytes/,
    ],
    [
      'a repeated key',
      (json: Record<string, Json>) => ({ ...json, dedup: { keys: 'AAAAAAAAAAEAAAAAAAAAAQ==' } }),
      /dedup key 1 is listed twice/,
    ],
    [
      'an unaligned window',
      (json: Record<string, Json>) => ({ ...json, openWindows: [[1, [['A', 1]]]] }),
      /start must be a multiple of 300000 ms/,
    ],
    [
      'a count pair of the wrong shape',
      (json: Record<string, Json>) => ({ ...json, crimeTypes: [['A']] }),
      /crimeTypes\[0\] must be \[name, non-negative integer\]/,
    ],
    [
      'min after max',
      (json: Record<string, Json>) => ({ ...json, eventTime: { minMs: 2, maxMs: 1, lastMs: null } }),
      /min ≤ max/,
    ],
  ])('refuses %s with a clear message', (_name, corrupt, message) => {
    const json = asObject(throughJsonText(sfAnalysis.stateCodec.encode(step.state)));
    expect(decodeError(corrupt(json))).toMatch(message);
  });
});
