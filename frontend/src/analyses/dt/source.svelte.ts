/**
 * The dt analysis' data for its panels, kept current incrementally by the dashboard's poller:
 * - the cumulative summary (ETag: a 304 while nothing new was aggregated);
 * - time buckets, re-reading only a short recent window (a bucket keeps filling while recent) into a
 *   bounded, time-keyed series; the window is snapped to whole steps so the URL, and the body, stay
 *   the same between ticks while idle, and the ETag answers 304; a long window comes in pages (the
 *   API answers at most 1 MiB of buckets), followed for a few per tick, the rest on the next tick;
 * - batch summaries after the API's opaque cursor, dropping ids already seen (the API re-reads a
 *   little behind the cursor), into a ring buffer.
 * Components only derive and render from the state below.
 */
import type { ApiClient, ApiResource } from '../../lib/api/client.ts';
import {
  type BatchesAnswer,
  type BucketsAnswer,
  batchesAnswer,
  bucketsAnswer,
  type CleanMessage,
  type SummaryAnswer,
  summaryAnswer,
} from '../../lib/api/schemas.ts';
import { BoundedSet } from '../../lib/data/bounded-set.ts';
import { KeyedSeries } from '../../lib/data/keyed-series.ts';
import { RingBuffer } from '../../lib/data/ring-buffer.ts';
import type { AnalysisSource } from '../types.ts';
import { type DtCounts, EMPTY_COUNTS, parseDtSummary, sumCounts } from './summary.ts';

export type DtViewMode = 'cumulative' | 'last-bucket' | 'last-minutes';

export interface DtBucket {
  readonly startMs: number;
  readonly rows: number;
  readonly batches: number;
  readonly counts: DtCounts;
}

export interface DtBatch {
  readonly batchId: string;
  readonly run: string;
  readonly partition: number;
  readonly rows: number;
  readonly hits: number;
  readonly rejectedRows: number;
  readonly lagMs: number;
  readonly processedRowsPerSecond: number;
  readonly receivedAtMs: number;
}

export interface DtCumulative {
  readonly runs: readonly string[];
  readonly rows: number;
  readonly batches: number;
  readonly rejectedRows: number;
  readonly counts: DtCounts;
}

export interface DtSourceOptions {
  /** How far back the time series reach (and the longest "last N minutes"). */
  readonly historySeconds?: number;
  /** Bucket points kept at most, whatever the bucket width. */
  readonly bucketCapacity?: number;
  readonly batchCapacity?: number;
  /** Batch ids remembered for de-duplication. */
  readonly seenBatchIds?: number;
  /** Batch pages fetched per tick at most (catching up after a pause takes a few ticks). */
  readonly maxBatchPages?: number;
  readonly batchPageSize?: number;
  /** Bucket pages fetched per tick at most (the first, whole-history read may take more). */
  readonly maxBucketPages?: number;
  readonly now?: () => number;
}

/** Re-read at least this far back on every tick: rollups of recent buckets still change. */
const RECENT_WINDOW_SECONDS = 30;
/** The `from` of a bucket request is snapped to this step so the URL repeats while idle. */
const FROM_STEP_MS = 10_000;
const TO_STEP_MS = 60_000;
const DEFAULT_BUCKET_MS = 5_000;

export class DtSource implements AnalysisSource {
  readonly analysisId: string;
  readonly historySeconds: number;

  cumulative = $state.raw<DtCumulative | undefined>(undefined);
  /** Oldest first, at most bucketCapacity. */
  buckets = $state.raw<readonly DtBucket[]>([]);
  /** Newest last, at most batchCapacity. */
  recentBatches = $state.raw<readonly DtBatch[]>([]);
  /** Batches received since the page opened (de-duplicated). */
  batchesReceived = $state(0);
  /** When the buckets were last fetched (client clock): the reference of "last N minutes". */
  fetchedAtMs = $state(0);
  /** A summary the dashboard could not read (shown, while the rest keeps working). */
  problem = $state<string | null>(null);

  view = $state<DtViewMode>('cumulative');
  minutes = $state(5);

  /** Width of a bucket: the smallest gap between bucket starts (the API does not say it). */
  readonly bucketMs = $derived(inferBucketMs(this.buckets));

