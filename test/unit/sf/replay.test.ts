import { describe, expect, it } from 'vitest';
import { sfAnalysis } from '../../../shared/analyses/sf/index.ts';
import { ObjectFormatError } from '../../../shared/core/analysis.ts';
import { partitionForKey } from '../../../shared/core/kafka-partitioner.ts';
import { bytes, call, text } from './fixtures.ts';

const { framerFor, partitionKey, pack } = sfAnalysis.replay;

describe('sf replay codec', () => {
  it.each([
    ['sf/calls.json', 'text'],
    ['sf/run/calls.json.gz', 'text'],
    ['sf/calls.ndjson', 'text'],
    ['sf/calls.JSONL', 'text'],
  ])('reads %s as %s rows', (key, wireFormat) => {
    expect(framerFor(key).wireFormat).toBe(wireFormat);
  });

  it('refuses other extensions, naming the supported ones', () => {
    expect(() => framerFor('sf/calls.csv')).toThrow(ObjectFormatError);
    expect(() => framerFor('sf/calls')).toThrow(
      /unsupported extension '\(none\)'; supported: \.json, \.ndjson, \.jsonl/,
    );
  });

  it('refuses the radio-code reference table as calls', () => {
    expect(() => framerFor('sf/radio_code.json')).toThrow(/reference table, not calls/);
  });

  it('keys a call by its dedup triple: duplicates share a key whatever their other fields', () => {
    // Arrange
    const original = call({ time: '23:57', type: 'Traffic Stop', disposition: 'ADM', crimeId: '1' });
    const duplicate = call({
      time: '23:57',
      type: 'Traffic Stop',
      disposition: 'ADM',
      crimeId: '2',
      extra: { address: 'x' },
    });
    const otherDisposition = call({ time: '23:57', type: 'Traffic Stop', disposition: 'CIT' });

    // Act
    const key = partitionKey(bytes(original), 'text');

    // Assert
    expect(key).toMatch(/^[0-9a-f]{16}$/);
    expect(partitionKey(bytes(duplicate), 'text')).toBe(key);
    expect(partitionKey(bytes(otherDisposition), 'text')).not.toBe(key);
  });

  it('spreads distinct calls evenly over 10 partitions', () => {
    // Arrange
    const counts = new Array<number>(10).fill(0);

    // Act
    for (let minute = 0; minute < 5000; minute++) {
      const row = call({ time: new Date(Date.UTC(2018, 9, 1) + minute * 60_000).toISOString().slice(0, 23) });
      const key = partitionKey(bytes(row), 'text');
      if (key === undefined) throw new Error('no key');
      const partition = partitionForKey(key, 10);
      counts[partition] = (counts[partition] ?? 0) + 1;
    }

    // Assert
    for (const count of counts) expect(count).toBeGreaterThan(400);
  });

  it('gives no key to a row without a readable triple (replay spreads it, aggregate drops or rejects it)', () => {
    expect(partitionKey(bytes('{"call_date_time": "2018-12-31T00:00:00.000"}'), 'text')).toBeUndefined();
    expect(partitionKey(bytes(call({ disposition: '' })), 'text')).toBeUndefined();
    expect(partitionKey(bytes('not json'), 'text')).toBeUndefined();
    expect(partitionKey(bytes('[1]'), 'text')).toBeUndefined();
    expect(partitionKey(bytes(call()), 'binary')).toBeUndefined();
  });

  it('packs rows joined by LF, and one row as itself', () => {
    // Arrange
    const rows = [bytes('{"a":1}'), bytes('{"b":2}')];

    // Act / Assert
    expect(text(pack(rows, 'text'))).toBe('{"a":1}\n{"b":2}');
    expect(text(pack([rows[0] ?? new Uint8Array()], 'text'))).toBe('{"a":1}');
    expect(pack([], 'text')).toHaveLength(0);
  });
});
