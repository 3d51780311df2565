/**
 * Reconcile: checks the pipeline's exactly-once claim on the user's own data. For every replayed
 * object (or one run) it reads the object back, folds it offline exactly as the pipeline cut it, and
 * compares the result, quantity by quantity, with the live cumulative state the API serves.
 *
 *   replay checkpoint (pk `replay`) ─▶ the object (same ETag) ─▶ rows in the replay's order (file, or
 *   sorted by event time) ─▶ each row to the partition replay gave it ─▶ one state per partition
 *   (applyBatch, one record per row) ─▶ mergeStates ─▶ summarizeState
 *                                                          ═ compared with ═
 *   state items (pk `state#<analysis>`, the run's partitions) ─▶ summaryOfStateItems (what the API serves)
 *
 * Why per partition: an analysis' cumulative result does not depend on where batches are cut (the
 * seam's contract, core/analysis.ts), so batch boundaries need not be known; but it may depend on the
 * order of rows within a partition, so rows are spread as replay spreads them: the fixed partition of
 * metadata `partition`, else Kafka's partitioner on the row's key, an unkeyed row by its position.
 * The same rows folded as one stream (`driftline analyze`) are compared with the merged partitions
 * too, and each quantity that differs there is named with the analysis' reason
 * (`Analysis.orderDependentFields`); that comparison informs, it is not a failure.
 *
 * A run is not compared while its replay runs, or while the live state has fewer rows than the replay
 * sent (aggregating); one whose object is gone (deleted, or replaced by a new version under the same
 * key), or that the state holds without a checkpoint, is reported and cannot be checked. Descriptions
 * joined from reference data (sf's radio codes) are not state: both sides are compared before the join.
 *
 * Pure over the ports: the object source and the item store (DynamoDB + S3 overflow, or fakes).
 */
import type { SummaryAnswer } from '../contracts/api.ts';
import type { AnyAnalysis, Json, JsonObject, RecordInput, WireFormat } from '../core/analysis.ts';
import { isJsonObject } from '../core/analysis.ts';
import { type ItemStore, ObjectNotFoundError, type ObjectSource, type StoredItem } from './ports.ts';
import { replayProgressList, runOfStateSk, summaryOfStateItems } from './query.ts';
import { MAX_RECORDED_DIFFERENCES, type ReconcileRecord, reconcileKey } from './reconcile-record.ts';
import type { ReplayProgress } from './replay/checkpoint.ts';
import { sortByEventTime } from './replay/event-time-order.ts';
import { eventTimeOf, objectRows } from './replay/event-time-replay.ts';
import { rowPartition } from './replay/row-partition.ts';

/** The object a run was replayed from. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
}

/** One quantity: the live value, the offline one, and where they differ. */
export interface QuantityCheck {
  readonly name: string;
  readonly live: Json | undefined;
  readonly offline: Json | undefined;
  readonly equal: boolean;
  /** Scalar values inside (1 for a number or a string). */
  readonly values: number;
  /** Of those, how many differ (or are on one side only). */
  readonly differing: number;
  /** The first difference inside, e.g. `crime_types[3].count`. */
  readonly first?: {
    readonly path: string;
    readonly live: Json | undefined;
    readonly offline: Json | undefined;
  };
}

/** A quantity the merged partitions give otherwise than one stream of the same rows. */
export interface OneStreamNote {
  readonly name: string;
  readonly partitioned: Json | undefined;
  readonly oneStream: Json | undefined;
  /** The analysis' reason; undefined when it names none (a quantity that should not differ). */
  readonly why: string | undefined;
}

interface RunBase {
  readonly analysis: string;
  readonly run: string;
  /** Rows the live state holds for the run. */
  readonly liveRows: number;
}

