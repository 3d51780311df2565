import { describe, expect, it } from 'vitest';
import type { SequencedRecord } from '../../../shared/pipeline/aggregate/origin-groups.ts';
import {
  MAX_GAPS,
  type SequenceGuard,
  sequenceGuard,
} from '../../../shared/pipeline/aggregate/sequence-guard.ts';

/** A record at `offset`, with replay's `sequence` (none: another producer's record). */
function record(sequence: number | undefined, offset = '0'): SequencedRecord {
  const input = {
    value: new Uint8Array(),
    wireFormat: 'text',
    partition: 0,
    offset,
    timestampMs: 0,
  } as const;
  return { input, sequence };
}

/** Offers each sequence to the guard in turn; returns those it took as new. */
function admit(guard: SequenceGuard, sequences: readonly number[]): number[] {
  const taken: number[] = [];
  for (const sequence of sequences) {
    if (guard.has(record(sequence))) continue;
    guard.add(record(sequence));
    taken.push(sequence);
  }
  return taken;
}

describe('sequence guard over replay numbers', () => {
  it('takes e1, e3, e2 and refuses the second e3: a re-sent record behind a later one is applied once', () => {
    // Arrange
    const guard = sequenceGuard('replay', undefined);

    // Act
    const taken = admit(guard, [0, 1, 3, 2, 3]);

    // Assert
    expect(taken).toEqual([0, 1, 3, 2]);
    expect(guard.toFields()).toEqual({ lastSequence: 3 });
  });

  it('keeps an open gap across a write and a read, and fills it later', () => {
    // Arrange
    const first = sequenceGuard('replay', undefined);
    admit(first, [0, 1, 4, 5, 8]);
    const stored = first.toFields();

    // Act
    const read = sequenceGuard('replay', stored);
    const taken = admit(read, [2, 4, 6, 1, 3, 7, 8]);

    // Assert
    expect(stored).toEqual({
      lastSequence: 8,
      missingSequences: [
        [2, 3],
        [6, 7],
      ],
    });
    expect(taken).toEqual([2, 6, 3, 7]);
    expect(read.toFields()).toEqual({ lastSequence: 8 });
  });

  it('reads an item written before gaps were tracked as "everything up to lastSequence applied"', () => {
    const guard = sequenceGuard('replay', { lastSequence: 41 });
    expect(admit(guard, [0, 17, 41, 42, 40])).toEqual([42]);
  });

  it('does not take the first record of a rollup for the end of a gap from 0', () => {
    // A bucket's rollup starts mid-sequence (earlier records went to earlier buckets): no gap below it.
    const guard = sequenceGuard('replay', undefined);
    admit(guard, [500, 501, 502]);
    expect(guard.toFields()).toEqual({ lastSequence: 502, firstSequence: 500 });
    expect(admit(sequenceGuard('replay', guard.toFields()), [499, 500, 503])).toEqual([499, 503]);
  });

  it(`holds at most ${MAX_GAPS} gaps, giving up the lowest and counting it`, () => {
    // Arrange: every other number, so each new record opens a gap
    const guard = sequenceGuard('replay', undefined);
    const evens = Array.from({ length: MAX_GAPS + 11 }, (_, index) => index * 2);

    // Act
    admit(guard, evens);
    const fields = guard.toFields();

    // Assert
    expect(guard.droppedNow).toBe(10);
    expect(fields.missingSequences).toHaveLength(MAX_GAPS);
    expect(fields.droppedGaps).toBe(10);
    // The ten lowest gaps were given up (their odd numbers now count as applied); the others fill.
    expect(admit(sequenceGuard('replay', fields), [1, 19, 21, 23])).toEqual([21, 23]);
    expect(sequenceGuard('replay', fields).toFields()).toEqual(fields);
  });
});

describe('sequence guard over positions (records of other producers)', () => {
  // Real Kinesis sequence numbers: 56 digits, here differing in the last digits only. As JavaScript
  // numbers all three are the same value.
  const positions = [
    '49654512345678901234567890123456789012345678901234567001',
    '49654512345678901234567890123456789012345678901234567002',
    '49654512345678901234567890123456789012345678901234567010',
  ];

  it('orders 56-digit sequence numbers exactly and stores the highest as its exact decimal string', () => {
    // Arrange
    expect(new Set(positions.map(Number)).size).toBe(1);
    const guard = sequenceGuard('position', undefined);

    // Act
    const taken = positions.filter((position) => {
      if (guard.has(record(undefined, position))) return false;
      guard.add(record(undefined, position));
      return true;
    });

    // Assert
    expect(taken).toEqual(positions);
    const fields = guard.toFields();
    expect(fields).toEqual({ lastSequence: positions[2] });
    const read = sequenceGuard('position', fields);
    expect(positions.map((position) => read.has(record(undefined, position)))).toEqual([true, true, true]);
    expect(read.has(record(undefined, String(BigInt(positions[2] ?? '0') + 1n)))).toBe(false);
  });

  it('never opens gaps: positions are sparse, a jump means nothing', () => {
    const guard = sequenceGuard('position', { lastSequence: 100 });
    guard.add(record(undefined, '5000'));
    expect(guard.has(record(undefined, '4000'))).toBe(true);
    expect(guard.toFields()).toEqual({ lastSequence: 5_000 });
  });
});
