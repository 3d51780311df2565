/**
 * Folds one batch of records (one topic-partition slice, in offset order) into a partition's `dt`
 * state: closed totals plus open orbits (state.ts, open-orbits.ts).
 *
 * Orbits across batches. Replay keys records by ORBIT_CNT, so all rows of an orbit go to one
 * partition, in file order; but a batch boundary can fall inside an orbit, and the DAQ writes rows
 * slightly out of order, so the rows of an orbit (its scintillator hit included) may straddle two or
 * more batches. The state therefore keeps recent orbits OPEN across batches:
 * - hit-level quantities (rows read / filtered / rejected, hits per chamber, occupancy, auxiliary,
 *   scintillator and late hits) are counted when their row is read, in that row's batch;
 * - orbit-level quantities (multiplicity, gated occupancy, drift times, orbits with hits, orbits with
 *   a scintillator) are counted when the orbit CLOSES, over all of its hits and its earliest
 *   scintillator hit, whichever batches they arrived in;
 * - at the end of each batch, while more than MAX_OPEN_ORBITS orbits are open (or they hold more than
 *   MAX_OPEN_HITS hits), the lowest-numbered (oldest: numbers are unwrapped across the 32-bit wrap)
 *   open orbit closes; the others stay open in the state, with their hits and scintillator time;
 * - a hit whose orbit is not open and not above the highest orbit closed so far arrived too late: it
 *   is counted in `lateHits` and opens a new orbit, which counts as a separate orbit (so the
 *   approximation is visible, never silent). Being the lowest, that orbit usually closes again at the
 *   end of the same batch; while it is open, its further hits are late too. An orbit closes only
 *   while MAX_OPEN_ORBITS higher ones are open, so no hit is late as long as fewer than
 *   MAX_OPEN_ORBITS newer orbits of its partition have been seen before it (the window, in orbits;
 *   open-orbits.ts relates it to the DAQ's reordering).
 * Hence `batch` (the per-batch `data_clean` body) = the hit-level counts of the batch's rows + the
 * orbit-level counts of the orbits closed in this batch, and `state.closed` = the sum of all batches.
 * The cumulative view (`stateTotals`) = closed totals + the open orbits counted as if they closed
 * now. Without late hits it does not depend on where batches were cut: a whole file in one batch
 * (which closes nothing before its end, so it is the plain whole-file computation) and the same file
 * in any number of batches give identical totals.
 *
 * Two passes, no per-row allocation:
 * 1. read every row straight from the record bytes (text or packed words), validate it, count
 *    ancillary/auxiliary/scintillator rows, and append each chamber hit to columnar typed arrays with
 *    the group number of its orbit. The first row of an orbit in the batch looks the orbit up among
 *    the state's open orbits (binary search; they are sorted) or opens a new one. The earliest
 *    scintillator time of each orbit is kept per group. Rows are not sorted by ORBIT_CNT, so the
 *    scintillator of an orbit may come after its hits: that is why the histograms wait for pass 2.
 * 2. count the batch's hits per chamber and channel and group them by orbit; merge the open orbits
 *    with the batch's new ones by number; close the lowest through `OrbitSums.addOrbit` (multiplicity
 *    from the set of active channels, gating and drift times from the earliest scintillator, over the
 *    state's hits and the batch's); copy the rest into the new state, runs of open orbits the batch
 *    did not touch in one go. The per-batch cost of carrying the open orbits is a copy of ~2 000 hits.
 *
 * Times within an orbit are differences of (BX, TDC) counters in thirtieths of a ns (see
 * detector.ts), never of the ~3·10^14 ns absolute time, so a drift time is exact.
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
  CHANNELS_PER_CHAMBER,
  chamberOf,
  FIELD_COUNT,
  FIELD_NAMES,
  HEAD_HIT,
  SCINTILLATOR_CHANNEL,
  SCINTILLATOR_FPGA,
  TIME_UNITS_PER_BX,
  TIME_UNITS_PER_TDC,
} from './detector.ts';
import {
  allocateOpenOrbits,
  emptyOpenOrbits,
  MAX_OPEN_HITS,
  MAX_OPEN_ORBITS,
  NO_SCINTILLATOR,
  type OpenOrbits,
  ORBIT_CNT_MODULUS,
  OrbitSums,
  rawOrbit,
  unwrapOrbit,
} from './open-orbits.ts';
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
  NOT_A_DAQ_LINE,
  PARSE_FIELD_COUNT,
  PARSE_NOT_A_NUMBER,
  PARSE_OK,
  parseDaqLine,
  parseFailedField,
  parseFailure,
  parseTextRow,
} from './row-parser.ts';
import type { DtState } from './state.ts';
import { type DtTotals, mergeTotals } from './totals.ts';

const NOTHING_OPEN = emptyOpenOrbits();
const LF = 0x0a;
const CR = 0x0d;
const INITIAL_CAPACITY = 4096;

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

interface ReducerResult {
  batch: DtTotals;
  open: OpenOrbits;
  rejections: Rejection[];
}

/**
 * Scratch space of one batch. A single instance is reused by every call (applyBatch is synchronous
 * and not re-entrant), so steady-state batches allocate only their result.
 */