export type RunCheck =
  | (RunBase & {
      readonly kind: 'compared';
      readonly object: ObjectRef;
      readonly order: 'file' | 'event-time';
      readonly partitions: number;
      readonly rows: number;
      readonly equal: boolean;
      readonly quantities: readonly QuantityCheck[];
      /** Undefined when the run used one partition (it is one stream). */
      readonly oneStream: readonly OneStreamNote[] | undefined;
    })
  /** The replay is still sending rows: nothing to compare yet. */
  | (RunBase & { readonly kind: 'running'; readonly object: ObjectRef; readonly rowsSent: number })
  /** The replay is done, the aggregate has not counted every row yet. */
  | (RunBase & { readonly kind: 'aggregating'; readonly object: ObjectRef; readonly rowsSent: number })
  /** Refused before any row was sent: there is nothing to compare. */
  | (RunBase & { readonly kind: 'refused'; readonly object: ObjectRef; readonly message: string })
  /** The state holds the run, but its object is not there as it was replayed. */
  | (RunBase & {
      readonly kind: 'object-gone';
      readonly object: ObjectRef | undefined;
      readonly reason: string;
    });

export type RunKind = RunCheck['kind'];

/** Where reconcile is in a long object. */
export interface ReconcileProgress {
  readonly run: string;
  readonly object: ObjectRef;
  /** Reading (and, in event-time order, sorting) the object, then folding the sorted rows. */
  readonly phase: 'reading' | 'sorting' | 'folding';
  readonly rows: number;
  /** Rows the replay sent (the total to expect). */
  readonly totalRows: number;
}

export interface ReconcileDependencies {
  readonly store: ItemStore;
  readonly source: ObjectSource;
  readonly analyses: readonly AnyAnalysis[];
  /** Told every PROGRESS_ROWS rows. */
  readonly onProgress?: (progress: ReconcileProgress) => void;
  /** Where an event-time sort puts its run files (default: the system's temporary directory). */
  readonly tempDir?: string;
}

export interface ReconcileSelection {
  /** Only this analysis (its id). */
  readonly analysis?: string;
  /** Only these runs. */
  readonly runs?: ReadonlySet<string>;
}

export const PROGRESS_ROWS = 20_000;
/** Rows gathered per partition before they are folded (the cut does not matter: the seam's contract). */
const FOLD_ROWS = 5_000;

/** Checks every selected run: compared, or why it cannot be yet. Runs in analysis, then run order. */
export async function reconcile(
  selection: ReconcileSelection,
  deps: ReconcileDependencies,
): Promise<RunCheck[]> {
  const analyses = deps.analyses.filter(
    (analysis) => selection.analysis === undefined || analysis.id === selection.analysis,
  );
  if (selection.analysis !== undefined && analyses.length === 0) {
    throw new RangeError(
      `unknown analysis "${selection.analysis}"; known: ${deps.analyses.map((a) => a.id).join(', ')}`,
    );
  }
  const wanted = (run: string) => selection.runs === undefined || selection.runs.has(run);
  const checkpoints = (await replayProgressList(deps.store)).filter((progress) => wanted(progress.run));
  const checks: RunCheck[] = [];
  for (const analysis of analyses) {
    const stateItems = await deps.store.query(`state#${analysis.id}`);
    const runsInState = new Set(stateItems.map((item) => runOfStateSk(item.sk)).filter(wanted));
    const replays = checkpoints.filter((progress) => progress.analysis === analysis.id);
    for (const progress of replays.sort((a, b) => a.run.localeCompare(b.run))) {
      runsInState.delete(progress.run);
      checks.push(await checkRun(analysis, progress, stateItems, deps));
    }
    for (const run of [...runsInState].sort()) {
      checks.push({
        kind: 'object-gone',
        analysis: analysis.id,
        run,
        object: undefined,
        liveRows: summaryOfStateItems(analysis, stateItems, run).rows,
        reason:
          'no replay checkpoint names this run any more: its object was replaced by a new upload under ' +
          'the same key (or the checkpoint was removed), so its rows cannot be read back',
      });
    }
  }
  return checks;
}

