/**
 * The read side of the state table, for the API: cumulative summaries (partition states merged on
 * read), time-bucket rollups, recent batch summaries, replay progress and pipeline health.
 *
 * Answers are typed by the contracts (shared/contracts/api.ts) and built to them; their exact shape is
 * checked in the contract tests (test/unit/contracts), not here. Stored batch summaries are JSON read
 * back from the store, so they are parsed with the pipeline part of their schema on the way out (cheap:
 * the analysis body is checked at its top level only).
 */
import type { BucketView, HealthAnswer, ReplayView, SummaryAnswer } from '../contracts/api.ts';
import { type CleanMessage, cleanMessage } from '../contracts/clean-message.ts';
import { type AnyAnalysis, isJsonObject, type Json, type JsonObject } from '../core/analysis.ts';
import { percentileOfSorted } from '../core/statistics.ts';
import type { ItemStore, StoredItem } from './ports.ts';
import { type ReplayProgress, readProgress } from './replay.ts';
import { encodeBatchCursor, rollupBucketStart, sortableMs } from './state-keys.ts';

interface Accumulated {
  readonly run: string;
  readonly data: Json;
  readonly rows: number;
  readonly batches: number;
  readonly rejectedRows: number;
}

function asObject(value: Json | undefined): JsonObject | undefined {
  return isJsonObject(value) ? value : undefined;
}

function numberOf(value: Json | undefined): number {
  return typeof value === 'number' ? value : 0;
}

function accumulated(item: StoredItem, run: string): Accumulated | undefined {
  const payload = asObject(item.payload);
  if (!payload || payload.data === undefined) return undefined;
  return {
    run,
    data: payload.data,
    rows: numberOf(payload.rows),
    batches: numberOf(payload.batches),
    rejectedRows: numberOf(payload.rejectedRows),
  };
}

/** The run of a state item's sort key `<run>#<topic>#<partition>` (runs may contain `#`). */
function runOfStateSk(sk: string): string {
  const parts = sk.split('#');
  return parts.slice(0, -2).join('#');
}

export async function cumulativeSummary(
  store: ItemStore,
  analysis: AnyAnalysis,
  run: string | undefined,
): Promise<SummaryAnswer> {
  const items = await store.query(`state#${analysis.id}`);
  const states = items
    .map((item) => accumulated(item, runOfStateSk(item.sk)))
    .filter((state): state is Accumulated => state !== undefined && (run === undefined || state.run === run));
  const merged = analysis.mergeStates(states.map((state) => analysis.stateCodec.decode(state.data)));
  const runs = [...new Set(states.map((state) => state.run))].sort();
  return {
    analysis: analysis.id,
    runs,
    partitions: states.length,
    rows: states.reduce((sum, state) => sum + state.rows, 0),
    batches: states.reduce((sum, state) => sum + state.batches, 0),
    rejectedRows: states.reduce((sum, state) => sum + state.rejectedRows, 0),
    summary: analysis.summarizeState(merged),
  };
}

export async function bucketSeries(
  store: ItemStore,
  analysis: AnyAnalysis,
  range: { readonly fromMs: number; readonly toMs: number; readonly run?: string | undefined },
): Promise<BucketView[]> {
  const items = await store.query(`rollup#${analysis.id}`, {
    from: sortableMs(range.fromMs),
    to: `${sortableMs(range.toMs)}~`,
  });
  const byBucket = new Map<number, { batch: unknown; rows: number; batches: number; rejectedRows: number }>();
  for (const item of items) {
    const start = rollupBucketStart(item.sk);
    const run = runOfStateSk(item.sk.slice(16));
    if (range.run !== undefined && run !== range.run) continue;
    const entry = accumulated(item, run);
    if (!entry) continue;
    const batch = analysis.batchCodec.decode(entry.data);
    const current = byBucket.get(start);
    byBucket.set(
      start,
      current
        ? {
            batch: analysis.mergeBatches(current.batch, batch),
            rows: current.rows + entry.rows,
            batches: current.batches + entry.batches,
            rejectedRows: current.rejectedRows + entry.rejectedRows,
          }
        : { batch, rows: entry.rows, batches: entry.batches, rejectedRows: entry.rejectedRows },
    );
  }
  return [...byBucket.entries()]
    .sort(([a], [b]) => a - b)
    .map(([start, bucket]) => ({
      bucketStartMs: start,
      rows: bucket.rows,
      batches: bucket.batches,
      rejectedRows: bucket.rejectedRows,
      summary: analysis.summarizeBatch(bucket.batch),
    }));
}

