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
  return {
    [HEADER_ANALYSIS]: origin.analysis,
    [HEADER_RUN]: origin.run,
    [HEADER_SEQUENCE]: String(origin.sequence),
    [HEADER_FORMAT]: origin.wireFormat,
  };
}

/** The origin of a record another producer wrote: no sequence of its own (see readOrigin). */
export type ForeignOrigin = Omit<RecordOrigin, 'sequence'> & { readonly sequence: undefined };

/**
 * Reads the origin back. Records produced by something else than replay (no headers) belong to the
 * run `topic:<topic>` of the given default analysis and have no sequence: the caller positions them
 * by their offset or Kinesis sequence number.
 */
export function readOrigin(
  headers: ReadonlyMap<string, string>,
  fallback: { readonly analysis: string | undefined; readonly topic: string },
): RecordOrigin | ForeignOrigin | { readonly error: string } {
  const analysis = headers.get(HEADER_ANALYSIS) ?? fallback.analysis;
  if (analysis === undefined)
    return { error: `no ${HEADER_ANALYSIS} header and no default analysis configured` };
  const sequenceText = headers.get(HEADER_SEQUENCE);
  const run = headers.get(HEADER_RUN);
  if (sequenceText === undefined || run === undefined) {
    return { analysis, run: `topic:${fallback.topic}`, sequence: undefined, wireFormat: 'text' };
  }
  const sequence = Number(sequenceText);
  if (!Number.isSafeInteger(sequence) || sequence < 0)
    return { error: `bad ${HEADER_SEQUENCE} header "${sequenceText}"` };
  const format = headers.get(HEADER_FORMAT) ?? 'text';
  if (format !== 'text' && format !== 'binary') return { error: `bad ${HEADER_FORMAT} header "${format}"` };
  return { analysis, run, sequence, wireFormat: format };
}