async function checkRun(
  analysis: AnyAnalysis,
  progress: ReplayProgress,
  stateItems: readonly StoredItem[],
  deps: ReconcileDependencies,
): Promise<RunCheck> {
  const live = summaryOfStateItems(analysis, stateItems, progress.run);
  const object = { bucket: progress.bucket, key: progress.key };
  const base = { analysis: analysis.id, run: progress.run, liveRows: live.rows, object };
  if (progress.status === 'running') return { ...base, kind: 'running', rowsSent: progress.rowsSent };
  if (progress.status === 'refused' && progress.rowsSent === 0 && live.rows === 0) {
    return { ...base, kind: 'refused', message: progress.message ?? 'refused' };
  }
  if (live.rows < progress.rowsSent) return { ...base, kind: 'aggregating', rowsSent: progress.rowsSent };
  const gone = await goneReason(deps.source, progress);
  if (gone !== undefined) return { ...base, kind: 'object-gone', reason: gone };
  const offline = await foldOffline(analysis, progress, deps);
  const quantities = compareSummaries(live, offline);
  return {
    ...base,
    kind: 'compared',
    order: progress.order ?? 'file',
    partitions: offline.partitions,
    rows: offline.rows,
    equal: quantities.every((quantity) => quantity.equal),
    quantities,
    oneStream: offline.oneStream === undefined ? undefined : oneStreamNotes(analysis, offline),
  };
}

/** Why the object as replayed cannot be read any more, or undefined when it can. */
async function goneReason(source: ObjectSource, progress: ReplayProgress): Promise<string | undefined> {
  const where = `s3://${progress.bucket}/${progress.key}`;
  try {
    const info = await source.head(progress.bucket, progress.key);
    if (info.etag.replaceAll('"', '') === progress.etag.replaceAll('"', '')) return undefined;
    return `${where} is another version now (ETag ${info.etag}, replayed: ${progress.etag}), and it has not been replayed yet`;
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return `${where} no longer exists`;
    throw error;
  }
}

// --- the offline fold ------------------------------------------------------------------------------

interface OfflineRun {
  readonly rows: number;
  readonly rejectedRows: number;
  readonly partitions: number;
  readonly summary: JsonObject;
  /** The same rows folded as one stream; undefined when the replay used one partition. */
  readonly oneStream: JsonObject | undefined;
}

/** One state folded from rows, a chunk at a time. */
class StateFold {
  private state: unknown;
  private pending: RecordInput[] = [];
  rows = 0;
  rejectedRows = 0;

  constructor(
    private readonly analysis: AnyAnalysis,
    private readonly partition: number,
    private readonly wireFormat: WireFormat,
  ) {
    this.state = analysis.emptyState();
  }

  add(row: Uint8Array, index: number): void {
    this.pending.push({
      value: row,
      wireFormat: this.wireFormat,
      partition: this.partition,
      offset: String(index),
      timestampMs: 0,
    });
    this.rows += 1;
    if (this.pending.length >= FOLD_ROWS) this.fold();
  }

  private fold(): void {
    if (this.pending.length === 0) return;
    const step = this.analysis.applyBatch(this.state, this.pending);
    this.state = step.state;
    this.rejectedRows += step.rejections.length;
    this.pending = [];
  }

  /** The state as the API reads it: encoded to JSON text and decoded, as a stored state item. */
  finish(): unknown {
    this.fold();
    const stored: Json = JSON.parse(JSON.stringify(this.analysis.stateCodec.encode(this.state)));
    return this.analysis.stateCodec.decode(stored);
  }
}

/** The partition replay gives a row (replay/row-partition.ts, the same rule). */
function partitionOfRow(
  analysis: AnyAnalysis,
  progress: ReplayProgress,
  wireFormat: WireFormat,
  partitions: number,
): (row: Uint8Array, index: number) => number {
  const fixed = progress.fixedPartition;
  if (fixed !== undefined) return () => fixed;
  return (row, index) =>
    rowPartition(analysis.replay.partitionKey(row, wireFormat), index, partitions, undefined);
}

