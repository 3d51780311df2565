/**
 * The read side of the state table, for the API: cumulative summaries (partition states merged on
 * read), time-bucket rollups, recent batch summaries, replay progress and pipeline health.
 *
 * Answers are typed by the contracts (shared/contracts/api.ts) and built to them; their exact shape is
 * checked in the contract tests (test/unit/contracts), not here. Stored batch summaries are JSON read
 * back from the store, so they are parsed with the pipeline part of their schema on the way out (cheap:
 * the analysis body is checked at its top level only).
 *
 * Every read but the cumulative summary's is bounded (limits in http-api/bounds.ts, with why).
 */
import type { BucketView, HealthAnswer, ReplaysAnswer, ReplayView, SummaryAnswer } from '../contracts/api.ts';
import { type CleanMessage, cleanMessage } from '../contracts/clean-message.ts';
import { type AnyAnalysis, isJsonObject, type Json, type JsonObject } from '../core/analysis.ts';
import { percentileOfSorted } from '../core/statistics.ts';
import {
  countWithin,
  MAX_HEALTH_BATCHES,
  MAX_PAGE_BYTES,
  MAX_REPLAY_ITEMS_READ,
  MAX_REPLAYS_BYTES,
  MAX_REPLAYS_LISTED,
  MAX_ROLLUP_ITEMS_READ,
} from './http-api/bounds.ts';
import type { ItemStore, StoredItem } from './ports.ts';
import { RECONCILE_PK, type ReconcileRecord, readReconcileRecord } from './reconcile-record.ts';
import { type ReplayProgress, readProgress } from './replay.ts';
import { encodeBatchCursor, replayKey, rollupBucketStart, sortableMs } from './state-keys.ts';

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
export function runOfStateSk(sk: string): string {
  const parts = sk.split('#');
  return parts.slice(0, -2).join('#');
}

export async function cumulativeSummary(
  store: ItemStore,
  analysis: AnyAnalysis,
  run: string | undefined,
): Promise<SummaryAnswer> {
  // One run's states are the sort keys `<run>#<topic>#<partition>`: only those are read, so a
  // run's summary does not grow with the other runs (topic names are ASCII, below U+FFFF).
  const range = run === undefined ? undefined : { from: `${run}#`, to: `${run}#\uffff` };
  return summaryOfStateItems(analysis, await store.query(`state#${analysis.id}`, range), run);
}

/**
 * The cumulative summary of an analysis' state items (pk `state#<analysis>`), of every run or one:
 * partitions merged on read. What the API answers, and what reconcile compares.
 */