/** A stored batch summary: the `data_clean` message as written. Anything else is a fault, not data. */
function readBatchSummary(item: StoredItem): CleanMessage {
  const parsed = cleanMessage.safeParse(item.payload);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new Error(
    `stored batch summary ${item.pk} ${item.sk} is not a data_clean message: ` +
      `${issue?.path.join('.') || 'item'}: ${issue?.message ?? 'invalid'}`,
  );
}

/**
 * Summaries are keyed by write time, but concurrent writers can land a key a moment *behind* one a
 * reader has already seen. So a poll re-reads this much behind its cursor; clients drop the batch
 * ids they already have (documented in the README's API section).
 */
export const BATCH_CURSOR_OVERLAP_MS = 1_000;

/**
 * Batch summaries written after (or up to BATCH_CURSOR_OVERLAP_MS before) `afterSk`, oldest first,
 * and the opaque cursor to ask with next. Always makes progress: when the overlap alone would fill
 * the page, it reads strictly after the cursor instead.
 */
export async function batchesSince(
  store: ItemStore,
  analysisId: string,
  /** A cursor's sort key; undefined = from the oldest kept; 'latest' = the newest `limit`, to follow from now. */
  afterSk: string | 'latest' | undefined,
  limit: number,
): Promise<{ items: CleanMessage[]; cursor: string | undefined }> {
  const pk = `batch#${analysisId}`;
  let items: StoredItem[];
  if (afterSk === undefined) {
    items = await store.query(pk, { limit });
  } else if (afterSk === 'latest') {
    items = (await store.query(pk, { limit, descending: true })).reverse();
  } else {
    const overlapFrom = sortableMs(Number(afterSk.slice(0, 15)) - BATCH_CURSOR_OVERLAP_MS);
    items = await store.query(pk, { from: overlapFrom, limit });
    const lastSk = items[items.length - 1]?.sk;
    if (items.length === limit && lastSk !== undefined && lastSk <= afterSk) {
      items = await store.query(pk, { from: `${afterSk}\u0000`, limit });
    }
  }
  const last = [afterSk === 'latest' ? undefined : afterSk, items[items.length - 1]?.sk]
    .filter((sk): sk is string => sk !== undefined)
    .sort()
    .at(-1);
  return {
    items: items.map(readBatchSummary),
    cursor: last === undefined ? undefined : encodeBatchCursor(last),
  };
}

export async function replayProgressList(store: ItemStore): Promise<ReplayProgress[]> {
  const items = await store.query('replay');
  return items.map(readProgress);
}

function addCounts(into: Record<string, number>, counts: Readonly<Record<string, number>>): void {
  for (const [reason, count] of Object.entries(counts)) into[reason] = (into[reason] ?? 0) + count;
}

interface BatchWindow {
  rowsOut: number;
  batches: number;
  rejected: number;
  readonly rejectedByReason: Record<string, number>;
  lastBatchAtMs: number | null;
}

/** What the batch summaries written since `sinceMs` say, over every analysis. */
async function batchWindow(store: ItemStore, analyses: readonly AnyAnalysis[], sinceMs: number) {
  const window: BatchWindow = {
    rowsOut: 0,
    batches: 0,
    rejected: 0,
    rejectedByReason: {},
    lastBatchAtMs: null,
  };
  const latencies: number[] = [];
  for (const analysis of analyses) {
    for (const item of await store.query(`batch#${analysis.id}`, { from: sortableMs(sinceMs) })) {
      const summary = readBatchSummary(item);
      const { progress } = summary;
      window.batches += 1;
      window.rowsOut += progress.numInputRows;
      window.rejected += summary.rows_rejected;
      // Latency of a batch: from its oldest record being produced to the batch being processed.
      latencies.push(progress.lagMs.max);
      addCounts(window.rejectedByReason, summary.rejected_by_reason);
      if (progress.receivedAtMs > (window.lastBatchAtMs ?? 0)) window.lastBatchAtMs = progress.receivedAtMs;
    }
  }
  return { ...window, latencies: latencies.sort((a, b) => a - b) };
}

