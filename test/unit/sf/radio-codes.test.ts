import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  describeDispositions,
  parseRadioCodes,
  ReferenceDataError,
  sfAnalysis,
  sfReference,
} from '../../../shared/analyses/sf/index.ts';
import { asArray, asObject, call, RADIO_CODES_PATH, radioCodesExist, records } from './fixtures.ts';

const table = `[
    { "disposition_code": "HAN", "description": "Handled" },
    { "disposition_code": "22", "description": "Cancel" },
    { "disposition_code": "CAN", "description": "Cancel" }
]`;

describe('sf radio codes: the disposition description join', () => {
  it('parses the reference table (pretty-printed JSON array)', () => {
    expect(parseRadioCodes(table)).toEqual(
      new Map([
        ['HAN', 'Handled'],
        ['22', 'Cancel'],
        ['CAN', 'Cancel'],
      ]),
    );
    expect(parseRadioCodes(new TextEncoder().encode(`\uFEFF${table}`)).size).toBe(3);
  });

  it.each([
    ['not JSON', '[{', /not valid JSON/],
    ['not an array', '{"HAN": "Handled"}', /expected a JSON array/],
    ['an entry without a code', '[{"description": "x"}]', /entry 0 has no string 'disposition_code'/],
    [
      'an entry without a description',
      '[{"disposition_code": "HAN"}]',
      /entry 0 \('HAN'\) has no string 'description'/,
    ],
    [
      'a code with two descriptions',
      '[{"disposition_code": "HAN", "description": "a"}, {"disposition_code": "HAN", "description": "b"}]',
      /'HAN' is listed twice with different descriptions/,
    ],
    [
      'a description longer than 200 bytes (it would be copied into every answer)',
      `[{"disposition_code": "HAN", "description": "${'x'.repeat(201)}"}]`,
      /entry 0 \('HAN'\) has a description of 201 bytes; the limit is 200/,
    ],
  ])('refuses %s', (_name, content, message) => {
    expect(() => parseRadioCodes(content)).toThrow(ReferenceDataError);
    expect(() => parseRadioCodes(content)).toThrow(message);
  });

  it('left-joins: codes missing from the table keep description null, and the summary says how many rows', () => {
    // Arrange
    const rows = [
      call({ time: '00:01', disposition: 'HAN' }),
      call({ time: '00:02', disposition: 'HAN' }),
      call({ time: '00:03', disposition: 'Not recorded' }),
      call({ time: '00:04', disposition: 'CAN' }),
    ];
    const summary = sfAnalysis.summarizeState(
      sfAnalysis.applyBatch(sfAnalysis.emptyState(), records(rows)).state,
    );

    // Act
    const described = describeDispositions(summary, parseRadioCodes(table));

    // Assert
    expect(summary.dispositions).toEqual([
      { disposition: 'HAN', count: 2, description: null },
      { disposition: 'CAN', count: 1, description: null },
      { disposition: 'Not recorded', count: 1, description: null },
    ]);
    expect(described.dispositions).toEqual([
      { disposition: 'HAN', count: 2, description: 'Handled' },
      { disposition: 'CAN', count: 1, description: 'Cancel' },
      { disposition: 'Not recorded', count: 1, description: null },
    ]);
    expect(described.disposition_descriptions).toEqual({
      source: 'radio_code.json',
      codes_in_table: 3,
      rows_described: 3,
      rows_without_description: 1,
      codes_without_description: ['Not recorded'],
    });
    expect(described.crime_types).toEqual(summary.crime_types);
    expect(describeDispositions(described, parseRadioCodes(table))).toEqual(described);
  });

  it('leaves a body without dispositions unchanged, and names where the table lives', () => {
    expect(describeDispositions({ hit_count: 3 }, new Map())).toEqual({ hit_count: 3 });
    expect(sfReference.objectKey).toBe('sf/radio_code.json');
    expect(() => sfAnalysis.replay.framerFor(sfReference.objectKey)).toThrow(/not replayed/);
  });
});

describe.skipIf(!radioCodesExist)(
  `sf radio codes from the real table (skipped when absent: ${RADIO_CODES_PATH})`,
  () => {
    it('reads the 19 codes of radio_code.json', () => {
      // Act
      const codes = sfReference.parse(readFileSync(RADIO_CODES_PATH));

      // Assert
      expect(codes.size).toBe(19);
      expect(codes.get('ADM')).toBe('Admonished');
      expect(codes.get('22')).toBe('Cancel');
      expect(
        asArray(
          asObject(
            sfReference.enrich(
              { dispositions: [{ disposition: 'OTS', count: 1, description: null }] },
              codes,
            ),
          ).dispositions,
        ),
      ).toEqual([{ disposition: 'OTS', count: 1, description: null }]);
    });
  },
);
