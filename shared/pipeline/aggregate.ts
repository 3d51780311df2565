/**
 * The aggregate step, transport-neutral: one call per trigger event, one *batch* per
 * topic-partition slice of it. For each batch it folds the records into the rolling state of their
 * (analysis, run, partition), adds them to time-bucket rollups, stores and publishes a summary, and
 * sends rejected rows to the dead-letter topic.
 *
 * Exactly-once effect without transactions: every state item remembers the last record sequence
 * number applied to it (see core/record-headers.ts), and is written with a version condition. A
 * retried or duplicated batch finds its records already applied and changes nothing; its stored
 * summary is published again under the same batch id. Writes go rollups → batch summary → state, so
 * a crash in between leaves the state unchanged and the retry completes the rest (each rollup has
 * its own sequence guard).
 */
import {
  type AnyAnalysis,
  isJsonObject,
  type Json,
  type JsonObject,
  type RecordInput,
  type Rejection,
} from '../core/analysis.ts';
import { readOrigin } from '../core/record-headers.ts';
import type { ItemStore, OutgoingMessage, Publisher, StoredItem } from './ports.ts';
import { RetryableError } from './ports.ts';
import { batchKey, partitionStateKey, rollupKey, unroutedKey } from './state-keys.ts';

export interface IncomingRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestampMs: number;
  readonly value: Uint8Array;
  readonly headers: ReadonlyMap<string, string>;
}

/** All records of one topic-partition in one trigger event, in offset order. */
export interface IncomingSlice {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly IncomingRecord[];
}

export interface AggregateDependencies {
  readonly analyses: (id: string) => AnyAnalysis | undefined;
  readonly store: ItemStore;
  readonly publisher: Publisher;
  readonly topics: { readonly clean: string; readonly dead: string };
  readonly bucketSeconds: number;
  readonly batchTtlSeconds: number;
  /** Analysis for records without driftline headers (produced by something else than replay). */
  readonly defaultAnalysis?: string;
  readonly now: () => number;
}

/** What one batch did, for logs and tests. */
export interface BatchOutcome {
  readonly batchId: string;
  readonly analysis: string | undefined;
  readonly run: string | undefined;
  readonly inputRows: number;
  readonly rejectedRows: number;
  /** True when every record had been applied before (a retry or a duplicate): nothing changed. */
  readonly duplicate: boolean;
}

interface OriginGroup {
  readonly analysis: AnyAnalysis;
  readonly run: string;
  readonly records: { readonly input: RecordInput; readonly sequence: number }[];
}

/** The payload of a state#… or rollup#… item. */
interface AccumulatorPayload {
  readonly lastSequence: number;
  readonly data: Json;
  readonly rows: number;
  readonly batches: number;
  readonly rejectedRows: number;
  /** State items only: the last batch applied and where its summary is stored (to re-publish it). */
  readonly lastBatchId?: string;
  readonly lastSummarySk?: string;
}

function readAccumulator(item: StoredItem | undefined): AccumulatorPayload | undefined {
  if (!item) return undefined;
  const payload = item.payload;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new Error(`state item ${item.pk}/${item.sk} holds no object`);
  }
  const number = (name: string) => {
    const value = payload[name];
    if (typeof value !== 'number')
      throw new Error(`state item ${item.pk}/${item.sk}: ${name} is not a number`);
    return value;
  };
  const data = payload.data;
  if (data === undefined) throw new Error(`state item ${item.pk}/${item.sk} has no data`);
  return {
    lastSequence: number('lastSequence'),
    data,
    rows: number('rows'),
    batches: number('batches'),
    rejectedRows: number('rejectedRows'),
    ...(typeof payload.lastBatchId === 'string' ? { lastBatchId: payload.lastBatchId } : {}),
    ...(typeof payload.lastSummarySk === 'string' ? { lastSummarySk: payload.lastSummarySk } : {}),
  };
}

function accumulatorJson(payload: AccumulatorPayload): JsonObject {
  return { ...payload };
}

export function batchIdOf(slice: IncomingSlice): string {
  const first = slice.records[0]?.offset ?? 0;
  const last = slice.records[slice.records.length - 1]?.offset ?? first;
  return `${slice.topic}-${slice.partition}-${first}-${last}`;
}

