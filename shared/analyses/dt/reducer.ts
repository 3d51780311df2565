/**
 * Folds one batch of records (one topic-partition slice, in offset order) into the `dt` counters.
 *
 * Two passes, no per-row allocation:
 * 1. read every row straight from the record bytes (text or packed words), validate it, count
 *    ancillary/auxiliary/scintillator rows, and append each chamber hit to columnar typed arrays
 *    together with the group number of its orbit; the earliest scintillator time of each orbit is
 *    kept per group. Rows are not sorted by ORBIT_CNT, so the scintillator of an orbit may come after
 *    its hits: that is why the histograms wait for pass 2.
 * 2. walk the hits once: per-chamber counts and occupancy, the set of active channels per
 *    (orbit, chamber) as a 64-bit mask (two uint32), and for orbits with a scintillator the gated
 *    occupancy and the drift time; then walk the orbits once for the multiplicity histogram.
 *
 * Times within an orbit are differences of (BX, TDC) counters in thirtieths of a ns (see
 * detector.ts), never of the ~3·10^14 ns absolute time, so a drift time is exact.
 *
 * An orbit split across two batches. Replay keys records by ORBIT_CNT, so all rows of an orbit go to
 * one partition, in order; a split can therefore only happen at a batch boundary of that partition
 * (the trigger cut the slice in the middle of the orbit's rows). Each batch then sees a partial orbit:
 * - the multiplicity histogram counts it twice, once per batch, each with the channels that batch saw
 *   (two small multiplicities instead of one larger one), and `orbitsWithHits` counts it twice;
 * - gating and drift times only use a scintillator hit in the same batch: hits in the batch without
 *   it are ungated (missing from the gated occupancy and the drift histogram), and if both batches hold
 *   a scintillator hit, each batch uses its own earliest one.
 * Per-hit quantities (hit counts, occupancy) are unaffected. With ~5 s batches and 89 µs orbits the
 * affected fraction is tiny; merging states never re-joins the halves (state is counters, not rows).
 */
import type { BatchStep, RecordInput, Rejection } from '../../core/analysis.ts';
import {
  bxOf,
  bytesToHex,
  channelOf,
  fpgaOf,
  headOf,
  highHalf,
  lowHalf,
  orbitOf,
  tdcOf,
  WORD_BYTES,
  wordToHex,
} from './binary-word.ts';
import {
  CHAMBER_CHANNELS_PER_FPGA,
  CHAMBER_COUNT,
  CHANNELS_PER_CHAMBER,
  chamberOf,
  FIELD_COUNT,
  FIELD_NAMES,
  HEAD_HIT,
  SCINTILLATOR_CHANNEL,
  SCINTILLATOR_FPGA,
  SCINTILLATOR_OFFSET_UNITS,
  TIME_UNITS_PER_BX,
  TIME_UNITS_PER_TDC,
} from './detector.ts';
import { DRIFT_BINS, DRIFT_OVERFLOW, DRIFT_UNDERFLOW, driftBinOf } from './histogram.ts';
import { OrbitIndex } from './orbit-index.ts';
import {
  fieldText,
  outOfRangeDetail,
  quoteTextRow,
  REJECTION_REASONS,
  type RecordCoordinates,
  type RejectionReason,
  ROW_VALID,
  rangeCheck,
  rejection,
} from './rejection.ts';
import {
  PARSE_FIELD_COUNT,
  PARSE_NOT_A_NUMBER,
  PARSE_OK,
  parseFailedField,
  parseFailure,
  parseTextRow,
} from './row-parser.ts';
import { type DtTotals, emptyTotals, mergeTotals } from './totals.ts';

const LF = 0x0a;
const CR = 0x0d;
const NO_SCINTILLATOR = Number.POSITIVE_INFINITY;
const INITIAL_CAPACITY = 4096;

const CHAMBER_OFFSET_UNITS = Float64Array.from(SCINTILLATOR_OFFSET_UNITS);

function grownFloat64(array: Float64Array, needed: number): Float64Array<ArrayBuffer> {
  const grown = new Float64Array(Math.max(needed, array.length * 2));
  grown.set(array);
  return grown;
}
function grownInt32(array: Int32Array, needed: number): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(Math.max(needed, array.length * 2));
  grown.set(array);
  return grown;
}
function grownUint8(array: Uint8Array, needed: number): Uint8Array<ArrayBuffer> {
  const grown = new Uint8Array(Math.max(needed, array.length * 2));
  grown.set(array);
  return grown;
}
function grownUint32(array: Uint32Array, needed: number): Uint32Array<ArrayBuffer> {
  const grown = new Uint32Array(Math.max(needed, array.length * 2));
  grown.set(array);
  return grown;
}

