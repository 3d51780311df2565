/**
 * A real sf cumulative summary, written by hand from
 * `driftline analyze sf police-department-calls-for-service.sample2000.json --batch-rows 500` (the
 * last line's `cumulative`, replayed in file order: newest first), trimmed to the first 18 crime types,
 * with the radio-code join the API adds (`description`, `disposition_descriptions`) filled from
 * `shared/data/sf/radio_code.json`. Typed by the analysis' summary schema, so it keeps its shape.
 */
import type { SfSummary } from '../../../shared/analyses/sf/summary-schema.ts';

const crimeTypes: [string, number][] = [
  ['Passing Call', 382],
  ['Traffic Stop', 113],
  ['Audible Alarm', 106],
  ['Suspicious Person', 72],
  ['Traf Violation Cite', 70],
  ['Muni Inspection', 68],
  ['Suspicious Vehicle', 64],
  ['Trespasser', 59],
  ['Homeless Complaint', 55],
  ['Well Being Check', 55],
  ['22500e', 53],
  ['Fight No Weapon', 53],
  ['Noise Nuisance', 39],
  ['Auto Boost / Strip', 35],
  ['Mentally Disturbed', 25],
  ['Poss', 25],
  ['601', 24],
  ['Petty Theft', 23],
];

const dispositions: [string, number, string | null][] = [
  ['HAN', 564, 'Handled'],
  ['Not recorded', 234, null],
  ['ADV', 181, 'Advised'],
  ['GOA', 167, 'Gone on Arrival'],
  ['CIT', 161, 'Cited'],
  ['REP', 161, 'Report'],
  ['UTL', 105, 'Unable to Locate'],
  ['ND', 84, 'No Disposition'],
  ['CAN', 73, 'Cancel'],
  ['PAS', 72, 'Premises Appears Secure'],
  ['NOM', 66, 'No Merit'],
  ['NCR', 23, 'Non-Criminal'],
  ['ARR', 20, 'Arrest'],
  ['ABA', 13, 'Abated'],
  ['22', 7, 'Cancel'],
  ['ADM', 7, 'Admonished'],
  ['GEN', 4, null],
  ['INC', 1, null],
  ['SFD', 1, 'SFFD Medical Staff Engaged'],
];

export function sfSummary(): SfSummary {
  return {
    rows_read: 2000,
    rows_dropped_empty: 0,
    rows_duplicate: 56,
    rows_rejected: 0,
    rejected_by_reason: {},
    rows_distinct: 1944,
    rows_late: 1942,
    rows_beyond_dedup_horizon: 0,
    rows_out_of_order: 1069,
    dedup: { mode: 'exact', horizon_minutes: null, keys: 1944 },
    watermark_delay_minutes: 5,
    event_time: {
      min: '2018-12-30T21:44:00.000Z',
      max: '2018-12-31T23:57:00.000Z',
      watermark: '2018-12-31T23:52:00.000Z',
    },
    crime_type_count: 214,
    crime_types: crimeTypes.map(([name, count]) => ({ original_crime_type_name: name, count })),
    dispositions: dispositions.map(([disposition, count, description]) => ({
      disposition,
      count,
      description,
    })),
    windows: {
      size_minutes: 10,
      slide_minutes: 5,
      count: 3,
      recent: [
        {
          start: '2018-12-31T23:55:00.000Z',
          end: '2019-01-01T00:05:00.000Z',
          final: false,
          rows: 1,
          crime_types: 1,
          top: [{ original_crime_type_name: 'Traffic Stop', count: 1 }],
        },
        {
          start: '2018-12-31T23:50:00.000Z',
          end: '2019-01-01T00:00:00.000Z',
          final: false,
          rows: 2,
          crime_types: 2,
          top: [
            { original_crime_type_name: 'Traf Violation Cite', count: 1 },
            { original_crime_type_name: 'Traffic Stop', count: 1 },
          ],
        },
        {
          start: '2018-12-31T23:45:00.000Z',
          end: '2018-12-31T23:55:00.000Z',
          final: false,
          rows: 1,
          crime_types: 1,
          top: [{ original_crime_type_name: 'Traf Violation Cite', count: 1 }],
        },
      ],
    },
    notes: [
      '1942 of 1944 distinct rows (99.9 %) arrived behind the watermark: they are counted per crime type ' +
        'but are in no window. Event time runs backwards in this input (1069 rows earlier than the row ' +
        'before): the SF file is sorted newest first; replay it sorted by call_date_time ascending for ' +
        'meaningful windows.',
    ],
    disposition_descriptions: {
      source: 'radio_code.json',
      codes_in_table: 19,
      rows_described: 1705,
      rows_without_description: 239,
      codes_without_description: ['Not recorded', 'GEN', 'INC'],
    },
  };
}

export type SfSummaryFixture = ReturnType<typeof sfSummary>;

/** GET /api/v1/analyses/{id}/summary around `summary`. */
export function sfSummaryResponse(summary: unknown = sfSummary(), analysis = 'sf') {
  return {
    analysis,
    runs: ['sf/police-department-calls-for-service.sample2000.json@abc'],
    partitions: 4,
    rows: 2000,
    batches: 4,
    rejectedRows: 0,
    summary,
  };
}