const MAX_ROW_TEXT = 200;

function recordAsText(value: Uint8Array): string {
  return Buffer.from(value.subarray(0, MAX_ROW_TEXT)).toString('utf8');
}

/** Splits a slice by (analysis, run); records whose origin cannot be read become rejections. */
function groupByOrigin(
  slice: IncomingSlice,
  deps: AggregateDependencies,
): { groups: OriginGroup[]; rejections: (Rejection & { analysis: string | undefined })[] } {
  const groups = new Map<string, OriginGroup>();
  const rejections: (Rejection & { analysis: string | undefined })[] = [];
  for (const record of slice.records) {
    const origin = readOrigin(record.headers, {
      analysis: deps.defaultAnalysis,
      topic: record.topic,
      offset: record.offset,
    });
    const reject = (reason: string, detail: string, analysis: string | undefined) =>
      rejections.push({
        reason,
        detail,
        row: recordAsText(record.value),
        partition: record.partition,
        offset: String(record.offset),
        rowIndex: 0,
        analysis,
      });
    if ('error' in origin) {
      reject('bad-origin', origin.error, undefined);
      continue;
    }
    const analysis = deps.analyses(origin.analysis);
    if (!analysis) {
      reject('unknown-analysis', `no analysis "${origin.analysis}" is registered`, origin.analysis);
      continue;
    }
    const groupKey = `${origin.analysis}\u0000${origin.run}`;
    let group = groups.get(groupKey);
    if (!group) {
      group = { analysis, run: origin.run, records: [] };
      groups.set(groupKey, group);
    }
    group.records.push({
      sequence: origin.sequence,
      input: {
        value: record.value,
        wireFormat: origin.wireFormat,
        partition: record.partition,
        offset: String(record.offset),
        timestampMs: record.timestampMs,
      },
    });
  }
  return { groups: [...groups.values()], rejections };
}

function deadLetter(
  rejection: Rejection,
  context: {
    readonly topic: string;
    readonly batchId: string;
    readonly analysis: string | undefined;
    readonly run: string | undefined;
  },
): OutgoingMessage {
  return {
    key: `${context.topic}-${rejection.partition}-${rejection.offset}-${rejection.rowIndex}`,
    value: JSON.stringify({
      reason: rejection.reason,
      detail: rejection.detail,
      row: rejection.row,
      source: {
        topic: context.topic,
        partition: rejection.partition,
        offset: rejection.offset,
        rowIndex: rejection.rowIndex,
      },
      analysis: context.analysis ?? null,
      run: context.run ?? null,
      batchId: context.batchId,
    }),
  };
}

function countByReason(rejections: readonly Rejection[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const rejection of rejections) counts[rejection.reason] = (counts[rejection.reason] ?? 0) + 1;
  return counts;
}

/** A rollup item as read before the batch was applied. */
interface RollupRead {
  readonly key: ReturnType<typeof rollupKey>;
  readonly item: StoredItem | undefined;
  readonly current: AccumulatorPayload | undefined;
}

/** Adds the contribution of the records not yet in this rollup item. */
async function addToRollup(
  deps: AggregateDependencies,
  analysis: AnyAnalysis,
  rollup: RollupRead,
  contribution: unknown,
  lastSequence: number,
  rows: number,
  rejectedRows: number,
  expiresAt: number,
): Promise<void> {
  const { key, item: existing, current } = rollup;
  const merged = current
    ? analysis.mergeBatches(analysis.batchCodec.decode(current.data), contribution)
    : contribution;
  const payload: AccumulatorPayload = {
    lastSequence,
    data: analysis.batchCodec.encode(merged),
    rows: (current?.rows ?? 0) + rows,
    batches: (current?.batches ?? 0) + 1,
    rejectedRows: (current?.rejectedRows ?? 0) + rejectedRows,
  };
  const written = await deps.store.put(
    { ...key, version: (existing?.version ?? 0) + 1, payload: accumulatorJson(payload), expiresAt },
    existing ? { kind: 'version', version: existing.version } : { kind: 'absent' },
  );
  if (!written) throw new RetryableError(`concurrent update of ${key.pk}/${key.sk}`);
}

