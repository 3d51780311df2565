/**
 * The per-batch summary: stored as the batch item and published to `data_clean`, in the shape of
 * shared/contracts/clean-message.ts (built typed here, checked against the schema in the contract
 * tests, not at runtime). Its progress part follows Spark Structured Streaming's progress report
 * (numInputRows, rates, offsets, durations).
 */
import type { CleanMessage } from '../../contracts/clean-message.ts';
import type { AnyAnalysis } from '../../core/analysis.ts';
import { positionJson } from '../../core/position.ts';
import type { EventTimeRange } from './fold.ts';
import type { SequencedRecord } from './origin-groups.ts';

type Progress = CleanMessage['progress'];

export interface BatchFacts {
  readonly batchId: string;
  readonly analysis: AnyAnalysis;
  readonly run: string;
  readonly source: string;
  readonly partition: number;
  /** The batch's contribution, as the analysis summarises it (its rejection counts included). */
  readonly total: unknown;
  readonly inputRows: number;
  /** The records applied by this batch, in position order. */
  readonly fresh: readonly SequencedRecord[];
  readonly bucketStarts: readonly number[];
  readonly eventTime: EventTimeRange | undefined;
  readonly durationMs: Record<string, number>;
  readonly receivedAtMs: number;
  readonly nowMs: number;
}

function lagStats(timestamps: readonly number[], receivedAtMs: number): Progress['lagMs'] {
  const lags = timestamps.map((timestamp) => receivedAtMs - timestamp);
  return {
    min: Math.min(...lags),
    max: Math.max(...lags),
    avg: lags.reduce((sum, lag) => sum + lag, 0) / lags.length,
  };
}

function eventTimeJson(range: EventTimeRange | undefined): Pick<Progress, 'eventTime'> {
  if (!range) return {};
  return {
    eventTime: {
      min: new Date(range.minMs).toISOString(),
      max: new Date(range.maxMs).toISOString(),
      watermark: new Date(range.watermarkMs).toISOString(),
    },
  };
}

function progressOf(facts: BatchFacts): Progress {
  const { fresh, inputRows, receivedAtMs } = facts;
  const timestamps = fresh.map((record) => record.input.timestampMs);
  const firstTimestamp = Math.min(...timestamps);
  const lastTimestamp = Math.max(...timestamps);
  const processingMs = Math.max(facts.nowMs - receivedAtMs, 0.001);
  return {
    numInputRows: inputRows,
    numInputRecords: fresh.length,
    // Rows over the time the producer took to write them (how fast data arrived).
    inputRowsPerSecond: inputRows / Math.max((lastTimestamp - firstTimestamp) / 1000, 0.001),
    processedRowsPerSecond: (inputRows / processingMs) * 1000,
    startOffset: positionJson(fresh[0]?.input.offset ?? '0'),
    endOffset: positionJson(fresh[fresh.length - 1]?.input.offset ?? '0'),
    firstRecordTimestampMs: firstTimestamp,
    lastRecordTimestampMs: lastTimestamp,
    receivedAtMs,
    lagMs: lagStats(timestamps, receivedAtMs),
    buckets: [...facts.bucketStarts],
    ...eventTimeJson(facts.eventTime),
    durationMs: { ...facts.durationMs },
  };
}

export function batchSummary(facts: BatchFacts): CleanMessage {
  return {
    msg_ID: facts.batchId,
    analysis: facts.analysis.id,
    run: facts.run,
    topic: facts.source,
    partition: facts.partition,
    // The body brings the canonical rejection counts, `rows_rejected` and `rejected_by_reason`: the
    // analysis counts each of its rejections (the batch's data_dead messages) as it makes it.
    ...facts.analysis.summarizeBatch(facts.total),
    progress: progressOf(facts),
  };
}