class BatchReducer {
  private readonly values = new Float64Array(FIELD_COUNT);
  /** Raw ORBIT_CNT → group, for the orbits this batch touches. */
  private readonly orbits = new OrbitIndex();
  /** The state's open orbits during `run`. */
  private open: OpenOrbits = NOTHING_OPEN;

  // The batch's chamber hits, in arrival order.
  private hitGroup = new Int32Array(INITIAL_CAPACITY);
  /** Chamber × 64 + chamber-local channel. */
  private hitSlot = new Uint8Array(INITIAL_CAPACITY);
  private hitTime = new Float64Array(INITIAL_CAPACITY);
  private hitTotal = 0;

  // Per group: one orbit the batch touches, either an open orbit of the state or a new one.
  /** Unwrapped orbit number. */
  private groupOrbit = new Float64Array(INITIAL_CAPACITY);
  /** Index of the orbit in the state's open set, or -1 for a new orbit. */
  private groupOpenIndex = new Int32Array(INITIAL_CAPACITY);
  /** Earliest scintillator time (thirtieths of a ns within the orbit), or NO_SCINTILLATOR. */
  private groupScintillatorTime = new Float64Array(INITIAL_CAPACITY);
  private groupLate = new Uint8Array(INITIAL_CAPACITY);
  /** The batch's chamber hits of the orbit (the state's are counted in the open set). */
  private groupNewHits = new Int32Array(INITIAL_CAPACITY);
  /** Pass 2: start of the orbit's batch hits in newSlot/newTime. */
  private groupStart = new Int32Array(INITIAL_CAPACITY);
  private groupsReady = 0;

  // Pass 2 scratch.
  /** The batch's hits grouped by group, in arrival order within a group. */
  private newSlot = new Uint8Array(INITIAL_CAPACITY);
  private newTime = new Float64Array(INITIAL_CAPACITY);
  /** New orbits (groups without an open index) sorted by number: their numbers and groups. */
  private sortedOrbits = new Float64Array(INITIAL_CAPACITY);
  private rankGroup = new Int32Array(INITIAL_CAPACITY);
  /** Per open orbit of the state: its first hit (prefix sums of hitCounts), and its group or -1. */
  private openHitStart = new Int32Array(INITIAL_CAPACITY);
  private openGroupOf = new Int32Array(INITIAL_CAPACITY);
  /** All orbits (open and new) by number: open index or -1, group or -1. */
  private entryOpenIndex = new Int32Array(INITIAL_CAPACITY);
  private entryGroup = new Int32Array(INITIAL_CAPACITY);
  /** One closing orbit's hits gathered (the state's, then the batch's). */
  private gatherSlot = new Uint8Array(INITIAL_CAPACITY);
  private gatherTime = new Float64Array(INITIAL_CAPACITY);

  private lastOpenedOrbit = Number.NaN;
  private closedThrough = Number.NEGATIVE_INFINITY;

  private rowsRead = 0;
  private rowsFiltered = 0;
  private auxiliaryHits = 0;
  private scintillatorHits = 0;
  /** Late scintillator hits (late chamber hits are counted in pass 2). */
  private lateHits = 0;
  private rejectedByReason: Record<string, number> = {};
  private rejections: Rejection[] = [];

  run(open: OpenOrbits, records: readonly RecordInput[]): ReducerResult {
    this.reset(open);
    for (const record of records) {
      if (record.wireFormat === 'binary') this.readBinaryRecord(record);
      else this.readTextRecord(record);
    }
    const result = { ...this.finish(), rejections: this.rejections };
    this.rejections = [];
    this.open = NOTHING_OPEN;
    return result;
  }

