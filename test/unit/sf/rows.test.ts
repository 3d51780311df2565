import { describe, expect, it } from 'vitest';
import { SF_REJECTION_REASONS, sfAnalysis } from '../../../shared/analyses/sf/index.ts';
import { asObject, bytes, call, records } from './fixtures.ts';

function apply(rows: readonly string[]) {
  return sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(rows));
}

describe('sf rows: kept, dropped as empty, rejected with a reason', () => {
  it('drops rows with a kept field null, missing or empty, counting them as dropped_empty (not rejections)', () => {
    // Arrange
    const rows = [
      call({ disposition: '' }),
      call({ type: '' }),
      call({ time: '', extra: { call_date_time: null } }),
      JSON.stringify({ crime_id: '9', call_date_time: '2018-12-31T00:00:00.000', disposition: 'HAN' }),
      call(),
    ];

    // Act
    const step = apply(rows);
    const summary = sfAnalysis.summarizeBatch(step.batch);

    // Assert
    expect(step.rejections).toEqual([]);
    expect(step.inputRows).toBe(5);
    expect(summary).toMatchObject({
      rows_read: 5,
      rows_dropped_empty: 4,
      rows_distinct: 1,
      rows_rejected: 0,
    });
  });

  it('rejects what is not a call, with a reason, a detail and the row coordinates', () => {
    // Arrange
    const rows = [
      '{"call_date_time": ',
      '["a", "b"]',
      call({ extra: { disposition: 42 } }),
      call({ time: '2018-12-31T25:00:00.000' }),
      '   ',
    ];

    // Act
    const step = apply(rows);

    // Assert
    expect(
      step.rejections.map((rejection) => [rejection.reason, rejection.offset, rejection.rowIndex]),
    ).toEqual([
      [SF_REJECTION_REASONS.invalidJson, '0', 0],
      [SF_REJECTION_REASONS.notAnObject, '1', 0],
      [SF_REJECTION_REASONS.fieldType, '2', 0],
      [SF_REJECTION_REASONS.badEventTime, '3', 0],
      [SF_REJECTION_REASONS.emptyRecord, '4', 0],
    ]);
    expect(step.rejections[2]?.detail).toBe('disposition must be a string or null, got a number');
    expect(step.rejections[3]?.detail).toMatch(/call_date_time '2018-12-31T25:00:00.000' is not a date-time/);
    expect(step.rejections[1]?.row).toBe('["a", "b"]');
    expect(asObject(sfAnalysis.summarizeBatch(step.batch).rejected_by_reason)).toEqual({
      'invalid-json': 1,
      'not-an-object': 1,
      'field-type': 1,
      'bad-event-time': 1,
      'empty-record': 1,
    });
    expect(step.inputRows).toBe(5);
  });

  it('reads packed records (rows joined by LF) and names the row index of a rejected one', () => {
    // Arrange
    const packed = sfAnalysis.replay.pack(
      [bytes(call({ time: '00:01' })), bytes('oops'), bytes(call({ time: '00:02' }))],
      'text',
    );

    // Act
    const step = sfAnalysis.applyBatch(sfAnalysis.emptyState(), [
      { value: packed, wireFormat: 'text', partition: 3, offset: '77', timestampMs: 0 },
    ]);

    // Assert
    expect(step.inputRows).toBe(3);
    expect(step.batch.counters.uniqueRows).toBe(2);
    expect(step.rejections).toMatchObject([
      { reason: 'invalid-json', partition: 3, offset: '77', rowIndex: 1, row: 'oops' },
    ]);
  });

  it('rejects a record sent as binary', () => {
    const step = sfAnalysis.applyBatch(sfAnalysis.emptyState(), [
      { value: bytes(call()), wireFormat: 'binary', partition: 0, offset: '0', timestampMs: 0 },
    ]);
    expect(step.rejections.map((rejection) => rejection.reason)).toEqual(['wire-format']);
  });

  it('leaves the input state untouched (pure)', () => {
    // Arrange
    const first = apply([call({ time: '00:01' }), call({ time: '00:20', type: 'B' })]).state;
    const before = JSON.stringify(sfAnalysis.stateCodec.encode(first));

    // Act
    const again = sfAnalysis.applyBatch(
      first,
      records([call({ time: '00:01' }), call({ time: '00:30', type: 'C' })]),
    );
    const branch = sfAnalysis.applyBatch(first, records([call({ time: '00:02' })]));

    // Assert
    expect(JSON.stringify(sfAnalysis.stateCodec.encode(first))).toBe(before);
    expect(again.batch.counters).toMatchObject({ duplicates: 1, uniqueRows: 1 });
    expect(branch.batch.counters).toMatchObject({ duplicates: 0, uniqueRows: 1 });
  });
});
