import type { AnyAnalysis, RecordInput, Rejection } from '../../core/analysis.ts';
import { readOrigin } from '../../core/record-headers.ts';
import type { BatchSlice, SliceRecord } from '../batch-slice.ts';
import type { Numbering } from './sequence-guard.ts';

/** The records of one slice that came from one (analysis, run), with their replay sequence numbers. */
export interface OriginGroup {
  readonly analysis: AnyAnalysis;
  readonly run: string;
  /** Replay's dense numbers, or the records' positions (another producer's records). */
  readonly numbering: Numbering;
  readonly records: SequencedRecord[];
}

export interface SequencedRecord {
  readonly input: RecordInput;
  /**
   * Replay's sequence number; undefined for another producer's record (numbering 'position'), which
   * is positioned by `input.offset` (a Kinesis sequence number exceeds 2^53: read as BigInt).
   */
  readonly sequence: number | undefined;
}

/** A record no analysis can take, with the analysis it named (if any). */
export type UnroutedRejection = Rejection & { readonly analysis: string | undefined };

const MAX_ROW_TEXT = 200;

function recordAsText(value: Uint8Array): string {
  return Buffer.from(value.subarray(0, MAX_ROW_TEXT)).toString('utf8');
}

function unrouted(
  slice: BatchSlice,
  record: SliceRecord,
  reason: string,
  detail: string,
  analysis: string | undefined,
): UnroutedRejection {
  return {
    reason,
    detail,
    row: recordAsText(record.value),
    partition: slice.partition,
    offset: record.position,
    rowIndex: 0,
    analysis,
  };
}

/** Splits a slice by (analysis, run); records whose origin cannot be read become rejections. */
export function groupByOrigin(
  slice: BatchSlice,
  analyses: (id: string) => AnyAnalysis | undefined,
  defaultAnalysis: string | undefined,
): { groups: OriginGroup[]; rejections: UnroutedRejection[] } {
  const groups = new Map<string, OriginGroup>();
  const rejections: UnroutedRejection[] = [];
  for (const record of slice.records) {
    const origin = readOrigin(record.headers, { analysis: defaultAnalysis, topic: slice.source });
    if ('error' in origin) {
      rejections.push(unrouted(slice, record, 'bad-origin', origin.error, undefined));
      continue;
    }
    const analysis = analyses(origin.analysis);
    if (!analysis) {
      const detail = `no analysis "${origin.analysis}" is registered`;
      rejections.push(unrouted(slice, record, 'unknown-analysis', detail, origin.analysis));
      continue;
    }
    // Records without driftline headers are sequenced by their position, exactly. Their run (`topic:…`) is never a replay run (`key@etag`), so a group has one numbering.
    const numbering: Numbering = origin.sequence === undefined ? 'position' : 'replay';
    const groupKey = `${origin.analysis}\u0000${origin.run}`;
    let group = groups.get(groupKey);
    if (!group) {
      group = { analysis, run: origin.run, numbering, records: [] };
      groups.set(groupKey, group);
    }
    group.records.push({
      sequence: origin.sequence,
      input: {
        value: record.value,
        wireFormat: origin.wireFormat,
        partition: slice.partition,
        offset: record.position,
        timestampMs: record.timestampMs,
      },
    });
  }
  return { groups: [...groups.values()], rejections };
}