async function processGroup(
  slice: IncomingSlice,
  group: OriginGroup,
  batchId: string,
  deps: AggregateDependencies,
  receivedAt: number,
): Promise<BatchOutcome> {
  const { analysis, run } = group;
  const timings: Record<string, number> = {};
  let mark = deps.now();
  const lap = (phase: string) => {
    const now = deps.now();
    timings[phase] = (timings[phase] ?? 0) + (now - mark);
    mark = now;
  };

  const stateKey = partitionStateKey(analysis.id, run, slice.topic, slice.partition);
  const stateItem = await deps.store.get(stateKey);
  const current = readAccumulator(stateItem);
  lap('stateRead');
  const summaryKey = batchKey(analysis.id, receivedAt, batchId);
  // Only records beyond everything applied so far — including earlier records of this very batch,
  // which a resumed replay may have sent twice.
  let highest = current?.lastSequence ?? -1;
  const fresh = group.records.filter((record) => {
    if (record.sequence <= highest) return false;
    highest = record.sequence;
    return true;
  });
  if (fresh.length === 0) {
    // Everything was applied before. If this very batch was the last one applied (the trigger
    // retrying after a failure late in the previous attempt), publish its summary again, same id.
    const stored =
      current?.lastBatchId === batchId && current.lastSummarySk !== undefined
        ? await deps.store.get({ pk: summaryKey.pk, sk: current.lastSummarySk })
        : undefined;
    if (stored) {
      await deps.publisher.publish(deps.topics.clean, [
        { key: batchId, value: JSON.stringify(stored.payload) },
      ]);
    }
    return { batchId, analysis: analysis.id, run, inputRows: 0, rejectedRows: 0, duplicate: true };
  }

  // Time buckets by producer timestamp: the dashboard's "per batch" view of the source job.
  const bucketMs = deps.bucketSeconds * 1000;
  const buckets = new Map<number, typeof fresh>();
  for (const record of fresh) {
    const start = Math.floor(record.input.timestampMs / bucketMs) * bucketMs;
    const bucket = buckets.get(start);
    if (bucket) bucket.push(record);
    else buckets.set(start, [record]);
  }

  // A rollup may already hold a prefix of its bucket's records (a crash after the rollup write and
  // before the state write, then a redelivery): those go into the state, not again into the rollup.
  const rollups = await Promise.all(
    [...buckets.keys()].map(async (start) => {
      const key = rollupKey(analysis.id, start, run, slice.topic, slice.partition);
      const item = await deps.store.get(key);
      return [start, { key, item, current: readAccumulator(item) }] as const;
    }),
  );
  const rollupByStart = new Map(rollups);
  lap('rollupRead');

  let state = current ? analysis.stateCodec.decode(current.data) : analysis.emptyState();
  let total = analysis.emptyBatch();
  let inputRows = 0;
  const rejections: Rejection[] = [];
  const perBucket: {
    start: number;
    batch: unknown;
    rows: number;
    rejected: number;
    lastSequence: number;
    rollup: RollupRead;
  }[] = [];
  let eventTime: { minMs: number; maxMs: number; watermarkMs: number } | undefined;
  const apply = (records: readonly { readonly input: RecordInput }[]) => {
    const step = analysis.applyBatch(
      state,
      records.map((record) => record.input),
    );
    state = step.state;
    total = analysis.mergeBatches(total, step.batch);
    inputRows += step.inputRows;
    rejections.push(...step.rejections);
    if (step.eventTime) {
      eventTime = eventTime
        ? {
            minMs: Math.min(eventTime.minMs, step.eventTime.minMs),
            maxMs: Math.max(eventTime.maxMs, step.eventTime.maxMs),
            watermarkMs: Math.max(eventTime.watermarkMs, step.eventTime.watermarkMs),
          }
        : step.eventTime;
    }
    return step;
  };
  for (const [start, records] of buckets) {
    const rollup = rollupByStart.get(start);
    if (!rollup) throw new Error(`no rollup read for bucket ${start}`);
    const inRollup = rollup.current?.lastSequence ?? -1;
    const already = records.filter((record) => record.sequence <= inRollup);
    const notYet = records.filter((record) => record.sequence > inRollup);
    if (already.length > 0) apply(already);
    if (notYet.length === 0) continue;
    const step = apply(notYet);
    perBucket.push({
      start,
      batch: step.batch,
      rows: step.inputRows,
      rejected: step.rejections.length,
      lastSequence: Math.max(...notYet.map((record) => record.sequence)),
      rollup,
    });
  }
  lap('apply');

  const expiresAt = Math.floor(receivedAt / 1000) + deps.batchTtlSeconds;
  for (const bucket of perBucket) {
    await addToRollup(
      deps,
      analysis,
      bucket.rollup,
      bucket.batch,
      bucket.lastSequence,
      bucket.rows,
      bucket.rejected,
      expiresAt,
    );
  }
  lap('rollupWrite');

  if (rejections.length > 0) {
    await deps.publisher.publish(
      deps.topics.dead,
      rejections.map((rejection) =>
        deadLetter(rejection, { topic: slice.topic, batchId, analysis: analysis.id, run }),
      ),
    );
  }
  lap('deadLetters');

  const offsets = fresh.map((record) => Number(record.input.offset));
  const timestamps = fresh.map((record) => record.input.timestampMs);
  const firstTimestamp = Math.min(...timestamps);
  const lastTimestamp = Math.max(...timestamps);
  const processingMs = Math.max(deps.now() - receivedAt, 0.001);
  const lagsMs = timestamps.map((timestamp) => receivedAt - timestamp);
  const summary: JsonObject = {
    msg_ID: batchId,
    batchId,
    analysis: analysis.id,
    run,
    topic: slice.topic,
    partition: slice.partition,
    ...analysis.summarizeBatch(total),
    rejectedRows: rejections.length,
    rejectedByReason: countByReason(rejections),
    progress: {
      numInputRows: inputRows,
      numInputRecords: fresh.length,
      // Rows over the time the producer took to write them (how fast data arrived).
      inputRowsPerSecond: inputRows / Math.max((lastTimestamp - firstTimestamp) / 1000, 0.001),
      processedRowsPerSecond: (inputRows / processingMs) * 1000,
      startOffset: Math.min(...offsets),
      endOffset: Math.max(...offsets),
      firstRecordTimestampMs: firstTimestamp,
      lastRecordTimestampMs: lastTimestamp,
      receivedAtMs: receivedAt,
      lagMs: {
        min: Math.min(...lagsMs),
        max: Math.max(...lagsMs),
        avg: lagsMs.reduce((sum, lag) => sum + lag, 0) / lagsMs.length,
      },
      buckets: perBucket.map((bucket) => bucket.start),
      ...(eventTime
        ? {
            eventTime: {
              min: new Date(eventTime.minMs).toISOString(),
              max: new Date(eventTime.maxMs).toISOString(),
              watermark: new Date(eventTime.watermarkMs).toISOString(),
            },
          }
        : {}),
      durationMs: { ...timings },
    },
  };
  await deps.store.put({ ...summaryKey, version: 1, payload: summary, expiresAt }, { kind: 'absent' });
  lap('summaryWrite');

  const next: AccumulatorPayload = {
    lastSequence: Math.max(...fresh.map((record) => record.sequence)),
    data: analysis.stateCodec.encode(state),
    rows: (current?.rows ?? 0) + inputRows,
    batches: (current?.batches ?? 0) + 1,
    rejectedRows: (current?.rejectedRows ?? 0) + rejections.length,
    lastBatchId: batchId,
    lastSummarySk: summaryKey.sk,
  };
  const written = await deps.store.put(
    { ...stateKey, version: (stateItem?.version ?? 0) + 1, payload: accumulatorJson(next) },
    stateItem ? { kind: 'version', version: stateItem.version } : { kind: 'absent' },
  );
  if (!written) throw new RetryableError(`concurrent update of ${stateKey.pk}/${stateKey.sk}`);
  lap('stateWrite');

  await deps.publisher.publish(deps.topics.clean, [{ key: batchId, value: JSON.stringify(summary) }]);
  return {
    batchId,
    analysis: analysis.id,
    run,
    inputRows,
    rejectedRows: rejections.length,
    duplicate: false,
  };
}