/** Bits set in a uint32. */
function popCount(bits: number): number {
  let value = bits - ((bits >>> 1) & 0x55555555);
  value = (value & 0x33333333) + ((value >>> 2) & 0x33333333);
  return (((value + (value >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/**
 * Scratch space of one batch. A single instance is reused by every call (applyBatch is synchronous
 * and not re-entrant), so steady-state batches allocate only their result.
 */
class BatchReducer {
  private readonly values = new Float64Array(FIELD_COUNT);
  private readonly orbits = new OrbitIndex();

  private hitGroup = new Int32Array(INITIAL_CAPACITY);
  private hitChamber = new Uint8Array(INITIAL_CAPACITY);
  private hitChannel = new Uint8Array(INITIAL_CAPACITY);
  private hitTime = new Float64Array(INITIAL_CAPACITY);
  private hitTotal = 0;

  /** Earliest scintillator time of each orbit group (thirtieths of a ns within the orbit). */
  private groupScintillatorTime = new Float64Array(INITIAL_CAPACITY);
  /** Active channels of each (group, chamber): bits 0–31 and 32–63 of the chamber-local channel. */
  private groupMaskLow = new Uint32Array(INITIAL_CAPACITY * CHAMBER_COUNT);
  private groupMaskHigh = new Uint32Array(INITIAL_CAPACITY * CHAMBER_COUNT);
  private groupsReady = 0;

  private rowsRead = 0;
  private rowsFiltered = 0;
  private auxiliaryHits = 0;
  private scintillatorHits = 0;
  private rejectedByReason: Record<string, number> = {};
  private rejections: Rejection[] = [];

  run(records: readonly RecordInput[]): { batch: DtTotals; rejections: Rejection[] } {
    this.reset();
    for (const record of records) {
      if (record.wireFormat === 'binary') this.readBinaryRecord(record);
      else this.readTextRecord(record);
    }
    const result = { batch: this.finish(), rejections: this.rejections };
    this.rejections = [];
    return result;
  }

  private reset(): void {
    this.orbits.clear();
    this.hitTotal = 0;
    this.groupsReady = 0;
    this.rowsRead = 0;
    this.rowsFiltered = 0;
    this.auxiliaryHits = 0;
    this.scintillatorHits = 0;
    this.rejectedByReason = {};
    this.rejections = [];
  }

  // --- pass 1: rows ----------------------------------------------------------------------------

  private readTextRecord(record: RecordInput): void {
    const bytes = record.value;
    const length = bytes.length;
    const values = this.values;
    let lineStart = 0;
    let rowIndex = 0;
    let rowsInRecord = 0;
    while (lineStart <= length) {
      let lineEnd = bytes.indexOf(LF, lineStart);
      if (lineEnd < 0) lineEnd = length;
      let rowEnd = lineEnd;
      if (rowEnd > lineStart && bytes[rowEnd - 1] === CR) rowEnd--;
      // Empty lines are not rows (the framer drops them too); rowIndex still counts them so it
      // points at the right line of the record.
      if (rowEnd > lineStart) {
        rowsInRecord++;
        this.rowsRead++;
        const code = parseTextRow(bytes, lineStart, rowEnd, values);
        if (code !== PARSE_OK) {
          this.rejectUnparsable(code, bytes, lineStart, rowEnd, record, rowIndex);
        } else {
          const head = values[0] ?? 0;
          const fpga = values[1] ?? 0;
          const channel = values[2] ?? 0;
          const orbit = values[3] ?? 0;
          const bx = values[4] ?? 0;
          const tdc = values[5] ?? 0;
          const check = rangeCheck(head, fpga, channel, orbit, bx, tdc);
          if (check === ROW_VALID) {
            this.accept(head, fpga, channel, orbit, bx, tdc);
          } else {
            const field = check - 1;
            this.reject(
              REJECTION_REASONS.outOfRange,
              outOfRangeDetail(field, values[field] ?? Number.NaN),
              quoteTextRow(bytes, lineStart, rowEnd),
              record,
              rowIndex,
            );
          }
        }
      }
      rowIndex++;
      lineStart = lineEnd + 1;
    }
    if (rowsInRecord === 0) this.rejectEmptyRecord(record, 'text');
  }

  private readBinaryRecord(record: RecordInput): void {
    const bytes = record.value;
    const wordCount = Math.floor(bytes.length / WORD_BYTES);
    for (let word = 0; word < wordCount; word++) {
      const position = word * WORD_BYTES;
      const low = lowHalf(bytes, position);
      const high = highHalf(bytes, position);
      const head = headOf(high);
      const fpga = fpgaOf(high);
      const channel = channelOf(high);
      const orbit = orbitOf(low, high);
      const bx = bxOf(low);
      const tdc = tdcOf(low);
      this.rowsRead++;
      const check = rangeCheck(head, fpga, channel, orbit, bx, tdc);
      if (check === ROW_VALID) {
        this.accept(head, fpga, channel, orbit, bx, tdc);
      } else {
        const fieldValues = [head, fpga, channel, orbit, bx, tdc];
        const field = check - 1;
        this.reject(
          REJECTION_REASONS.outOfRange,
          outOfRangeDetail(field, fieldValues[field] ?? Number.NaN),
          wordToHex(bytes, position),
          record,
          word,
        );
      }
    }
    const tailLength = bytes.length - wordCount * WORD_BYTES;
    if (tailLength > 0) {
      this.rowsRead++;
      this.reject(
        REJECTION_REASONS.truncatedWord,
        `binary record of ${bytes.length} bytes is not a whole number of ${WORD_BYTES}-byte words: ` +
          `the last ${tailLength} byte(s) are not a word`,
        bytesToHex(bytes.subarray(wordCount * WORD_BYTES)),
        record,
        wordCount,
      );
    } else if (bytes.length === 0) {
      this.rejectEmptyRecord(record, 'binary');
    }
  }

  /** A valid row: filter ancillary words, sort hits into chamber hits, scintillator and auxiliary. */
  private accept(head: number, fpga: number, channel: number, orbit: number, bx: number, tdc: number): void {
    if (head !== HEAD_HIT) {
      this.rowsFiltered++;
      return;
    }
    const timeUnits = bx * TIME_UNITS_PER_BX + tdc * TIME_UNITS_PER_TDC;
    if (channel < CHAMBER_CHANNELS_PER_FPGA) {
      const hit = this.hitTotal;
      if (hit >= this.hitGroup.length) this.growHits(hit + 1);
      this.hitGroup[hit] = this.groupFor(orbit);
      this.hitChamber[hit] = chamberOf(fpga, channel);
      this.hitChannel[hit] = channel % CHANNELS_PER_CHAMBER;
      this.hitTime[hit] = timeUnits;
      this.hitTotal = hit + 1;
    } else if (channel === SCINTILLATOR_CHANNEL && fpga === SCINTILLATOR_FPGA) {
      this.scintillatorHits++;
      const group = this.groupFor(orbit);
      // Several scintillator hits in one orbit: the earliest is the muon's t0.
      if (timeUnits < (this.groupScintillatorTime[group] ?? NO_SCINTILLATOR)) {
        this.groupScintillatorTime[group] = timeUnits;
      }
    } else {
      this.auxiliaryHits++;
    }
  }

  private groupFor(orbit: number): number {
    const group = this.orbits.groupOf(orbit);
    if (group === this.groupsReady) {
      if (group >= this.groupScintillatorTime.length) this.growGroups(group + 1);
      this.groupScintillatorTime[group] = NO_SCINTILLATOR;
      this.groupsReady = group + 1;
    }
    return group;
  }

  private growHits(needed: number): void {
    this.hitGroup = grownInt32(this.hitGroup, needed);
    this.hitChamber = grownUint8(this.hitChamber, needed);
    this.hitChannel = grownUint8(this.hitChannel, needed);
    this.hitTime = grownFloat64(this.hitTime, needed);
  }

  private growGroups(needed: number): void {
    this.groupScintillatorTime = grownFloat64(this.groupScintillatorTime, needed);
    this.groupMaskLow = grownUint32(this.groupMaskLow, this.groupScintillatorTime.length * CHAMBER_COUNT);
    this.groupMaskHigh = grownUint32(this.groupMaskHigh, this.groupScintillatorTime.length * CHAMBER_COUNT);
  }

  // --- rejections (slow path) ------------------------------------------------------------------

  private rejectUnparsable(
    code: number,
    bytes: Uint8Array,
    start: number,
    end: number,
    coordinates: RecordCoordinates,
    rowIndex: number,
  ): void {
    const rowText = quoteTextRow(bytes, start, end);
    const failure = parseFailure(code);
    if (failure === PARSE_FIELD_COUNT) {
      const fieldCount = rowText.split(',').length;
      this.reject(
        REJECTION_REASONS.fieldCount,
        `expected ${FIELD_COUNT} comma-separated fields (${FIELD_NAMES.join(',')}), found ${fieldCount}`,
        rowText,
        coordinates,
        rowIndex,
      );
      return;
    }
    const field = parseFailedField(code);
    const name = FIELD_NAMES[field] ?? `field ${field + 1}`;
    const text = fieldText(rowText, field);
    if (failure === PARSE_NOT_A_NUMBER) {
      this.reject(
        REJECTION_REASONS.notANumber,
        `${name} '${text}' is not a decimal number`,
        rowText,
        coordinates,
        rowIndex,
      );
    } else {
      this.reject(
        REJECTION_REASONS.notAnInteger,
        `${name} '${text}' is not an integer`,
        rowText,
        coordinates,
        rowIndex,
      );
    }
  }

  private rejectEmptyRecord(coordinates: RecordCoordinates, wireFormat: string): void {
    this.rowsRead++;
    this.reject(REJECTION_REASONS.emptyRecord, `${wireFormat} record value holds no row`, '', coordinates, 0);
  }

  private reject(
    reason: RejectionReason,
    detail: string,
    row: string,
    coordinates: RecordCoordinates,
    rowIndex: number,
  ): void {
    this.rejectedByReason[reason] = (this.rejectedByReason[reason] ?? 0) + 1;
    this.rejections.push(rejection(reason, detail, row, coordinates, rowIndex));
  }

  // --- pass 2: histograms ----------------------------------------------------------------------

  private finish(): DtTotals {
    const totals = emptyTotals();
    const { chamberHits, occupancy, gatedOccupancy, driftTime, driftUnderflow, driftOverflow, multiplicity } =
      totals;
    const groupCount = this.groupsReady;
    const maskLow = this.groupMaskLow;
    const maskHigh = this.groupMaskHigh;
    maskLow.fill(0, 0, groupCount * CHAMBER_COUNT);
    maskHigh.fill(0, 0, groupCount * CHAMBER_COUNT);
    const scintillatorTime = this.groupScintillatorTime;

    for (let hit = 0; hit < this.hitTotal; hit++) {
      const group = this.hitGroup[hit] ?? 0;
      const chamber = this.hitChamber[hit] ?? 0;
      const channel = this.hitChannel[hit] ?? 0;
      const channelBin = chamber * CHANNELS_PER_CHAMBER + channel;
      chamberHits[chamber] = (chamberHits[chamber] ?? 0) + 1;
      occupancy[channelBin] = (occupancy[channelBin] ?? 0) + 1;
      const maskSlot = group * CHAMBER_COUNT + chamber;
      if (channel < 32) maskLow[maskSlot] = (maskLow[maskSlot] ?? 0) | (1 << channel);
      else maskHigh[maskSlot] = (maskHigh[maskSlot] ?? 0) | (1 << (channel - 32));

      const scintillator = scintillatorTime[group] ?? NO_SCINTILLATOR;
      if (scintillator === NO_SCINTILLATOR) continue;
      gatedOccupancy[channelBin] = (gatedOccupancy[channelBin] ?? 0) + 1;
      // drift = t_hit − (t_scint − offset[chamber])
      const drift = (this.hitTime[hit] ?? 0) - scintillator + (CHAMBER_OFFSET_UNITS[chamber] ?? 0);
      const bin = driftBinOf(drift);
      if (bin === DRIFT_UNDERFLOW) driftUnderflow[chamber] = (driftUnderflow[chamber] ?? 0) + 1;
      else if (bin === DRIFT_OVERFLOW) driftOverflow[chamber] = (driftOverflow[chamber] ?? 0) + 1;
      else {
        const driftBin = chamber * DRIFT_BINS + bin;
        driftTime[driftBin] = (driftTime[driftBin] ?? 0) + 1;
      }
    }

    let orbitsWithHits = 0;
    let orbitsWithScintillator = 0;
    for (let group = 0; group < groupCount; group++) {
      let anyHit = false;
      for (let chamber = 0; chamber < CHAMBER_COUNT; chamber++) {
        const maskSlot = group * CHAMBER_COUNT + chamber;
        const active = popCount(maskLow[maskSlot] ?? 0) + popCount(maskHigh[maskSlot] ?? 0);
        if (active === 0) continue;
        anyHit = true;
        const multiplicityBin = chamber * CHANNELS_PER_CHAMBER + active - 1;
        multiplicity[multiplicityBin] = (multiplicity[multiplicityBin] ?? 0) + 1;
      }
      if (anyHit) orbitsWithHits++;
      if ((scintillatorTime[group] ?? NO_SCINTILLATOR) !== NO_SCINTILLATOR) orbitsWithScintillator++;
    }

    return {
      ...totals,
      rowsRead: this.rowsRead,
      rowsFiltered: this.rowsFiltered,
      rejectedByReason: this.rejectedByReason,
      auxiliaryHits: this.auxiliaryHits,
      scintillatorHits: this.scintillatorHits,
      orbitsWithHits,
      orbitsWithScintillator,
    };
  }
}

const reducer = new BatchReducer();

/** Pure from the caller's view: `state` is not modified, the result is new. */
export function applyBatch(state: DtTotals, records: readonly RecordInput[]): BatchStep<DtTotals, DtTotals> {
  const { batch, rejections } = reducer.run(records);
  return { state: mergeTotals(state, batch), batch, rejections, inputRows: batch.rowsRead };
}
