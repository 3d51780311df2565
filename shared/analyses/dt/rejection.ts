/**
 * Why a row was rejected: stable reason codes (counted in state, sent to `data_dead`) and the human
 * detail. Only rejected rows come here, so this file may build strings freely.
 */
import type { Rejection } from '../../core/analysis.ts';
import {
  BX_COUNTER_MAX,
  FIELD_NAMES,
  FPGA_MAX,
  HEAD_HIT,
  HEAD_MAX,
  ORBIT_CNT_MAX,
  TDC_CHANNEL_MAX,
  TDC_MEAS_LIMIT,
} from './detector.ts';

export const REJECTION_REASONS = {
  /** Not six comma-separated fields. */
  fieldCount: 'field-count',
  /** A field is not a decimal number. */
  notANumber: 'not-a-number',
  /** One of the five integer fields has a fractional part. */
  notAnInteger: 'not-an-integer',
  /** A hit (HEAD = 2) value outside the hit ranges, or a HEAD the packed word cannot hold. */
  outOfRange: 'out-of-range',
  /** A binary record value whose length is not a multiple of 8: its tail is not a word. */
  truncatedWord: 'truncated-word',
  /** A record value with no row at all. */
  emptyRecord: 'empty-record',
} as const;

export type RejectionReason = (typeof REJECTION_REASONS)[keyof typeof REJECTION_REASONS];

/** Rows quoted in a rejection are cut to this many characters. */
export const MAX_QUOTED_ROW_CHARS = 200;

/** Range check outcome for a parsed row: 0 = valid, else 1 + index of the offending field. */
export const ROW_VALID = 0;

/**
 * Checks a parsed row's values. Ancillary words (HEAD ≠ 2) only need a HEAD that fits the word;
 * hits must be inside every hit range. Returns ROW_VALID or 1 + the offending field's index.
 */
export function rangeCheck(
  head: number,
  fpga: number,
  channel: number,
  orbit: number,
  bx: number,
  tdc: number,
): number {
  if (head < 0 || head > HEAD_MAX) return 1;
  if (head !== HEAD_HIT) return ROW_VALID;
  if (fpga < 0 || fpga > FPGA_MAX) return 2;
  if (channel < 0 || channel > TDC_CHANNEL_MAX) return 3;
  if (orbit < 0 || orbit > ORBIT_CNT_MAX) return 4;
  if (bx < 0 || bx > BX_COUNTER_MAX) return 5;
  if (!(tdc >= 0 && tdc < TDC_MEAS_LIMIT)) return 6;
  return ROW_VALID;
}

const RANGE_TEXT: readonly string[] = [
  `0..${HEAD_MAX}`,
  `0..${FPGA_MAX}`,
  `0..${TDC_CHANNEL_MAX}`,
  `0..${ORBIT_CNT_MAX}`,
  `0..${BX_COUNTER_MAX}`,
  `[0, ${TDC_MEAS_LIMIT})`,
];

export function outOfRangeDetail(field: number, value: number): string {
  const name = FIELD_NAMES[field] ?? `field ${field + 1}`;
  const subject = field === 0 ? 'HEAD' : `${name} of a hit (HEAD ${HEAD_HIT})`;
  return `${subject} is ${value}, outside ${RANGE_TEXT[field] ?? 'its range'}`;
}

export function quoteRow(text: string): string {
  return text.length <= MAX_QUOTED_ROW_CHARS ? text : `${text.slice(0, MAX_QUOTED_ROW_CHARS)}…`;
}

const rowDecoder = new TextDecoder();

/** Text of a row for a rejection (decoded leniently, cut to a sane length). */
export function quoteTextRow(bytes: Uint8Array, start: number, end: number): string {
  // Four bytes per character at most: decoding more than that cannot change the quoted prefix.
  const decoded = rowDecoder.decode(
    bytes.subarray(start, Math.min(end, start + 4 * MAX_QUOTED_ROW_CHARS + 4)),
  );
  return quoteRow(decoded);
}

/** The n-th comma-separated field of a row's text, for details. */
export function fieldText(rowText: string, field: number): string {
  return rowText.split(',')[field] ?? '';
}

export interface RecordCoordinates {
  readonly partition: number;
  readonly offset: string;
}

export function rejection(
  reason: RejectionReason,
  detail: string,
  row: string,
  coordinates: RecordCoordinates,
  rowIndex: number,
): Rejection {
  return { reason, detail, row, partition: coordinates.partition, offset: coordinates.offset, rowIndex };
}