/**
 * Processes every slice of one trigger event. Throws only on infrastructure faults (the trigger then
 * delivers the whole event again, which the sequence guards make harmless).
 */
export async function aggregateSlices(
  slices: readonly IncomingSlice[],
  deps: AggregateDependencies,
): Promise<BatchOutcome[]> {
  // Different partitions have independent state items: processed concurrently. Slices of one
  // partition (a trigger sends one per partition, a caller may send more) in order.
  const byPartition = new Map<string, IncomingSlice[]>();
  for (const slice of slices) {
    const key = `${slice.topic}\u0000${slice.partition}`;
    const list = byPartition.get(key);
    if (list) list.push(slice);
    else byPartition.set(key, [slice]);
  }
  const perPartition = await Promise.all(
    [...byPartition.values()].map(async (partitionSlices) => {
      const outcomes: BatchOutcome[] = [];
      for (const slice of partitionSlices) outcomes.push(...(await aggregateSlice(slice, deps)));
      return outcomes;
    }),
  );
  return perPartition.flat();
}

/**
 * Counts the records no analysis could take, per topic-partition and reason, so that they show in
 * the API's health and not only in data_dead. They carry no sequence number, so the guard is the
 * offset: partitions are delivered in order, one batch at a time, and a retry repeats offsets
 * already counted. Written after the dead letters (which a retry may publish again, same keys).
 */