  private reset(open: OpenOrbits): void {
    this.orbits.clear();
    this.open = open;
    this.lastOpenedOrbit = open.lastOpenedOrbit;
    this.closedThrough = open.closedThrough;
    this.hitTotal = 0;
    this.groupsReady = 0;
    this.rowsRead = 0;
    this.rowsFiltered = 0;
    this.auxiliaryHits = 0;
    this.scintillatorHits = 0;
    this.lateHits = 0;
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
      // The DAQ's own rows are parsed and framed in one scan; anything else the general way.
      let lineEnd = parseDaqLine(bytes, lineStart, length, values);
      if (lineEnd !== NOT_A_DAQ_LINE) {
        rowsInRecord++;
        this.rowsRead++;
        this.checkRow(bytes, lineStart, rowEnd(bytes, lineStart, lineEnd), record, rowIndex);
      } else {
        lineEnd = bytes.indexOf(LF, lineStart);
        if (lineEnd < 0) lineEnd = length;
        const end = rowEnd(bytes, lineStart, lineEnd);
        // Empty lines are not rows (the framer drops them too); rowIndex still counts them so it
        // points at the right line of the record.
        if (end > lineStart) {
          rowsInRecord++;
          this.rowsRead++;
          const code = parseTextRow(bytes, lineStart, end, values);
          if (code !== PARSE_OK) this.rejectUnparsable(code, bytes, lineStart, end, record, rowIndex);
          else this.checkRow(bytes, lineStart, end, record, rowIndex);
        }
      }
      rowIndex++;
      lineStart = lineEnd + 1;
    }
    if (rowsInRecord === 0) this.rejectEmptyRecord(record, 'text');
  }

  /** A parsed text row (its values in `this.values`): accepted, or rejected as out of range. */
  private checkRow(
    bytes: Uint8Array,
    start: number,
    end: number,
    record: RecordInput,
    rowIndex: number,
  ): void {
    const values = this.values;
    const head = values[0] ?? 0;
    const fpga = values[1] ?? 0;
    const channel = values[2] ?? 0;
    const orbit = values[3] ?? 0;
    const bx = values[4] ?? 0;
    const tdc = values[5] ?? 0;
    const check = rangeCheck(head, fpga, channel, orbit, bx, tdc);
    if (check === ROW_VALID) {
      this.accept(head, fpga, channel, orbit, bx, tdc);
      return;
    }
    const field = check - 1;
    this.reject(
      REJECTION_REASONS.outOfRange,
      outOfRangeDetail(field, values[field] ?? Number.NaN),
      quoteTextRow(bytes, start, end),
      record,
      rowIndex,
    );
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
      const group = this.groupFor(orbit);
      this.hitGroup[hit] = group;
      this.hitSlot[hit] = chamberOf(fpga, channel) * CHANNELS_PER_CHAMBER + (channel % CHANNELS_PER_CHAMBER);
      this.hitTime[hit] = timeUnits;
      this.hitTotal = hit + 1;
      this.groupNewHits[group] = (this.groupNewHits[group] ?? 0) + 1;
    } else if (channel === SCINTILLATOR_CHANNEL && fpga === SCINTILLATOR_FPGA) {
      this.scintillatorHits++;
      const group = this.groupFor(orbit);
      this.lateHits += this.groupLate[group] ?? 0;
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
    if (group === this.groupsReady) this.touchOrbit(group, orbit);
    return group;
  }

  /**
   * The batch's first row of an orbit: an open orbit of the state (found by binary search, its number
   * unwrapped near the last opened one, or one epoch off) or a new orbit, which is late if an orbit at
   * least as high has already closed.
   */
  private touchOrbit(group: number, raw: number): void {
    if (group >= this.groupOrbit.length) this.growGroups(group + 1);
    const open = this.open;
    let orbit = unwrapOrbit(raw, this.lastOpenedOrbit);
    let index = -1;
    if (open.orbits.length > 0) {
      index = findOrbit(open.orbits, orbit);
      if (index < 0) index = findOrbit(open.orbits, orbit - ORBIT_CNT_MODULUS);
      if (index < 0) index = findOrbit(open.orbits, orbit + ORBIT_CNT_MODULUS);
    }
    this.groupOpenIndex[group] = index;
    this.groupNewHits[group] = 0;
    if (index >= 0) {
      orbit = open.orbits[index] ?? orbit;
      this.groupScintillatorTime[group] = open.scintillatorTimes[index] ?? NO_SCINTILLATOR;
      this.groupLate[group] = open.late[index] ?? 0;
    } else {
      this.lastOpenedOrbit = orbit;
      this.groupScintillatorTime[group] = NO_SCINTILLATOR;
      this.groupLate[group] = orbit <= this.closedThrough ? 1 : 0;
    }
    this.groupOrbit[group] = orbit;
    this.groupsReady = group + 1;
  }

  private growHits(needed: number): void {
    this.hitGroup = grownInt32(this.hitGroup, needed);
    this.hitSlot = grownUint8(this.hitSlot, needed);
    this.hitTime = grownFloat64(this.hitTime, needed);
  }

  private growGroups(needed: number): void {
    this.groupOrbit = grownFloat64(this.groupOrbit, needed);
    const capacity = this.groupOrbit.length;
    this.groupOpenIndex = grownInt32(this.groupOpenIndex, capacity);
    this.groupScintillatorTime = grownFloat64(this.groupScintillatorTime, capacity);
    this.groupLate = grownUint8(this.groupLate, capacity);
    this.groupNewHits = grownInt32(this.groupNewHits, capacity);
    this.groupStart = grownInt32(this.groupStart, capacity);
    this.sortedOrbits = grownFloat64(this.sortedOrbits, capacity);
    this.rankGroup = grownInt32(this.rankGroup, capacity);
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

  // --- pass 2: histograms, closing -------------------------------------------------------------

  /**
   * Pass 2, in five steps: the batch's hits counted and grouped by orbit; the state's open orbits
   * indexed; every orbit merged by number; the lowest closed; the rest kept open.
   */
  private finish(): { batch: DtTotals; open: OpenOrbits } {
    // The batch's totals: hit-level counts now, orbit-level ones as orbits close below.
    const sums = new OrbitSums();
    const lateHits = this.countAndGroupHits(sums);
    const openHits = this.indexOpenOrbits();
    const entryCount = this.mergeOrbitsByNumber(this.collectNewOrbits());
    const closing = this.closeLowest(entryCount, openHits + this.hitTotal, sums);
    const batch: DtTotals = {
      ...sums.toTotals(),
      rowsRead: this.rowsRead,
      rowsFiltered: this.rowsFiltered,
      rejectedByReason: this.rejectedByReason,
      auxiliaryHits: this.auxiliaryHits,
      scintillatorHits: this.scintillatorHits,
      lateHits,
    };
    return { batch, open: this.keepOpen(closing, entryCount) };
  }

  /**
   * The batch's hits: per-row counts (chamber hits, occupancy, late hits), and grouped by orbit into
   * newSlot/newTime (a counting sort, so each orbit's hits keep their arrival order; groupStart is
   * where each group's run begins) for the orbit-level counts. Returns the batch's late hits.
   */
  private countAndGroupHits(sums: OrbitSums): number {
    const { chamberHits, occupancy } = sums.arrays;
    const { hitGroup, hitSlot, hitTime, groupNewHits, groupLate, groupStart } = this;
    const newHits = this.hitTotal;
    const groupCount = this.groupsReady;
    if (newHits > this.newSlot.length) {
      this.newSlot = grownUint8(this.newSlot, newHits);
      this.newTime = grownFloat64(this.newTime, newHits);
    }
    const { newSlot, newTime } = this;
    let position = 0;
    for (let group = 0; group < groupCount; group++) {
      groupStart[group] = position;
      position += groupNewHits[group] ?? 0;
    }
    let lateHits = this.lateHits;
    for (let hit = 0; hit < newHits; hit++) {
      const group = hitGroup[hit] ?? 0;
      const slot = hitSlot[hit] ?? 0;
      const chamber = (slot / CHANNELS_PER_CHAMBER) | 0;
      chamberHits[chamber] = (chamberHits[chamber] ?? 0) + 1;
      occupancy[slot] = (occupancy[slot] ?? 0) + 1;
      lateHits += groupLate[group] ?? 0;
      const cursor = groupStart[group] ?? 0;
      newSlot[cursor] = slot;
      newTime[cursor] = hitTime[hit] ?? 0;
      groupStart[group] = cursor + 1;
    }
    for (let group = 0; group < groupCount; group++) {
      groupStart[group] = (groupStart[group] ?? 0) - (groupNewHits[group] ?? 0);
    }
    return lateHits;
  }

  /**
   * The state's open orbits: where each one's hits start (openHitStart, with the end at
   * openHitStart[openCount]), and which group of the batch touched it (openGroupOf, or -1).
   * Returns the hits the state holds.
   */
  private indexOpenOrbits(): number {
    const open = this.open;
    const openCount = open.orbits.length;
    if (openCount + 1 > this.openHitStart.length) {
      this.openHitStart = grownInt32(this.openHitStart, openCount + 1);
      this.openGroupOf = grownInt32(this.openGroupOf, openCount + 1);
    }
    const { openHitStart, openGroupOf } = this;
    let openHit = 0;
    for (let index = 0; index < openCount; index++) {
      openHitStart[index] = openHit;
      openHit += open.hitCounts[index] ?? 0;
      openGroupOf[index] = -1;
    }
    openHitStart[openCount] = openHit;
    for (let group = 0; group < this.groupsReady; group++) {
      const index = this.groupOpenIndex[group] ?? -1;
      if (index >= 0) openGroupOf[index] = group;
    }
    return openHit;
  }

  /** The batch's new orbits (groups with no open orbit), sorted by number into sortedOrbits/rankGroup. */
  private collectNewOrbits(): number {
    let newOrbits = 0;
    for (let group = 0; group < this.groupsReady; group++) {
      if ((this.groupOpenIndex[group] ?? -1) < 0) this.rankGroup[newOrbits++] = group;
    }
    this.sortNewOrbits(newOrbits);
    return newOrbits;
  }

  /**
   * Every orbit by number: the (sorted) open orbits merged with the sorted new ones into
   * entryOpenIndex/entryGroup. Returns the number of entries.
   */
  private mergeOrbitsByNumber(newOrbits: number): number {
    const open = this.open;
    const openCount = open.orbits.length;
    const entryCount = openCount + newOrbits;
    if (entryCount > this.entryGroup.length) {
      this.entryGroup = grownInt32(this.entryGroup, entryCount);
      this.entryOpenIndex = grownInt32(this.entryOpenIndex, entryCount);
    }
    const { entryGroup, entryOpenIndex, sortedOrbits, rankGroup, openGroupOf } = this;
    let openIndex = 0;
    let rank = 0;
    for (let entry = 0; entry < entryCount; entry++) {
      if (
        rank >= newOrbits ||
        (openIndex < openCount && (open.orbits[openIndex] ?? 0) <= (sortedOrbits[rank] ?? 0))
      ) {
        entryOpenIndex[entry] = openIndex;
        entryGroup[entry] = openGroupOf[openIndex] ?? -1;
        openIndex++;
      } else {
        entryOpenIndex[entry] = -1;
        entryGroup[entry] = rankGroup[rank] ?? 0;
        rank++;
      }
    }
    return entryCount;
  }

  /**
   * Closes the lowest entries while either bound (MAX_OPEN_ORBITS, MAX_OPEN_HITS over `openHits`,
   * the state's and the batch's hits) is exceeded. Returns how many closed.
   */
  private closeLowest(entryCount: number, openHits: number, sums: OrbitSums): number {
    let remainingHits = openHits;
    let closing = 0;
    while (
      closing < entryCount &&
      (entryCount - closing > MAX_OPEN_ORBITS || remainingHits > MAX_OPEN_HITS)
    ) {
      remainingHits -= this.entryHits(closing);
      closing++;
    }
    for (let entry = 0; entry < closing; entry++) this.closeEntry(entry, sums);
    if (closing > 0) this.closedThrough = Math.max(this.closedThrough, this.entryOrbit(closing - 1));
    return closing;
  }

  /**
   * The entries from `closing` on stay open, in order, in a new OpenOrbits: runs of open orbits the
   * batch did not touch are copied in one go, the others (open orbits with new hits, new orbits)
   * one by one.
   */
  private keepOpen(closing: number, entryCount: number): OpenOrbits {
    const open = this.open;
    const { entryGroup, entryOpenIndex, openHitStart, groupLate, groupStart, groupNewHits } = this;
    let keptHits = 0;
    for (let entry = closing; entry < entryCount; entry++) keptHits += this.entryHits(entry);
    const next = allocateOpenOrbits(entryCount - closing, keptHits, this.lastOpenedOrbit, this.closedThrough);
    let kept = 0;
    let at = 0;
    for (let entry = closing; entry < entryCount; ) {
      const index = entryOpenIndex[entry] ?? -1;
      const group = entryGroup[entry] ?? -1;
      if (group < 0) {
        let end = entry + 1;
        let last = index;
        while (end < entryCount && (entryGroup[end] ?? 0) < 0 && entryOpenIndex[end] === last + 1) {
          end++;
          last++;
        }
        const from = openHitStart[index] ?? 0;
        const to = openHitStart[last + 1] ?? 0;
        copyOrbits(open, index, last + 1, next, kept);
        copyHits(open.hitSlots, open.hitTimes, from, to, next, at);
        kept += end - entry;
        at += to - from;
        entry = end;
        continue;
      }
      next.orbits[kept] = this.groupOrbit[group] ?? 0;
      next.scintillatorTimes[kept] = this.groupScintillatorTime[group] ?? NO_SCINTILLATOR;
      next.late[kept] = groupLate[group] ?? 0;
      next.hitCounts[kept] = this.entryHits(entry);
      if (index >= 0) {
        const from = openHitStart[index] ?? 0;
        const to = openHitStart[index + 1] ?? 0;
        copyHits(open.hitSlots, open.hitTimes, from, to, next, at);
        at += to - from;
      }
      const from = groupStart[group] ?? 0;
      const count = groupNewHits[group] ?? 0;
      copyHits(this.newSlot, this.newTime, from, from + count, next, at);
      at += count;
      kept++;
      entry++;
    }
    return next;
  }

  private entryOrbit(entry: number): number {
    const index = this.entryOpenIndex[entry] ?? -1;
    return index >= 0 ? (this.open.orbits[index] ?? 0) : (this.groupOrbit[this.entryGroup[entry] ?? 0] ?? 0);
  }

  /** Chamber hits of an orbit: the state's and the batch's. */
  private entryHits(entry: number): number {
    const index = this.entryOpenIndex[entry] ?? -1;
    const group = this.entryGroup[entry] ?? -1;
    return (
      (index >= 0 ? (this.open.hitCounts[index] ?? 0) : 0) +
      (group >= 0 ? (this.groupNewHits[group] ?? 0) : 0)
    );
  }

  private closeEntry(entry: number, sums: OrbitSums): void {
    const open = this.open;
    const index = this.entryOpenIndex[entry] ?? -1;
    const group = this.entryGroup[entry] ?? -1;
    if (group < 0) {
      // An open orbit the batch did not touch: its hits are contiguous in the state.
      const from = this.openHitStart[index] ?? 0;
      const to = this.openHitStart[index + 1] ?? 0;
      sums.addOrbit(open.hitSlots, open.hitTimes, from, to, open.scintillatorTimes[index] ?? NO_SCINTILLATOR);
      return;
    }
    const scintillatorTime = this.groupScintillatorTime[group] ?? NO_SCINTILLATOR;
    const newFrom = this.groupStart[group] ?? 0;
    const newTo = newFrom + (this.groupNewHits[group] ?? 0);
    if (index < 0) {
      sums.addOrbit(this.newSlot, this.newTime, newFrom, newTo, scintillatorTime);
      return;
    }
    // An open orbit with new hits: gather the state's and the batch's.
    const from = this.openHitStart[index] ?? 0;
    const to = this.openHitStart[index + 1] ?? 0;
    const total = to - from + newTo - newFrom;
    if (total > this.gatherSlot.length) {
      this.gatherSlot = grownUint8(this.gatherSlot, total);
      this.gatherTime = grownFloat64(this.gatherTime, total);
    }
    this.gatherSlot.set(open.hitSlots.subarray(from, to), 0);
    this.gatherTime.set(open.hitTimes.subarray(from, to), 0);
    this.gatherSlot.set(this.newSlot.subarray(newFrom, newTo), to - from);
    this.gatherTime.set(this.newTime.subarray(newFrom, newTo), to - from);
    sums.addOrbit(this.gatherSlot, this.gatherTime, 0, total, scintillatorTime);
  }

  /**
   * Sorts the groups rankGroup[0, count) by orbit number into sortedOrbits/rankGroup. New orbits
   * appear nearly in order, so an insertion sort is cheapest; if the input proves far from sorted it
   * gives up and sorts the numbers natively, finding each group again through the index (numbers are
   * unique: the index has one group per counter value).
   */
  private sortNewOrbits(count: number): void {
    const keys = this.sortedOrbits;
    const groups = this.rankGroup;
    const groupOrbit = this.groupOrbit;
    let movesLeft = 8 * count + 1024;
    for (let next = 0; next < count; next++) {
      const group = groups[next] ?? 0;
      const orbit = groupOrbit[group] ?? 0;
      let rank = next;
      while (rank > 0 && (keys[rank - 1] ?? 0) > orbit) {
        keys[rank] = keys[rank - 1] ?? 0;
        groups[rank] = groups[rank - 1] ?? 0;
        rank--;
      }
      keys[rank] = orbit;
      groups[rank] = group;
      movesLeft -= next - rank;
      if (movesLeft < 0) {
        // Far from sorted: collect every new orbit's number again, sort natively, look groups up.
        let filled = 0;
        for (let each = 0; each < this.groupsReady; each++) {
          if ((this.groupOpenIndex[each] ?? -1) < 0) keys[filled++] = groupOrbit[each] ?? 0;
        }
        const sorted = keys.subarray(0, count);
        sorted.sort();
        for (let each = 0; each < count; each++)
          groups[each] = this.orbits.groupOf(rawOrbit(sorted[each] ?? 0));
        return;
      }
    }
  }
}