async function* counted(
  rows: AsyncIterable<Uint8Array>,
  report: (rows: number) => void,
): AsyncGenerator<Uint8Array> {
  let count = 0;
  for await (const row of rows) {
    count += 1;
    if (count % PROGRESS_ROWS === 0) report(count);
    yield row;
  }
}

/** The rows of the run's object in the order the replay sent them. */
async function replayedRows(
  analysis: AnyAnalysis,
  progress: ReplayProgress,
  deps: ReconcileDependencies,
): Promise<{ rows: AsyncIterable<Uint8Array>; wireFormat: WireFormat }> {
  const { bucket, key } = progress;
  const { framer, wireFormat } = analysis.replay.framerFor(key.replace(/\.gz$/i, ''));
  const raw = await deps.source.read(bucket, key);
  const report = (phase: ReconcileProgress['phase']) => (rows: number) =>
    deps.onProgress?.({
      run: progress.run,
      object: { bucket, key },
      phase,
      rows,
      totalRows: progress.rowsSent,
    });
  const read = objectRows(raw, { framer, gzipped: /\.gz$/i.test(key) });
  if (progress.order !== 'event-time') return { rows: counted(read, report('reading')), wireFormat };
  const sorted = await sortByEventTime(counted(read, report('sorting')), {
    eventTimeMs: eventTimeOf(analysis, wireFormat),
    ...(deps.tempDir === undefined ? {} : { tempDir: deps.tempDir }),
  });
  return { rows: counted(sorted.rows(), report('folding')), wireFormat };
}

async function foldOffline(
  analysis: AnyAnalysis,
  progress: ReplayProgress,
  deps: ReconcileDependencies,
): Promise<OfflineRun> {
  const partitions = progress.sequences.length;
  const { rows, wireFormat } = await replayedRows(analysis, progress, deps);
  const partitionOf = partitionOfRow(analysis, progress, wireFormat, partitions);
  const folds = new Map<number, StateFold>();
  const oneStream =
    progress.fixedPartition === undefined ? new StateFold(analysis, 0, wireFormat) : undefined;
  // A replay refused part-way sent its first rowsSent rows; a finished one, every row.
  const limit = progress.status === 'refused' ? progress.rowsSent : Number.POSITIVE_INFINITY;
  let index = 0;
  for await (const row of rows) {
    if (index >= limit) break;
    const partition = partitionOf(row, index);
    let fold = folds.get(partition);
    if (!fold) {
      fold = new StateFold(analysis, partition, wireFormat);
      folds.set(partition, fold);
    }
    fold.add(row, index);
    oneStream?.add(row, index);
    index += 1;
    // Stop at once: reading on would reach what made the replay refuse the object.
    if (index >= limit) break;
  }
  // States in the order the store lists their items (sort keys `<run>#<topic>#<partition>`).
  const ordered = [...folds.entries()].sort(([a], [b]) => (String(a) < String(b) ? -1 : 1));
  const states = ordered.map(([, fold]) => fold.finish());
  return {
    rows: index,
    rejectedRows: ordered.reduce((sum, [, fold]) => sum + fold.rejectedRows, 0),
    partitions: ordered.length,
    summary: analysis.summarizeState(analysis.mergeStates(states)),
    oneStream: oneStream === undefined ? undefined : analysis.summarizeState(oneStream.finish()),
  };
}

// --- comparing -------------------------------------------------------------------------------------

/** Scalars of a JSON value by path (`a.b[2].c`); an empty object or array is a value of its own. */
function flatten(value: Json | undefined, path: string, into: Map<string, Json | undefined>): void {
  if (Array.isArray(value) && value.length > 0) {
    value.forEach((item, index) => {
      flatten(item, `${path}[${index}]`, into);
    });
  } else if (isJsonObject(value) && Object.keys(value).length > 0) {
    for (const [name, item] of Object.entries(value)) flatten(item, path ? `${path}.${name}` : name, into);
  } else {
    into.set(path, value);
  }
}

