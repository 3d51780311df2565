/**
 * Why an `sf` row was rejected (counted per reason, sent to `data_dead`). A row with one of the three
 * kept fields null, missing or empty is *not* a rejection: the source job drops it, and so does `sf`,
 * counting it as `dropped_empty`.
 */
import type { Rejection } from '../../core/analysis.ts';

export const SF_REJECTION_REASONS = {
  /** The row is not valid JSON text. */
  invalidJson: 'invalid-json',
  /** Valid JSON, but not an object (an array, a string, a number…). */
  notAnObject: 'not-an-object',
  /** One of the three kept fields holds something else than a string (or null). */
  fieldType: 'field-type',
  /** A field longer than its limit (limits.ts MAX_FIELD_BYTES): no real call has one. */
  fieldTooLong: 'field-too-long',
  /** `call_date_time` is a non-empty string that is not a date-time. */
  badEventTime: 'bad-event-time',
  /** A record value with no row at all. */
  emptyRecord: 'empty-record',
  /** A record sent as binary: `sf` rows are JSON text. */
  wireFormat: 'wire-format',
} as const;

export type SfRejectionReason = (typeof SF_REJECTION_REASONS)[keyof typeof SF_REJECTION_REASONS];

/** Rows quoted in a rejection are cut to this many characters. */
export const MAX_QUOTED_ROW_CHARS = 300;

export function quoteRow(text: string): string {
  return text.length <= MAX_QUOTED_ROW_CHARS ? text : `${text.slice(0, MAX_QUOTED_ROW_CHARS)}…`;
}

export function sfRejection(
  reason: SfRejectionReason,
  detail: string,
  row: string,
  coordinates: { readonly partition: number; readonly offset: string },
  rowIndex: number,
): Rejection {
  return {
    reason,
    detail,
    row: quoteRow(row),
    partition: coordinates.partition,
    offset: coordinates.offset,
    rowIndex,
  };
}