  /** The counts the per-chamber panels and the telescope show, for the chosen view. */
  readonly viewCounts = $derived.by((): { counts: DtCounts; caption: string } => {
    switch (this.view) {
      case 'cumulative':
        return {
          counts: this.cumulative?.counts ?? EMPTY_COUNTS,
          caption: 'all data since the start of the runs',
        };
      case 'last-bucket': {
        const bucket = lastCompleteBucket(this.buckets, this.bucketMs, this.fetchedAtMs);
        return bucket
          ? {
              counts: bucket.counts,
              caption: `bucket ${clock(bucket.startMs)}–${clock(bucket.startMs + this.bucketMs)}`,
            }
          : { counts: EMPTY_COUNTS, caption: 'no bucket yet' };
      }
      case 'last-minutes': {
        const fromMs = this.fetchedAtMs - this.minutes * 60_000;
        const inWindow = this.buckets.filter((bucket) => bucket.startMs + this.bucketMs > fromMs);
        return {
          counts: sumCounts(inWindow.map((bucket) => bucket.counts)),
          caption: `${inWindow.length} bucket${inWindow.length === 1 ? '' : 's'} of the last ${this.minutes} min`,
        };
      }
    }
  });

  private readonly summaryResource: ApiResource<SummaryAnswer>;
  /** One per page of a tick, each with its own ETag, so that an idle tick is all 304s. */
  private readonly bucketsResources: readonly ApiResource<BucketsAnswer>[];
  private readonly batchesResource: ApiResource<BatchesAnswer>;
  private readonly bucketSeries: KeyedSeries<DtBucket>;
  private readonly batchRing: RingBuffer<DtBatch>;
  private readonly seenBatches: BoundedSet<string>;
  private readonly maxBatchPages: number;
  private readonly batchPageSize: number;
  private readonly now: () => number;
  private cursor: string | undefined;
  private lastBucketsFetchMs: number | undefined;
  /** Where the buckets of the last tick stopped when it ran out of pages: the next one goes on. */
  private pendingBucketsFromMs: number | undefined;

  constructor(api: ApiClient, analysisId = 'dt', options: DtSourceOptions = {}) {
    this.analysisId = analysisId;
    this.historySeconds = options.historySeconds ?? 900;
    this.bucketSeries = new KeyedSeries(options.bucketCapacity ?? 400);
    this.batchRing = new RingBuffer(options.batchCapacity ?? 200);
    this.seenBatches = new BoundedSet(options.seenBatchIds ?? 2_000);
    // 50 dt summaries (~16 KB each) stay under the API's 1 MiB page, so a short page means the end.
    this.maxBatchPages = options.maxBatchPages ?? 6;
    this.batchPageSize = options.batchPageSize ?? 50;
    this.now = options.now ?? Date.now;
    this.summaryResource = api.resource(summaryAnswer);
    this.bucketsResources = Array.from({ length: options.maxBucketPages ?? 4 }, () =>
      api.resource(bucketsAnswer),
    );
    this.batchesResource = api.resource(batchesAnswer);
  }

  setView(view: DtViewMode): void {
    this.view = view;
  }

  /** Choosing a window also switches to it. */
  setMinutes(minutes: number): void {
    if (!Number.isFinite(minutes) || minutes <= 0) return;
    this.minutes = Math.min(minutes, this.historySeconds / 60);
    this.view = 'last-minutes';
  }

  private get base(): string {
    return `/api/v1/analyses/${encodeURIComponent(this.analysisId)}`;
  }

  async refresh(signal: AbortSignal): Promise<void> {
    await Promise.all([
      this.refreshSummary(signal),
      this.refreshBuckets(signal),
      this.refreshBatches(signal),
    ]);
  }

  async refreshSummary(signal: AbortSignal): Promise<void> {
    const { value, changed } = await this.summaryResource.get(`${this.base}/summary`, signal);
    if (!changed) return;
    const parsed = parseDtSummary(value.summary);
    if ('error' in parsed) {
      this.problem = `the summary is not a dt summary (${parsed.error})`;
      return;
    }
    this.problem = null;
    this.cumulative = {
      runs: value.runs,
      rows: value.rows,
      batches: value.batches,
      rejectedRows: value.rejectedRows,
      counts: parsed.counts,
    };
  }