function sameScalar(a: Json | undefined, b: Json | undefined): boolean {
  if (Array.isArray(a) || Array.isArray(b) || isJsonObject(a) || isJsonObject(b)) {
    return JSON.stringify(a) === JSON.stringify(b);
  }
  return a === b;
}

/** Compares one quantity leaf by leaf. */
export function compareQuantity(
  name: string,
  live: Json | undefined,
  offline: Json | undefined,
): QuantityCheck {
  const liveLeaves = new Map<string, Json | undefined>();
  const offlineLeaves = new Map<string, Json | undefined>();
  flatten(live, name, liveLeaves);
  flatten(offline, name, offlineLeaves);
  const paths = [...new Set([...offlineLeaves.keys(), ...liveLeaves.keys()])];
  const differing = paths.filter(
    (path) =>
      liveLeaves.has(path) !== offlineLeaves.has(path) ||
      !sameScalar(liveLeaves.get(path), offlineLeaves.get(path)),
  );
  const firstPath = differing[0];
  return {
    name,
    live,
    offline,
    equal: differing.length === 0,
    values: paths.length,
    differing: differing.length,
    ...(firstPath === undefined
      ? {}
      : {
          first: { path: firstPath, live: liveLeaves.get(firstPath), offline: offlineLeaves.get(firstPath) },
        }),
  };
}

function summaryObject(summary: Json): JsonObject {
  return isJsonObject(summary) ? summary : {};
}

/** Rows, rejected rows and partitions, then every field of the summary, offline's order first. */
function compareSummaries(live: SummaryAnswer, offline: OfflineRun): QuantityCheck[] {
  const liveSummary = summaryObject(live.summary);
  const names = [...new Set([...Object.keys(offline.summary), ...Object.keys(liveSummary)])];
  return [
    compareQuantity('rows', live.rows, offline.rows),
    compareQuantity('rejectedRows', live.rejectedRows, offline.rejectedRows),
    compareQuantity('partitions', live.partitions, offline.partitions),
    ...names.map((name) => compareQuantity(name, liveSummary[name], offline.summary[name])),
  ];
}

function oneStreamNotes(analysis: AnyAnalysis, offline: OfflineRun): OneStreamNote[] {
  const oneStream = offline.oneStream ?? {};
  const names = [...new Set([...Object.keys(offline.summary), ...Object.keys(oneStream)])];
  return names
    .filter((name) => !compareQuantity(name, offline.summary[name], oneStream[name]).equal)
    .map((name) => ({
      name,
      partitioned: offline.summary[name],
      oneStream: oneStream[name],
      why: analysis.orderDependentFields?.[name],
    }));
}

// --- the record for the dashboard -------------------------------------------------------------------

/** The record of a compared run (reconcile-record.ts). */
export function recordOf(
  check: Extract<RunCheck, { kind: 'compared' }>,
  checkedAtMs: number,
): ReconcileRecord {
  return {
    ...check.object,
    analysis: check.analysis,
    run: check.run,
    checkedAtMs,
    equal: check.equal,
    rows: check.rows,
    quantities: check.quantities.length,
    differences: check.quantities
      .filter((quantity) => !quantity.equal)
      .map((quantity) => quantity.name)
      .slice(0, MAX_RECORDED_DIFFERENCES),
  };
}

/** Writes (or replaces) the object's last result, for the dashboard's badge. */
export async function writeRecord(store: ItemStore, record: ReconcileRecord): Promise<void> {
  const key = reconcileKey(record.bucket, record.key);
  const existing = await store.get(key);
  await store.put({ ...key, version: (existing?.version ?? 0) + 1, payload: { ...record } }, undefined);
}
