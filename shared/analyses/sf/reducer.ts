/**
 * Folds one batch of records (one topic-partition slice, in offset order) into a partition's `sf`
 * state. Per row, in order:
 *
 * 1. parse (row-parser.ts): rejected → a Rejection; a kept field null/missing/empty → `droppedEmpty`;
 * 2. event-time clock: the row is *late* when its event time is before the watermark at its arrival,
 *    watermark = (max event time seen before it in this partition) − 5 min; then the row moves the max;
 * 3. deduplicate on the triple (exact: against every key ever seen in the partition; bounded: rows
 *    older than watermark − horizon skip the check and are counted as `beyondDedupHorizon`);
 * 4. a new triple counts once for its crime type and its disposition, whatever its lateness (the source
 *    job's watermark bounds nothing), and — unless late — once in each of its two sliding windows; a
 *    name beyond the caps on distinct names (limits.ts) is counted under OTHER;
 * 5. when the watermark passes a window's end, the window is final: it leaves the open set (memory stays
 *    bounded) for a short list of recently closed windows.
 *
 * The watermark advances row by row rather than between batches (Spark advances it between
 * triggers). So every count depends only on the order of rows in the partition, never on where batches
 * are cut, and evicting (windows, bounded dedup keys) is never observable in the counts.
 */
import type { BatchStep, RecordInput, Rejection } from '../../core/analysis.ts';
import type { SfConfig } from './config.ts';
import { admit, type Counts, copyWindows, increment, incrementWindow, type WindowCounts } from './counts.ts';
import type { DedupTable } from './dedup-table.ts';
import { CLOSED_WINDOWS_KEPT, WATERMARK_DELAY_MS, WINDOW_SIZE_MS, WINDOW_SLIDE_MS } from './fields.ts';
import { MAX_CRIME_TYPES, MAX_DISPOSITIONS, MAX_WINDOW_CRIME_TYPES } from './limits.ts';
import { SF_REJECTION_REASONS, type SfRejectionReason, sfRejection } from './rejection.ts';
import { type Call, parseRow } from './row-parser.ts';
import {
  addCounters,
  addReasons,
  type EventTimeRange,
  type MutableCounters,
  type SfBatch,
  type SfState,
  zeroCounters,
} from './state.ts';

const decoder = new TextDecoder();
const LF = '\n';

/** The starts of the sliding windows holding event time `ms`, latest first. */
export function windowStartsOf(ms: number): number[] {
  const latest = Math.floor(ms / WINDOW_SLIDE_MS) * WINDOW_SLIDE_MS;
  const starts: number[] = [];
  for (let start = latest; start > ms - WINDOW_SIZE_MS; start -= WINDOW_SLIDE_MS) starts.push(start);
  return starts;
}