  async refreshBuckets(signal: AbortSignal): Promise<void> {
    const now = this.now();
    const sinceLast =
      this.lastBucketsFetchMs === undefined ? this.historySeconds : (now - this.lastBucketsFetchMs) / 1000;
    const windowSeconds = Math.min(
      this.historySeconds,
      Math.max(RECENT_WINDOW_SECONDS, sinceLast + RECENT_WINDOW_SECONDS),
    );
    const windowFromMs = Math.floor((now - windowSeconds * 1000) / FROM_STEP_MS) * FROM_STEP_MS;
    // After a tick that ran out of pages: on from where it stopped (if still within the history).
    const resumeFromMs =
      this.pendingBucketsFromMs === undefined
        ? windowFromMs
        : Math.max(now - this.historySeconds * 1000, this.pendingBucketsFromMs);
    let fromMs = Math.min(windowFromMs, resumeFromMs);
    const toMs = Math.ceil(now / TO_STEP_MS) * TO_STEP_MS + TO_STEP_MS;
    let nextFromMs: number | null = null;
    for (const resource of this.bucketsResources) {
      const { value, changed } = await resource.get(`${this.base}/buckets?from=${fromMs}&to=${toMs}`, signal);
      if (changed) this.upsertBuckets(value);
      nextFromMs = value.nextFromMs;
      if (nextFromMs === null) break;
      fromMs = nextFromMs;
    }
    this.pendingBucketsFromMs = nextFromMs ?? undefined;
    this.lastBucketsFetchMs = now;
    this.bucketSeries.dropBefore(now - this.historySeconds * 1000);
    this.buckets = this.bucketSeries.entries().map((entry) => entry.value);
    this.fetchedAtMs = now;
  }

  private upsertBuckets(answer: BucketsAnswer): void {
    for (const bucket of answer.buckets) {
      const parsed = parseDtSummary(bucket.summary);
      if ('error' in parsed) continue;
      this.bucketSeries.upsert(bucket.bucketStartMs, {
        startMs: bucket.bucketStartMs,
        rows: bucket.rows,
        batches: bucket.batches,
        counts: parsed.counts,
      });
    }
  }

  async refreshBatches(signal: AbortSignal): Promise<void> {
    let added = 0;
    for (let page = 0; page < this.maxBatchPages; page++) {
      // The first read starts from the newest batches, not from the oldest kept (a day back):
      // crawling a day of batches a few pages per tick, "latest batches" showed minutes-old ones.
      const query = new URLSearchParams({
        limit: String(this.batchPageSize),
        since: this.cursor ?? 'latest',
      });
      const { value, changed } = await this.batchesResource.get(`${this.base}/batches?${query}`, signal);
      if (!changed) break;
      for (const item of value.items) {
        const batch = toBatch(item);
        if (this.seenBatches.add(batch.batchId)) {
          this.batchRing.push(batch);
          added += 1;
        }
      }
      const advanced = value.cursor !== null && value.cursor !== this.cursor;
      if (value.cursor !== null) this.cursor = value.cursor;
      // A full page means more may follow right after it.
      if (!advanced || value.items.length < this.batchPageSize) break;
    }
    if (added > 0) {
      this.batchesReceived += added;
      this.recentBatches = this.batchRing.toArray();
    }
  }
}

/**
 * The `count` most recently received batches, newest first. Batches arrive roughly, not strictly,
 * in that order (the API pages in write order, and concurrent writers land a little out of it).
 */
export function newestBatches(batches: readonly DtBatch[], count: number): DtBatch[] {
  return [...batches]
    .sort((a, b) => b.receivedAtMs - a.receivedAtMs || b.batchId.localeCompare(a.batchId))
    .slice(0, count);
}

/** A batch's row in the panels: the pipeline part of its `data_clean` message and dt's hit count. */
function toBatch(item: CleanMessage): DtBatch {
  const { msg_ID, run, partition, rows_rejected, progress, hit_count } = item;
  return {
    batchId: msg_ID,
    run,
    partition,
    rows: progress.numInputRows,
    hits: typeof hit_count === 'number' ? hit_count : 0,
    rejectedRows: rows_rejected,
    lagMs: progress.lagMs.max,
    processedRowsPerSecond: progress.processedRowsPerSecond,
    receivedAtMs: progress.receivedAtMs,
  };
}

export function inferBucketMs(buckets: readonly DtBucket[]): number {
  let smallest = Number.POSITIVE_INFINITY;
  for (let index = 1; index < buckets.length; index++) {
    const gap = (buckets[index]?.startMs ?? 0) - (buckets[index - 1]?.startMs ?? 0);
    if (gap > 0 && gap < smallest) smallest = gap;
  }
  return Number.isFinite(smallest) ? smallest : DEFAULT_BUCKET_MS;
}

/** The newest bucket that has ended, or the newest one if none has. */
export function lastCompleteBucket(
  buckets: readonly DtBucket[],
  bucketMs: number,
  nowMs: number,
): DtBucket | undefined {
  for (let index = buckets.length - 1; index >= 0; index--) {
    const bucket = buckets[index];
    if (bucket && bucket.startMs + bucketMs <= nowMs) return bucket;
  }
  return buckets.at(-1);
}

function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
}