export function summaryOfStateItems(
  analysis: AnyAnalysis,
  items: readonly StoredItem[],
  run: string | undefined,
): SummaryAnswer {
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

/** Rollup buckets oldest first, and where the next page starts (null: the range is complete). */
export interface BucketPage {
  readonly buckets: BucketView[];
  readonly nextFromMs: number | null;
}

/**
 * The buckets of [fromMs, toMs] merged across partitions, from at most `maxItems` rollup items
 * (+1, to tell whether more follow). A read that stops inside the range leaves out the last bucket
 * it reached (its other items may follow) for the next page; a single bucket of more items than
 * that is a fault, not a partial bucket.
 */
export async function bucketPage(
  store: ItemStore,
  analysis: AnyAnalysis,
  range: { readonly fromMs: number; readonly toMs: number; readonly run?: string | undefined },
  maxItems = MAX_ROLLUP_ITEMS_READ,
): Promise<BucketPage> {
  const read = await store.query(`rollup#${analysis.id}`, {
    from: sortableMs(range.fromMs),
    to: `${sortableMs(range.toMs)}~`,
    limit: maxItems + 1,
  });
  const beyond = read[maxItems];
  const nextFromMs = beyond === undefined ? null : rollupBucketStart(beyond.sk);
  const items = nextFromMs === null ? read : read.filter((item) => rollupBucketStart(item.sk) < nextFromMs);
  if (items.length === 0 && nextFromMs !== null) {
    throw new Error(
      `rollup#${analysis.id}: the bucket at ${nextFromMs} holds more than ${maxItems} rollup items ` +
        '(runs × partitions), more than one request reads',
    );
  }
  return { buckets: mergedBuckets(analysis, items, range.run), nextFromMs };
}

/** The buckets of the first page (every one while the range holds up to 2,000 rollup items). */
export async function bucketSeries(
  store: ItemStore,
  analysis: AnyAnalysis,
  range: { readonly fromMs: number; readonly toMs: number; readonly run?: string | undefined },
): Promise<BucketView[]> {
  return (await bucketPage(store, analysis, range)).buckets;
}

function mergedBuckets(
  analysis: AnyAnalysis,
  items: readonly StoredItem[],
  onlyRun: string | undefined,
): BucketView[] {
  const byBucket = new Map<number, { batch: unknown; rows: number; batches: number; rejectedRows: number }>();
  for (const item of items) {
    const start = rollupBucketStart(item.sk);
    const run = runOfStateSk(item.sk.slice(16));
    if (onlyRun !== undefined && run !== onlyRun) continue;
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

interface StoredBatch {
  readonly sk: string;
  readonly message: CleanMessage;
}

/** The first of `batches` that fit in `maxBytes` of JSON, at least one. */
function firstFitting(batches: readonly StoredBatch[], maxBytes: number): StoredBatch[] {
  const messages = batches.map((batch) => batch.message);
  return batches.slice(0, countWithin(messages, maxBytes));
}

/** Of batches read after a cursor, oldest first: the first that fit in `maxBytes`, at least one. */
function fittingAfter(batches: readonly StoredBatch[], afterSk: string | undefined, maxBytes: number) {
  const kept = firstFitting(batches, maxBytes);
  // As when the overlap fills the page by count: when it fills it by bytes, read on past the cursor.
  if (afterSk !== undefined && kept.every((batch) => batch.sk <= afterSk)) {
    const fresh = batches.filter((batch) => batch.sk > afterSk);
    if (fresh.length > 0) return firstFitting(fresh, maxBytes);
  }
  return kept;
}

/**
 * Batch summaries written after (or up to BATCH_CURSOR_OVERLAP_MS before) `afterSk`, oldest first,
 * at most `limit` and at most `maxBytes` of JSON (each passed through `prepare` first, which may add
 * to it), and the opaque cursor to ask with next. Always makes progress: when the overlap alone
 * would fill the page, it reads strictly after the cursor instead.
 */
export async function batchesSince(
  store: ItemStore,
  analysisId: string,
  /** A cursor's sort key; undefined = from the oldest kept; 'latest' = the newest `limit`, to follow from now. */
  afterSk: string | 'latest' | undefined,
  limit: number,
  options: { readonly prepare?: (batch: CleanMessage) => CleanMessage; readonly maxBytes?: number } = {},
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
  const { prepare = (batch: CleanMessage) => batch, maxBytes = MAX_PAGE_BYTES } = options;
  const batches = items.map((item) => ({ sk: item.sk, message: prepare(readBatchSummary(item)) }));
  // The newest of 'latest' are kept (a follower starts from the end); else the oldest, to page on.
  const kept =
    afterSk === 'latest'
      ? fittingAfter([...batches].reverse(), undefined, maxBytes).reverse()
      : fittingAfter(batches, afterSk, maxBytes);
  const last = [afterSk === 'latest' ? undefined : afterSk, kept[kept.length - 1]?.sk]
    .filter((sk): sk is string => sk !== undefined)
    .sort()
    .at(-1);
  return {
    items: kept.map((batch) => batch.message),
    cursor: last === undefined ? undefined : encodeBatchCursor(last),
  };
}

/** Every replay checkpoint, one per object ever replayed (no TTL): for tools; the API lists `listedReplays`. */
export async function replayProgressList(store: ItemStore): Promise<ReplayProgress[]> {
  const items = await store.query('replay');
  return items.map(readProgress);
}

interface ReadReplays {
  readonly replays: readonly ReplayProgress[];
  /** False when there were more checkpoints than one answer reads. */
  readonly allRead: boolean;
  /** The last reconcile result per object (sort key `<bucket>/<key>`, as the checkpoint's). */
  readonly reconciled: ReadonlyMap<string, ReconcileRecord>;
}

/**
 * At most MAX_REPLAY_ITEMS_READ checkpoints, in key order (nothing orders them by time), and as many
 * reconcile records (one per object at most, keyed as the checkpoints are).
 */
async function readReplays(store: ItemStore): Promise<ReadReplays> {
  const [items, records] = await Promise.all([
    store.query('replay', { limit: MAX_REPLAY_ITEMS_READ + 1 }),
    store.query(RECONCILE_PK, { limit: MAX_REPLAY_ITEMS_READ }),
  ]);
  const reconciled = new Map<string, ReconcileRecord>();
  for (const item of records) {
    const record = readReconcileRecord(item);
    if (record) reconciled.set(item.sk, record);
  }
  return {
    replays: items.slice(0, MAX_REPLAY_ITEMS_READ).map(readProgress),
    allRead: items.length <= MAX_REPLAY_ITEMS_READ,
    reconciled,
  };
}

/** Running first, then the most recently updated; equals keep the store's key order (stable sort). */
function byRelevance(a: ReplayProgress, b: ReplayProgress): number {
  return Number(b.status === 'running') - Number(a.status === 'running') || b.updatedAtMs - a.updatedAtMs;
}

/** The replays an answer lists: the most relevant, at most MAX_REPLAYS_LISTED in MAX_REPLAYS_BYTES. */
function replayList(read: ReadReplays, nowMs: number): ReplaysAnswer {
  const views = [...read.replays]
    .sort(byRelevance)
    .slice(0, MAX_REPLAYS_LISTED)
    .map((replay) => replayView(replay, nowMs, read.reconciled.get(replayKey(replay.bucket, replay.key).sk)));
  const replays = views.slice(0, countWithin(views, MAX_REPLAYS_BYTES));
  return { replays, replaysTruncated: !read.allRead || replays.length < read.replays.length };
}

export async function listedReplays(store: ItemStore, nowMs: number): Promise<ReplaysAnswer> {
  return replayList(await readReplays(store), nowMs);
}

function addCounts(into: Record<string, number>, counts: Readonly<Record<string, number>>): void {
  for (const [reason, count] of Object.entries(counts)) into[reason] = (into[reason] ?? 0) + count;
}

/** When a batch summary was written: the front of its sort key (state-keys.ts, batchKey). */
function writtenAtMs(item: StoredItem): number {
  return Number(item.sk.slice(0, 15));
}

/** The newest batch summaries of one analysis written since `sinceMs`: at most `max`, newest first. */
async function newestBatches(store: ItemStore, analysisId: string, sinceMs: number, max: number) {
  const items = await store.query(`batch#${analysisId}`, {
    from: sortableMs(sinceMs),
    limit: max + 1,
    descending: true,
  });
  return { items: items.slice(0, max), sampled: items.length > max };
}

interface BatchWindow {
  rowsOut: number;
  batches: number;
  rejected: number;
  readonly rejectedByReason: Record<string, number>;
  lastBatchAtMs: number | null;
}

/**
 * What the batch summaries written since `sinceMs` say, over every analysis, from at most the newest
 * MAX_HEALTH_BATCHES of each. When an analysis had more, the figures of every analysis cover only
 * the span its newest ones do (from `coveredFromMs`), so that they still describe one time span;
 * batches written in the very millisecond of that bound may be left out.
 */
async function batchWindow(store: ItemStore, analyses: readonly AnyAnalysis[], sinceMs: number) {
  const reads = await Promise.all(
    analyses.map((analysis) => newestBatches(store, analysis.id, sinceMs, MAX_HEALTH_BATCHES)),
  );
  const coveredFromMs = Math.max(
    sinceMs,
    ...reads.flatMap((read) => {
      const oldest = read.items.at(-1);
      return read.sampled && oldest ? [writtenAtMs(oldest)] : [];
    }),
  );
  const window: BatchWindow = {
    rowsOut: 0,
    batches: 0,
    rejected: 0,
    rejectedByReason: {},
    lastBatchAtMs: null,
  };
  const latencies: number[] = [];
  for (const item of reads.flatMap((read) => read.items)) {
    if (writtenAtMs(item) < coveredFromMs) continue;
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
  return {
    ...window,
    latencies: latencies.sort((a, b) => a - b),
    coveredFromMs,
    sampled: reads.some((read) => read.sampled),
  };
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

/**
 * How long a replay has been replaying: from its start to its last checkpoint (or its end), less the
 * time nobody replayed it, so that a replay resumed after a pause is rated by its running time only.
 */
function replayingMs(replay: ReplayProgress): number {
  return (replay.finishedAtMs ?? replay.updatedAtMs) - replay.startedAtMs - (replay.pausedMs ?? 0);
}

function rowsPerSecondOf(replay: ReplayProgress): number {
  const elapsedMs = replayingMs(replay);
  return elapsedMs > 0 ? (replay.rowsSent / elapsedMs) * 1000 : 0;
}

/** The input rate: rows per second of every running replay, added up. */
function rowsInPerSecondOf(replays: readonly ReplayProgress[]): number {
  return replays
    .filter((replay) => replay.status === 'running')
    .reduce((sum, replay) => sum + rowsPerSecondOf(replay), 0);
}

/** Pipeline health over the last `windowMs`: from the recent batch summaries and replay progress. */
export async function pipelineHealth(
  store: ItemStore,
  analyses: readonly AnyAnalysis[],
  nowMs: number,
  windowMs: number,
): Promise<HealthAnswer> {
  const [window, unrouted, replays] = await Promise.all([
    batchWindow(store, analyses, nowMs - windowMs),
    unroutedCounts(store),
    readReplays(store),
  ]);
  const coveredSeconds = Math.max(0, nowMs - window.coveredFromMs) / 1000;
  return {
    windowSeconds: windowMs / 1000,
    sampled: window.sampled,
    coveredSeconds,
    rowsInPerSecond: rowsInPerSecondOf(replays.replays),
    rowsOutPerSecond: coveredSeconds > 0 ? window.rowsOut / coveredSeconds : 0,
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
    ...replayList(replays, nowMs),
  };
}

/** A reconcile record as the API shows it with its replay: only when it checked this very run. */
function reconciledView(
  replay: ReplayProgress,
  record: ReconcileRecord | undefined,
): ReplayView['reconciled'] {
  if (record === undefined || record.run !== replay.run) return undefined;
  return {
    checkedAt: new Date(record.checkedAtMs).toISOString(),
    equal: record.equal,
    rows: record.rows,
    quantities: record.quantities,
    differences: record.differences,
  };
}

export function replayView(replay: ReplayProgress, nowMs: number, record?: ReconcileRecord): ReplayView {
  const fraction =
    replay.objectBytes > 0
      ? Math.min(1, replay.bytesRead / replay.objectBytes)
      : replay.status === 'done'
        ? 1
        : 0;
  const elapsedMs = replayingMs(replay);
  const etaMs = replay.status === 'running' && fraction > 0 ? (elapsedMs / fraction) * (1 - fraction) : null;
  const view: ReplayView = {
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
    rowsPerSecond: rowsPerSecondOf(replay),
    etaSeconds: etaMs === null ? null : etaMs / 1000,
    startedAt: new Date(replay.startedAtMs).toISOString(),
    updatedAt: new Date(replay.updatedAtMs).toISOString(),
    stale: replay.status === 'running' && nowMs - replay.updatedAtMs > 120_000,
  };
  const reconciled = reconciledView(replay, record);
  return reconciled === undefined ? view : { ...view, reconciled };
}