/** The end of a row's content: its line end, less a CR just before it. */
function rowEnd(bytes: Uint8Array, lineStart: number, lineEnd: number): number {
  return lineEnd > lineStart && bytes[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
}

/** Index of `orbit` in the ascending `orbits`, or -1. */
function findOrbit(orbits: Float64Array, orbit: number): number {
  let low = 0;
  let high = orbits.length - 1;
  // Most new orbits lie above every open one: no search.
  if (!(orbit >= (orbits[0] ?? 0) && orbit <= (orbits[high] ?? 0))) return -1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const value = orbits[middle] ?? 0;
    if (value < orbit) low = middle + 1;
    else if (value > orbit) high = middle - 1;
    else return middle;
  }
  return -1;
}

/** Copies the per-orbit fields of open orbits [from, to) of `source` into `target` at `at`. */
function copyOrbits(source: OpenOrbits, from: number, to: number, target: OpenOrbits, at: number): void {
  const count = to - from;
  if (count < 16) {
    for (let offset = 0; offset < count; offset++) {
      target.orbits[at + offset] = source.orbits[from + offset] ?? 0;
      target.scintillatorTimes[at + offset] = source.scintillatorTimes[from + offset] ?? NO_SCINTILLATOR;
      target.late[at + offset] = source.late[from + offset] ?? 0;
      target.hitCounts[at + offset] = source.hitCounts[from + offset] ?? 0;
    }
  } else {
    target.orbits.set(source.orbits.subarray(from, to), at);
    target.scintillatorTimes.set(source.scintillatorTimes.subarray(from, to), at);
    target.late.set(source.late.subarray(from, to), at);
    target.hitCounts.set(source.hitCounts.subarray(from, to), at);
  }
}

/** Copies hits [from, to) of `slots`/`times` into `target`'s hits at `at`. */
function copyHits(
  slots: Uint8Array,
  times: Float64Array,
  from: number,
  to: number,
  target: OpenOrbits,
  at: number,
): void {
  const count = to - from;
  if (count <= 0) return;
  if (count < 32) {
    for (let offset = 0; offset < count; offset++) {
      target.hitSlots[at + offset] = slots[from + offset] ?? 0;
      target.hitTimes[at + offset] = times[from + offset] ?? 0;
    }
  } else {
    target.hitSlots.set(slots.subarray(from, to), at);
    target.hitTimes.set(times.subarray(from, to), at);
  }
}

const reducer = new BatchReducer();

/** Pure from the caller's view: `state` is not modified, the result is new. */
export function applyBatch(state: DtState, records: readonly RecordInput[]): BatchStep<DtState, DtTotals> {
  const { batch, open, rejections } = reducer.run(state.open, records);
  return {
    state: { closed: mergeTotals(state.closed, batch), open },
    batch,
    rejections,
    inputRows: batch.rowsRead,
  };
}