async function countUnrouted(
  slice: IncomingSlice,
  rejections: readonly Rejection[],
  deps: AggregateDependencies,
): Promise<void> {
  const key = unroutedKey(slice.topic, slice.partition);
  const item = await deps.store.get(key);
  const current = item && isJsonObject(item.payload) ? item.payload : undefined;
  const lastOffset = typeof current?.lastOffset === 'number' ? current.lastOffset : -1;
  const fresh = rejections.filter((rejection) => Number(rejection.offset) > lastOffset);
  if (fresh.length === 0) return;
  const byReason: Record<string, number> = {};
  const before = current && isJsonObject(current.byReason) ? current.byReason : {};
  for (const [reason, count] of Object.entries(before))
    if (typeof count === 'number') byReason[reason] = count;
  for (const [reason, count] of Object.entries(countByReason(fresh)))
    byReason[reason] = (byReason[reason] ?? 0) + count;
  const payload: JsonObject = {
    topic: slice.topic,
    partition: slice.partition,
    lastOffset: Math.max(lastOffset, ...slice.records.map((record) => record.offset)),
    rows: (typeof current?.rows === 'number' ? current.rows : 0) + fresh.length,
    byReason,
    updatedAtMs: deps.now(),
  };
  const written = await deps.store.put(
    { ...key, version: (item?.version ?? 0) + 1, payload },
    item ? { kind: 'version', version: item.version } : { kind: 'absent' },
  );
  if (!written) throw new RetryableError(`concurrent update of ${key.pk}/${key.sk}`);
}

async function aggregateSlice(slice: IncomingSlice, deps: AggregateDependencies): Promise<BatchOutcome[]> {
  const outcomes: BatchOutcome[] = [];
  if (slice.records.length === 0) return outcomes;
  const receivedAt = deps.now();
  const batchId = batchIdOf(slice);
  const { groups, rejections } = groupByOrigin(slice, deps);
  if (rejections.length > 0) {
    await deps.publisher.publish(
      deps.topics.dead,
      rejections.map((rejection) =>
        deadLetter(rejection, { topic: slice.topic, batchId, analysis: rejection.analysis, run: undefined }),
      ),
    );
    await countUnrouted(slice, rejections, deps);
    outcomes.push({
      batchId,
      analysis: undefined,
      run: undefined,
      inputRows: rejections.length,
      rejectedRows: rejections.length,
      duplicate: false,
    });
  }
  for (const group of groups) {
    // Several (analysis, run) groups in one slice share its offsets: suffix the id to keep it unique.
    const id = groups.length > 1 ? `${batchId}~${group.analysis.id}~${group.run}` : batchId;
    outcomes.push(await processGroup(slice, group, id, deps, receivedAt));
  }
  return outcomes;
}
