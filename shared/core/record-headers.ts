/**
 * What replay writes in the headers of every `data_raw` record, so the aggregate side knows, without
 * parsing the value, which analysis and which replay run a record belongs to, how its rows are
 * encoded, and its position in the run's sequence for that partition.
 *
 * The sequence number is what makes the pipeline exactly-once end to end: records of one
 * (run, partition) are numbered 0, 1, 2… deterministically by replay, so a record sent twice (a
 * replay that resumed from its checkpoint, a duplicated S3 event) carries the same number and the
 * aggregate side applies it once, whatever its Kafka offset.
 */
import type { WireFormat } from './analysis.ts';

/**
 * What replay writes: one header, `<analysis>;<sequence>;<format>;<run>` (the run last: an object
 * key may hold any character). One header, not four: every header of every record is encoded by
 * the producer, carried in each MSK event as an array of byte values, and decoded by aggregate, and
 * at one row per record four of them were the largest part of replay's produce cost.
 */
export const HEADER_ORIGIN = 'driftline-origin';

/** The four headers of the same origin, which other producers may set (and earlier replays did). */
export const HEADER_ANALYSIS = 'driftline-analysis';
export const HEADER_RUN = 'driftline-run';
export const HEADER_SEQUENCE = 'driftline-seq';
export const HEADER_FORMAT = 'driftline-format';

export interface RecordOrigin {
  readonly analysis: string;
  readonly run: string;
  readonly sequence: number;
  readonly wireFormat: WireFormat;
}

export function originHeaders(origin: RecordOrigin): Record<string, string> {
  return { [HEADER_ORIGIN]: `${origin.analysis};${origin.sequence};${origin.wireFormat};${origin.run}` };
}

/** The origin of a record another producer wrote: no sequence of its own (see readOrigin). */
export type ForeignOrigin = Omit<RecordOrigin, 'sequence'> & { readonly sequence: undefined };

/**
 * Reads the origin back, from the one header replay writes or from the four separate ones. Records
 * produced by something else than replay (no headers) belong to the run `topic:<topic>` of the
 * given default analysis and have no sequence: the caller positions them by their offset or
 * Kinesis sequence number.
 */
export function readOrigin(
  headers: ReadonlyMap<string, string>,
  fallback: { readonly analysis: string | undefined; readonly topic: string },
): RecordOrigin | ForeignOrigin | { readonly error: string } {
  const packed = headers.get(HEADER_ORIGIN);
  if (packed !== undefined) return readPackedOrigin(packed);
  const analysis = headers.get(HEADER_ANALYSIS) ?? fallback.analysis;
  if (analysis === undefined)
    return { error: `no ${HEADER_ORIGIN} or ${HEADER_ANALYSIS} header and no default analysis configured` };
  const sequenceText = headers.get(HEADER_SEQUENCE);
  const run = headers.get(HEADER_RUN);
  if (sequenceText === undefined || run === undefined) {
    return { analysis, run: `topic:${fallback.topic}`, sequence: undefined, wireFormat: 'text' };
  }
  return checkedOrigin(analysis, sequenceText, headers.get(HEADER_FORMAT) ?? 'text', run);
}

/** `<analysis>;<sequence>;<format>;<run>`, the run being the rest (it may hold `;`). */
function readPackedOrigin(value: string): RecordOrigin | { readonly error: string } {
  const first = value.indexOf(';');
  const second = value.indexOf(';', first + 1);
  const third = value.indexOf(';', second + 1);
  if (first <= 0 || second < 0 || third < 0 || third === value.length - 1)
    return {
      error: `bad ${HEADER_ORIGIN} header "${value.slice(0, 200)}": expected analysis;sequence;format;run`,
    };
  return checkedOrigin(
    value.slice(0, first),
    value.slice(first + 1, second),
    value.slice(second + 1, third),
    value.slice(third + 1),
  );
}

function checkedOrigin(
  analysis: string,
  sequenceText: string,
  format: string,
  run: string,
): RecordOrigin | { readonly error: string } {
  const sequence = /^\d{1,16}$/.test(sequenceText) ? Number(sequenceText) : Number.NaN;
  if (!Number.isSafeInteger(sequence) || sequence < 0)
    return { error: `bad sequence "${sequenceText.slice(0, 40)}" in the origin headers` };
  if (format !== 'text' && format !== 'binary')
    return { error: `bad format "${format.slice(0, 40)}" in the origin headers` };
  return { analysis, run, sequence, wireFormat: format };
}