/** Records no analysis could take: counted since the start (not per window), by reason. */
async function unroutedCounts(store: ItemStore): Promise<{ rows: number; byReason: Record<string, number> }> {
  let rows = 0;
  const byReason: Record<string, number> = {};
  for (const item of await store.query('unrouted')) {
    const counter = asObject(item.payload);
    rows += numberOf(counter?.rows);
    for (const [reason, count] of Object.entries(asObject(counter?.byReason) ?? {})) {
      byReason[reason] = (byReason[reason] ?? 0) + numberOf(count);
    }
  }
  return { rows, byReason };
}

/** The input rate: rows per second of every running replay, added up. */
function rowsInPerSecondOf(replays: readonly ReplayProgress[]): number {
  return replays
    .filter((replay) => replay.status === 'running')
    .reduce((sum, replay) => {
      const elapsed = (replay.updatedAtMs - replay.startedAtMs) / 1000;
      return sum + (elapsed > 0 ? replay.rowsSent / elapsed : 0);
    }, 0);
}

/** Pipeline health over the last `windowMs`: from the recent batch summaries and replay progress. */
export async function pipelineHealth(
  store: ItemStore,
  analyses: readonly AnyAnalysis[],
  nowMs: number,
  windowMs: number,
): Promise<HealthAnswer> {
  const window = await batchWindow(store, analyses, nowMs - windowMs);
  const unrouted = await unroutedCounts(store);
  const replays = await replayProgressList(store);
  return {
    windowSeconds: windowMs / 1000,
    rowsInPerSecond: rowsInPerSecondOf(replays),
    rowsOutPerSecond: window.rowsOut / (windowMs / 1000),
    batches: window.batches,
    rejectedRows: window.rejected,
    rejectedByReason: window.rejectedByReason,
    latencyMs: {
      p50: percentileOfSorted(window.latencies, 0.5) ?? null,
      p99: percentileOfSorted(window.latencies, 0.99) ?? null,
      max: window.latencies.at(-1) ?? null,
    },
    lastBatchAtMs: window.lastBatchAtMs,
    unroutedRows: unrouted.rows,
    unroutedByReason: unrouted.byReason,
    replays: replays.map((replay) => replayView(replay, nowMs)),
  };
}

export function replayView(replay: ReplayProgress, nowMs: number): ReplayView {
  const fraction =
    replay.objectBytes > 0
      ? Math.min(1, replay.bytesRead / replay.objectBytes)
      : replay.status === 'done'
        ? 1
        : 0;
  const elapsedMs = (replay.finishedAtMs ?? replay.updatedAtMs) - replay.startedAtMs;
  const etaMs = replay.status === 'running' && fraction > 0 ? (elapsedMs / fraction) * (1 - fraction) : null;
  return {
    bucket: replay.bucket,
    key: replay.key,
    analysis: replay.analysis,
    run: replay.run,
    status: replay.status,
    message: replay.message ?? null,
    rowsSent: replay.rowsSent,
    recordsSent: replay.recordsSent,
    rate: replay.rate,
    rowsPerRecord: replay.rowsPerRecord,
    invocations: replay.invocations,
    fraction,
    rowsPerSecond: elapsedMs > 0 ? (replay.rowsSent / elapsedMs) * 1000 : 0,
    etaSeconds: etaMs === null ? null : etaMs / 1000,
    startedAt: new Date(replay.startedAtMs).toISOString(),
    updatedAt: new Date(replay.updatedAtMs).toISOString(),
    stale: replay.status === 'running' && nowMs - replay.updatedAtMs > 120_000,
  };
}
