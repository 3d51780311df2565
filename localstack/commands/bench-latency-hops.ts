/**
 * Where a row's latency goes, hop by hop: for the oldest row of each batch, the times the pipeline
 * already records (the row's Kafka timestamp, the trigger's fetch/take/commit times, the summary's
 * handler start and phase durations, data_clean's timestamp) turned into consecutive intervals that
 * add up to the batch's produce → data_clean latency. Pure: the bench joins and feeds the facts.
 */
import { percentile } from '../../shared/core/statistics.ts';

/** One batch summary as the latency probe read it from data_clean. */
export interface CleanBatchSeen {
  readonly batchId: string;
  /** The producer time of the batch's oldest row (its data_raw record timestamp). */
  readonly firstRecordTimestampMs: number;
  /** When aggregate started on the slice (in the sandbox, after parsing the event). */
  readonly receivedAtMs: number;
  /** Aggregate's phases, in order, from the slice's start to its state write. */
  readonly durationMs: Readonly<Record<string, number>>;
  /** The summary's data_clean record timestamp: set by aggregate's producer as it publishes. */
  readonly appendedAtMs: number;
  /** When the bench's data_clean consumer got it (after the measured latency). */
  readonly seenAtMs: number;
}

/** The same batch as the MSK trigger saw it (msk-trigger.ts `MskDelivery`, one slice). */
export interface TriggerBatchSeen {
  readonly fetchedAtMs: number;
  readonly takenAtMs: number;
  readonly returnedAtMs: number;
  readonly committedAtMs: number;
  /**
   * Aggregate's phases as its result gave them: those of the summary, and those after it was built
   * (summaryWrite, stateWrite, publish), which the summary cannot hold.
   */
  readonly durationMs: Readonly<Record<string, number>>;
}

/** Aggregate's phases (aggregate.ts), in the order they run; `rollupRead` is folded into stateRead. */
const AGGREGATE_PHASES = [
  'stateRead',
  'rollupRead',
  'apply',
  'deadLetters',
  'rollupWrite',
  'summaryWrite',
  'stateWrite',
];

/** The hops that add up to the latency, then two after it (not part of the goal's figure). */
export const HOPS = [
  'produce → fetched by the trigger (send, broker append, fetch)',
  'fetched → taken (window, partition in flight, invocations in flight)',
  'taken → aggregate started (event JSON, IPC, parse in the sandbox)',
  'aggregate: state + rollup read (one round trip)',
  'aggregate: fold (apply, dead letters)',
  'aggregate: rollup writes (concurrent)',
  'aggregate: summary put',
  'aggregate: state write (the commit point)',
  'state written → data_clean record timestamped (publish)',
  'total: produce → data_clean (oldest row)',
  'after: data_clean → the bench consumer',
  'after: data_clean publish, whole round trip',
  'after: this slice published → the invocation returned and committed',
] as const;

export type Hop = (typeof HOPS)[number];

function phase(durations: Readonly<Record<string, number>>, ...names: string[]): number {
  return names.reduce((sum, name) => sum + (durations[name] ?? 0), 0);
}

/** The hops of one batch, in ms. */
export function hopsOf(clean: CleanBatchSeen, trigger: TriggerBatchSeen): Record<Hop, number> {
  // The result's phases include the summary's; the summary's alone when the result had none.
  const d = { ...clean.durationMs, ...trigger.durationMs };
  const handlerEnd = clean.receivedAtMs + phase(d, ...AGGREGATE_PHASES);
  return {
    'produce → fetched by the trigger (send, broker append, fetch)':
      trigger.fetchedAtMs - clean.firstRecordTimestampMs,
    'fetched → taken (window, partition in flight, invocations in flight)':
      trigger.takenAtMs - trigger.fetchedAtMs,
    'taken → aggregate started (event JSON, IPC, parse in the sandbox)':
      clean.receivedAtMs - trigger.takenAtMs,
    'aggregate: state + rollup read (one round trip)': phase(d, 'stateRead', 'rollupRead'),
    'aggregate: fold (apply, dead letters)': phase(d, 'apply', 'deadLetters'),
    'aggregate: rollup writes (concurrent)': phase(d, 'rollupWrite'),
    'aggregate: summary put': phase(d, 'summaryWrite'),
    'aggregate: state write (the commit point)': phase(d, 'stateWrite'),
    'state written → data_clean record timestamped (publish)': clean.appendedAtMs - handlerEnd,
    'total: produce → data_clean (oldest row)': clean.appendedAtMs - clean.firstRecordTimestampMs,
    'after: data_clean → the bench consumer': clean.seenAtMs - clean.appendedAtMs,
    'after: data_clean publish, whole round trip': phase(d, 'publish'),
    'after: this slice published → the invocation returned and committed':
      trigger.committedAtMs - clean.appendedAtMs,
  };
}

export interface HopFigures {
  readonly hop: Hop;
  readonly p50: number;
  readonly p99: number;
}

/** p50 and p99 of each hop over the batches. */
export function hopPercentiles(batches: readonly Record<Hop, number>[]): HopFigures[] {
  return HOPS.map((hop) => {
    const values = batches.map((batch) => batch[hop]);
    return { hop, p50: percentile(values, 0.5) ?? Number.NaN, p99: percentile(values, 0.99) ?? Number.NaN };
  });
}

/** The breakdown as the bench prints it: one line per hop, p50 and p99 in ms. */
export function hopTable(figures: readonly HopFigures[], batches: number): string[] {
  const width = Math.max(...figures.map(({ hop }) => hop.length));
  const ms = (value: number) => (Number.isNaN(value) ? '—' : value.toFixed(0)).padStart(7);
  return [
    `lat   per hop, oldest row of each batch (${batches} batches)`,
    `        ${''.padEnd(width)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)}`,
    ...figures.map(({ hop, p50, p99 }) => `        ${hop.padEnd(width)} ${ms(p50)} ${ms(p99)}`),
  ];
}
