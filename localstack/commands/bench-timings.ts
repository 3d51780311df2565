/**
 * Handler time as the bench sees it: every invocation of the functions timed by the runtime around
 * the call into the function's sandbox process (what Lambda bills, plus the IPC: an upper bound), and for the Kafka-triggered aggregate the records and partition slices of
 * each event. "Batch processing time" in the sweep is one aggregate invocation's duration.
 */
import { z } from 'zod';
import type { MskDelivery } from '../msk-trigger.ts';
import type { InvocationRecord } from '../runtime.ts';
import { SerializedEvent } from '../serialized-event.ts';

export interface AggregateBatch {
  readonly records: number;
  readonly slices: number;
  readonly durationMs: number;
}

/** Records and `topic-partition` slices of an MSK event (zeros for anything else). */
export function mskEventShape(event: unknown): { records: number; slices: number } {
  // The MSK trigger's events are JSON text that says its shape (parsing it here would cost the runtime).
  if (event instanceof SerializedEvent) return { ...event.shape };
  const records = (event as { records?: unknown } | null)?.records;
  if (typeof records !== 'object' || records === null) return { records: 0, slices: 0 };
  const lists = Object.values(records).filter(
    (list): list is unknown[] => Array.isArray(list) && list.length > 0,
  );
  return { records: lists.reduce((sum, list) => sum + list.length, 0), slices: lists.length };
}

export class HandlerTimings {
  /** Sum of handler durations per function id, in ms. */
  readonly totalMs = new Map<string, number>();
  readonly invocations = new Map<string, number>();
  readonly aggregateBatches: AggregateBatch[] = [];

  reset(): void {
    this.totalMs.clear();
    this.invocations.clear();
    this.aggregateBatches.length = 0;
  }

  /** For RuntimeOptions.onInvoked. */
  readonly observe = ({ functionId, event, durationMs }: InvocationRecord): void => {
    this.totalMs.set(functionId, (this.totalMs.get(functionId) ?? 0) + durationMs);
    this.invocations.set(functionId, (this.invocations.get(functionId) ?? 0) + 1);
    if (functionId === 'aggregate') this.aggregateBatches.push({ ...mskEventShape(event), durationMs });
  };

  /** A snapshot per function: invocations and handler seconds; for aggregate, its batches. */
  snapshot() {
    const batches = [...this.aggregateBatches];
    return {
      replay: {
        invocations: this.invocations.get('replay') ?? 0,
        seconds: (this.totalMs.get('replay') ?? 0) / 1000,
      },
      aggregate: {
        invocations: this.invocations.get('aggregate') ?? 0,
        seconds: (this.totalMs.get('aggregate') ?? 0) / 1000,
        records: batches.reduce((sum, batch) => sum + batch.records, 0),
        slices: batches.reduce((sum, batch) => sum + batch.slices, 0),
        batches,
      },
    };
  }
}

export type TimingsSnapshot = ReturnType<HandlerTimings['snapshot']>;

/** The trigger's steps per batch, for the latency bench's breakdown. */
export interface DeliveredSlice {
  readonly fetchedAtMs: number;
  readonly takenAtMs: number;
  readonly returnedAtMs: number;
  readonly committedAtMs: number;
  /** Aggregate's phases for this batch, as its outcome gave them (summary put, state write, publish). */
  readonly durationMs: Readonly<Record<string, number>>;
}

/** What the bench reads of aggregate's result (shared/pipeline/aggregate.ts `BatchOutcome[]`). */
const outcomesSchema = z.array(
  z.object({ batchId: z.string(), durationMs: z.record(z.string(), z.number()).optional() }),
);

function phasesByBatch(result: unknown): Map<string, Readonly<Record<string, number>>> {
  const parsed = outcomesSchema.safeParse(result);
  const phases = new Map<string, Readonly<Record<string, number>>>();
  for (const outcome of parsed.success ? parsed.data : []) {
    if (outcome.durationMs) phases.set(outcome.batchId, outcome.durationMs);
  }
  return phases;
}

/**
 * Every slice the aggregate trigger delivered, under its batch id (`topic-partition-first-last`, as
 * aggregate names the batch in its summary), for RuntimeOptions.onMskDelivered.
 */
export class DeliveryLog {
  private readonly slices = new Map<string, DeliveredSlice>();

  readonly observe = (functionId: string, delivery: MskDelivery): void => {
    if (functionId !== 'aggregate') return;
    const { takenAtMs, returnedAtMs, committedAtMs } = delivery;
    const phases = phasesByBatch(delivery.result);
    for (const slice of delivery.slices) {
      const id = `${delivery.topic}-${slice.partition}-${slice.firstOffset}-${slice.lastOffset}`;
      const durationMs = phases.get(id) ?? {};
      this.slices.set(id, {
        fetchedAtMs: slice.fetchedAtMs,
        takenAtMs,
        returnedAtMs,
        committedAtMs,
        durationMs,
      });
    }
  };

  get(batchId: string): DeliveredSlice | undefined {
    return this.slices.get(batchId);
  }

  clear(): void {
    this.slices.clear();
  }
}