/** Mutable working copy of one partition's state for the duration of one batch. */
class BatchRun {
  private readonly counters: MutableCounters = zeroCounters();
  private readonly rejectedByReason: Record<string, number> = {};
  private readonly rejections: Rejection[] = [];
  private readonly batchTypes: Counts = new Map();
  private readonly batchDispositions: Counts = new Map();
  private readonly batchWindows: WindowCounts = new Map();
  private readonly crimeTypes: Counts;
  private readonly dispositions: Counts;
  private readonly openWindows: WindowCounts;
  private readonly closedWindows: WindowCounts;
  private dedup: DedupTable;
  private dedupOwned = false;
  private oldestOpenStart: number;
  private minEventMs: number;
  private maxEventMs: number;
  private lastEventMs: number;
  private batchMinMs = Number.POSITIVE_INFINITY;
  private batchMaxMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly state: SfState,
    private readonly config: SfConfig,
  ) {
    this.crimeTypes = new Map(state.crimeTypes);
    this.dispositions = new Map(state.dispositions);
    this.openWindows = copyWindows(state.openWindows);
    this.closedWindows = copyWindows(state.closedWindows);
    this.oldestOpenStart = Math.min(...this.openWindows.keys(), Number.POSITIVE_INFINITY);
    this.dedup = state.dedup;
    this.minEventMs = state.minEventMs;
    this.maxEventMs = state.maxEventMs;
    this.lastEventMs = state.lastEventMs;
  }

  readRecord(record: RecordInput): void {
    if (record.wireFormat !== 'text') {
      this.counters.rowsRead++;
      this.reject(
        SF_REJECTION_REASONS.wireFormat,
        `sf rows are JSON text; this record was sent as ${record.wireFormat}`,
        decoder.decode(record.value.subarray(0, 400)),
        record,
        0,
      );
      return;
    }
    const text = decoder.decode(record.value);
    if (!text.includes(LF)) {
      if (text.trim() === '') this.rejectEmptyRecord(record);
      else this.readRow(text, record, 0);
      return;
    }
    let rows = 0;
    text.split(LF).forEach((line, lineIndex) => {
      if (line.trim() === '') return;
      rows++;
      this.readRow(line.endsWith('\r') ? line.slice(0, -1) : line, record, lineIndex);
    });
    if (rows === 0) this.rejectEmptyRecord(record);
  }

  private readRow(text: string, record: RecordInput, rowIndex: number): void {
    this.counters.rowsRead++;
    const parsed = parseRow(text);
    if (parsed.kind === 'call') this.accept(parsed.call);
    else if (parsed.kind === 'empty') this.counters.droppedEmpty++;
    else this.reject(parsed.reason, parsed.detail, text, record, rowIndex);
  }

  private accept(call: Call): void {
    const eventMs = call.eventMs;
    const counters = this.counters;
    if (eventMs < this.lastEventMs) counters.outOfOrderRows++;
    this.lastEventMs = eventMs;
    if (eventMs < this.batchMinMs) this.batchMinMs = eventMs;
    if (eventMs > this.batchMaxMs) this.batchMaxMs = eventMs;
    if (eventMs < this.minEventMs) this.minEventMs = eventMs;

    const watermarkMs = this.maxEventMs - WATERMARK_DELAY_MS;
    const late = eventMs < watermarkMs;
    let isNew: boolean;
    const cutoffMs = watermarkMs - this.config.horizonMs;
    if (eventMs < cutoffMs) {
      counters.beyondDedupHorizon++;
      isNew = true;
    } else {
      const dedup = this.writableDedup();
      if (dedup.keepsTimes && dedup.full) dedup.evictBefore(cutoffMs);
      isNew = dedup.add(call.hash.hi, call.hash.lo, eventMs);
    }

    if (!isNew) {
      counters.duplicates++;
    } else {
      counters.uniqueRows++;
      // Names beyond the caps are counted under OTHER (limits.ts). Whether a name fits depends on the
      // partition's state only, so the batch's names are the state's and counts stay cut-independent.
      const crimeType = admit(this.crimeTypes, call.crimeType, MAX_CRIME_TYPES);
      const disposition = admit(this.dispositions, call.disposition, MAX_DISPOSITIONS);
      increment(this.crimeTypes, crimeType);
      increment(this.batchTypes, crimeType);
      increment(this.dispositions, disposition);
      increment(this.batchDispositions, disposition);
      if (late) {
        counters.lateRows++;
      } else {
        for (const start of windowStartsOf(eventMs)) {
          // An on-time row's windows are all open (none the watermark has passed): decide there.
          const inWindow = admit(this.openWindows.get(start), crimeType, MAX_WINDOW_CRIME_TYPES);
          incrementWindow(this.openWindows, start, inWindow);
          incrementWindow(this.batchWindows, start, inWindow);
          if (start < this.oldestOpenStart) this.oldestOpenStart = start;
        }
      }
    }

    if (eventMs > this.maxEventMs) {
      this.maxEventMs = eventMs;
      this.closeWindows(eventMs - WATERMARK_DELAY_MS);
    }
  }

  /** Windows whose end the watermark has reached are final: no on-time row can enter them. */
  private closeWindows(watermarkMs: number): void {
    if (this.oldestOpenStart + WINDOW_SIZE_MS > watermarkMs) return;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [start, counts] of this.openWindows) {
      if (start + WINDOW_SIZE_MS <= watermarkMs) {
        this.openWindows.delete(start);
        this.closedWindows.set(start, counts);
        if (this.closedWindows.size > CLOSED_WINDOWS_KEPT) {
          this.closedWindows.delete(Math.min(...this.closedWindows.keys()));
        }
      } else if (start < oldest) {
        oldest = start;
      }
    }
    this.oldestOpenStart = oldest;
  }

  private writableDedup(): DedupTable {
    if (!this.dedupOwned) {
      this.dedup = this.dedup.clone();
      this.dedupOwned = true;
    }
    return this.dedup;
  }

  private rejectEmptyRecord(record: RecordInput): void {
    this.counters.rowsRead++;
    this.reject(SF_REJECTION_REASONS.emptyRecord, 'record value holds no row', '', record, 0);
  }

  private reject(
    reason: SfRejectionReason,
    detail: string,
    row: string,
    record: RecordInput,
    rowIndex: number,
  ): void {
    this.rejectedByReason[reason] = (this.rejectedByReason[reason] ?? 0) + 1;
    this.rejections.push(sfRejection(reason, detail, row, record, rowIndex));
  }

  finish(): BatchStep<SfState, SfBatch> {
    const watermarkMs = this.maxEventMs - WATERMARK_DELAY_MS;
    // Bounded: drop keys no row can be checked against any more (never observable in the counts).
    const cutoffMs = watermarkMs - this.config.horizonMs;
    if (this.dedup.keepsTimes && this.dedup.earliestTime < cutoffMs)
      this.writableDedup().evictBefore(cutoffMs);
    const eventTime: EventTimeRange | null =
      this.batchMinMs <= this.batchMaxMs
        ? { minMs: this.batchMinMs, maxMs: this.batchMaxMs, watermarkMs }
        : null;
    const counters: MutableCounters = { ...this.counters };
    const state: SfState = {
      counters: addCounters(this.state.counters, counters),
      rejectedByReason: addReasons(this.state.rejectedByReason, this.rejectedByReason),
      crimeTypes: this.crimeTypes,
      dispositions: this.dispositions,
      dedup: this.dedup,
      openWindows: this.openWindows,
      closedWindows: this.closedWindows,
      minEventMs: this.minEventMs,
      maxEventMs: this.maxEventMs,
      lastEventMs: this.lastEventMs,
    };
    const batch: SfBatch = {
      counters,
      rejectedByReason: this.rejectedByReason,
      crimeTypes: this.batchTypes,
      dispositions: this.batchDispositions,
      windows: this.batchWindows,
      eventTime,
    };
    return {
      state,
      batch,
      rejections: this.rejections,
      inputRows: counters.rowsRead,
      ...(eventTime ? { eventTime } : {}),
    };
  }
}

/** `applyBatch` of an `sf` analysis instance. Pure: `state` is not modified, the result is new. */
export function createApplyBatch(
  config: SfConfig,
): (state: SfState, records: readonly RecordInput[]) => BatchStep<SfState, SfBatch> {
  return (state, records) => {
    const run = new BatchRun(state, config);
    for (const record of records) run.readRecord(record);
    return run.finish();
  };
}
