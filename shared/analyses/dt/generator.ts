/**
 * A seeded simulator of the drift-tube telescope that writes DAQ files (CSV or packed words), so the
 * pipeline can be exercised and the physics checked without the real 1.3-million-row files.
 *
 * What it models (constants below; geometry from detector.ts):
 * - cosmic muons as straight lines, zenith angle with the flux through a horizontal plane of a
 *   cos² law (density ∝ cos³θ·sinθ), uniform azimuth, crossing the four chambers; chamber 1 is
 *   rotated and measures y, the others x;
 * - in each layer, the cell the track crosses at the wire plane gives one hit (a steep track that
 *   also clips a neighbouring cell within the 13 mm layer height does not add a second hit), with an
 *   efficiency; drift time = horizontal distance to the wire / 53.8 µm/ns, so uniform track positions
 *   give the expected box from 0 to ~390 ns;
 * - time: the muon crosses at t0; two scintillator planes (1.3 m squares centred on the chambers, at
 *   the outer chambers' heights) fire in coincidence and give a hit on FPGA 1 channel 128 at
 *   t0 + 95 ns + jitter; each chamber's electronics has its own latency so that
 *   t_hit = t0 + 95 ns − offset[chamber] + drift + smearing, i.e. the offsets of `dt.md` apply;
 * - random noise hits, occasional two-muon showers (same t0) and independent muons that happen to
 *   share an orbit (the analysis then uses the earliest scintillator hit);
 * - auxiliary HEAD = 2 hits on FPGA 1 channels 138/139, and per muon and FPGA a group of ancillary
 *   words (HEAD 3, 1, 0…, 4, 5) with values outside hit ranges, about half of all rows, whose
 *   ORBIT_CNT runs on a shifted counter as in the real sample;
 * - counters from time: orbits of 3564 BX × 25 ns, TDC = 1/30 BX, ORBIT_CNT starting above 2^31 near
 *   the real sample and wrapping at 2^32 like the 32-bit hardware counter;
 * - the DAQ's ordering: rows leave through a small random reordering window, so they are not sorted
 *   by ORBIT_CNT.
 * Time-of-flight between chambers (~5 ns) is not modelled: it is absorbed in the per-chamber offsets.
 */

import {
  BinaryDatasetWriter,
  CsvDatasetWriter,
  type DatasetWriter,
  TDC_MICRO_UNITS,
} from './dataset-writer.ts';
import {
  AUXILIARY_CHANNELS,
  BX_PER_ORBIT,
  CELL_WIDTH_MM,
  CELLS_PER_LAYER,
  CHAMBER_CENTRE_Z_MM,
  CHAMBER_COUNT,
  CHAMBER_MEASURES_Y,
  CHANNELS_PER_CHAMBER,
  DRIFT_VELOCITY_MM_PER_NS,
  fpgaChannelOf,
  HEAD_HIT,
  LAYER_X_STAGGER_MM,
  LAYER_Z_OFFSET_MM,
  LAYERS_PER_CHAMBER,
  NS_PER_BX,
  ORBIT_NS,
  SCINTILLATOR_CHANNEL,
  SCINTILLATOR_FPGA,
  SCINTILLATOR_OFFSET_NS,
  TDC_PER_BX,
  wirePositionMm,
} from './detector.ts';
import { DRIFT_BIN_NS, DRIFT_BINS, DRIFT_EDGES_NS, DRIFT_MAX_NS, DRIFT_MIN_NS } from './histogram.ts';
import { Sfc32 } from './prng.ts';

// --- simulation parameters -------------------------------------------------------------------
/** First ORBIT_CNT (plus a seeded offset below 10^6): near the real sample's 3 387 200 947. */
const START_ORBIT = 3_387_000_000;
const ORBIT_COUNTER_MODULUS = 2 ** 32;
/** Ancillary words carry an ORBIT_CNT about 114 484 orbits ahead of the hits, as in the sample. */
const ANCILLARY_ORBIT_SHIFT = 114_484;
/** Mean time between two simulated items (a muon or a noise hit). */
const MEAN_ITEM_GAP_NS = 4 * ORBIT_NS;
const MUON_FRACTION = 0.5;
const SHOWER_PROBABILITY = 0.03;
const SHOWER_SEPARATION_MM = 250;
/** Track positions are drawn at mid-telescope over a square a bit larger than the chambers. */
const TELESCOPE_MID_Z_MM = 1019.8;
const CHAMBER_WIDTH_MM = CELLS_PER_LAYER * CELL_WIDTH_MM;
const TRACK_MARGIN_MM = 150;
/** The scintillator planes overhang the chambers, so most muons crossing the chambers trigger. */
const SCINTILLATOR_HALF_WIDTH_MM = 650;
const CHAMBER_CENTRE_XY_MM = CHAMBER_WIDTH_MM / 2;
const CELL_EFFICIENCY = 0.96;
const SCINTILLATOR_EFFICIENCY = 0.97;
const SCINTILLATOR_DELAY_NS = 95;
const SCINTILLATOR_JITTER_NS = 1;
const HIT_SMEARING_NS = 2.5;
const AUXILIARY_PROBABILITY = 0.3;
const AUXILIARY_WINDOW_NS = 400;
/** HEAD 0 words per FPGA and muon: 1 to this many. */
const MAX_HEAD0_WORDS = 5;
const REORDER_WINDOW_ROWS = 32;
const DEFAULT_CHUNK_ROWS = 65_536;

const TDC_NS = NS_PER_BX / TDC_PER_BX;
const TDC_COUNTS_PER_ORBIT = BX_PER_ORBIT * TDC_PER_BX;

// --- truth -----------------------------------------------------------------------------------
/** What the generator knows for certain, to check the analysis against. */
export interface DtTruth {
  rows: number;
  /** HEAD ≠ 2 words. */
  ancillaryRows: number;
  muons: number;
  /** Muons that fired the scintillator coincidence (and whose scintillator row was written). */
  triggeredMuons: number;
  showers: number;
  /** [chamber]: all chamber hits written (muons and noise). */
  chamberHits: number[];
  /** [chamber]: chamber hits from muons. */
  muonHits: number[];
  noiseHits: number;
  scintillatorHits: number;
  auxiliaryHits: number;
  /**
   * True drift times (ns, before smearing and TDC digitisation) of hits of triggered muons, binned as
   * the analysis bins them: [chamber × DRIFT_BINS + bin].
   */
  driftTimeNs: { binEdges: number[]; counts: number[]; underflow: number; overflow: number };
}

export function createDtTruth(): DtTruth {
  return {
    rows: 0,
    ancillaryRows: 0,
    muons: 0,
    triggeredMuons: 0,
    showers: 0,
    chamberHits: new Array<number>(CHAMBER_COUNT).fill(0),
    muonHits: new Array<number>(CHAMBER_COUNT).fill(0),
    noiseHits: 0,
    scintillatorHits: 0,
    auxiliaryHits: 0,
    driftTimeNs: {
      binEdges: [...DRIFT_EDGES_NS],
      counts: new Array<number>(CHAMBER_COUNT * DRIFT_BINS).fill(0),
      underflow: 0,
      overflow: 0,
    },
  };
}

export interface GenerateDtOptions {
  /** Data rows to write (the CSV header is not counted). */
  rows: number;
  seed: number;
  format: 'csv' | 'bin';
  /** Rows per yielded chunk (default 65 536). */
  chunkRows?: number;
  /** Filled in while generating. */
  truth?: DtTruth;
}

/** Yields the object's bytes chunk by chunk; the same options always give the same bytes. */
export function* generateDt(options: GenerateDtOptions): Generator<Uint8Array> {
  const chunkRows = options.chunkRows ?? DEFAULT_CHUNK_ROWS;
  if (!Number.isSafeInteger(options.rows) || options.rows < 0) {
    throw new RangeError(`generateDt: rows must be a non-negative integer, got ${options.rows}`);
  }
  if (!Number.isSafeInteger(chunkRows) || chunkRows < 1) {
    throw new RangeError(`generateDt: chunkRows must be a positive integer, got ${chunkRows}`);
  }
  const writer: DatasetWriter =
    options.format === 'csv' ? new CsvDatasetWriter(chunkRows) : new BinaryDatasetWriter(chunkRows);
  const random = new Sfc32(options.seed);
  const window = new ReorderWindow(random, writer);
  const simulator = new TelescopeSimulator(random, window, options.rows, options.truth ?? createDtTruth());
  while (simulator.hasRowsLeft()) {
    simulator.simulateNextItem();
    yield* writer.takeCompletedChunks();
  }
  window.flush();
  yield* writer.takeCompletedChunks();
  const last = writer.finish();
  if (last !== undefined) yield last;
}

/**
 * The DAQ does not write rows in time order. Each new row takes a random slot of a small window and
 * pushes out the row that was there: a row waits a geometric number of steps (mean 32 rows), so
 * ORBIT_CNT is shuffled locally, like the real files, while far-apart rows keep their order.
 */
class ReorderWindow {
  private readonly head = new Uint8Array(REORDER_WINDOW_ROWS);
  private readonly fpga = new Uint8Array(REORDER_WINDOW_ROWS);
  private readonly channel = new Uint16Array(REORDER_WINDOW_ROWS);
  private readonly orbit = new Float64Array(REORDER_WINDOW_ROWS);
  private readonly bx = new Int32Array(REORDER_WINDOW_ROWS);
  private readonly tdcMicro = new Float64Array(REORDER_WINDOW_ROWS);
  private count = 0;

  constructor(
    private readonly random: Sfc32,
    private readonly writer: DatasetWriter,
  ) {}

  push(head: number, fpga: number, channel: number, orbit: number, bx: number, tdcMicro: number): void {
    let slot = this.count;
    if (slot < REORDER_WINDOW_ROWS) {
      this.count++;
    } else {
      slot = this.random.integer(REORDER_WINDOW_ROWS);
      this.writeSlot(slot);
    }
    this.head[slot] = head;
    this.fpga[slot] = fpga;
    this.channel[slot] = channel;
    this.orbit[slot] = orbit;
    this.bx[slot] = bx;
    this.tdcMicro[slot] = tdcMicro;
  }

  flush(): void {
    for (let slot = 0; slot < this.count; slot++) this.writeSlot(slot);
    this.count = 0;
  }

  private writeSlot(slot: number): void {
    this.writer.write(
      this.head[slot] ?? 0,
      this.fpga[slot] ?? 0,
      this.channel[slot] ?? 0,
      this.orbit[slot] ?? 0,
      this.bx[slot] ?? 0,
      this.tdcMicro[slot] ?? 0,
    );
  }
}

class TelescopeSimulator {
  /** The simulation clock: an orbit number (not wrapped) and ns within it. */
  private orbit: number;
  private nsInOrbit = 0;
  private rowsLeft: number;

  constructor(
    private readonly random: Sfc32,
    private readonly window: ReorderWindow,
    rows: number,
    private readonly truth: DtTruth,
  ) {
    this.rowsLeft = rows;
    this.orbit = START_ORBIT + random.integer(1_000_000);
  }

  hasRowsLeft(): boolean {
    return this.rowsLeft > 0;
  }

  simulateNextItem(): void {
    const gap = this.random.exponential(MEAN_ITEM_GAP_NS) + this.nsInOrbit;
    const orbitsAhead = Math.floor(gap / ORBIT_NS);
    this.orbit += orbitsAhead;
    this.nsInOrbit = gap - orbitsAhead * ORBIT_NS;
    if (this.random.next() < MUON_FRACTION) this.simulateMuonEvent();
    else this.simulateNoiseHit();
  }

  private simulateNoiseHit(): void {
    const chamber = this.random.integer(CHAMBER_COUNT);
    const localChannel = this.random.integer(CHANNELS_PER_CHAMBER);
    const { fpga, channel } = fpgaChannelOf(chamber, localChannel);
    if (!this.writeHit(fpga, channel, this.nsInOrbit)) return;
    this.truth.noiseHits++;
    this.truth.chamberHits[chamber] = (this.truth.chamberHits[chamber] ?? 0) + 1;
  }

  private simulateMuonEvent(): void {
    const random = this.random;
    // Zenith angle: cos θ has density ∝ cos³θ on [0, 1] (cos² per solid angle × cos θ projected area).
    const cosTheta = Math.sqrt(Math.sqrt(random.next()));
    const tanTheta = Math.sqrt(1 - cosTheta * cosTheta) / Math.max(cosTheta, 1e-6);
    const azimuth = 2 * Math.PI * random.next();
    const slopeX = tanTheta * Math.cos(azimuth);
    const slopeY = tanTheta * Math.sin(azimuth);
    const x = random.uniform(-TRACK_MARGIN_MM, CHAMBER_WIDTH_MM + TRACK_MARGIN_MM);
    const y = random.uniform(-TRACK_MARGIN_MM, CHAMBER_WIDTH_MM + TRACK_MARGIN_MM);
    const isShower = random.next() < SHOWER_PROBABILITY;
    // A shower's second muon is parallel, displaced sideways, with the same t0.
    const showerAngle = 2 * Math.PI * random.next();
    const secondX = x + SHOWER_SEPARATION_MM * Math.cos(showerAngle);
    const secondY = y + SHOWER_SEPARATION_MM * Math.sin(showerAngle);

    const firesScintillator =
      (this.crossesScintillators(x, y, slopeX, slopeY) ||
        (isShower && this.crossesScintillators(secondX, secondY, slopeX, slopeY))) &&
      random.next() < SCINTILLATOR_EFFICIENCY;
    const t0 = this.nsInOrbit;
    let triggered = false;
    if (firesScintillator) {
      const scintillatorNs = t0 + SCINTILLATOR_DELAY_NS + SCINTILLATOR_JITTER_NS * random.gaussian();
      triggered = this.writeHit(SCINTILLATOR_FPGA, SCINTILLATOR_CHANNEL, scintillatorNs);
      if (triggered) this.truth.scintillatorHits++;
    }
    this.truth.muons += isShower ? 2 : 1;
    if (isShower) this.truth.showers++;
    if (triggered) this.truth.triggeredMuons += isShower ? 2 : 1;

    let fpgaMask = this.simulateTrack(x, y, slopeX, slopeY, t0, triggered);
    if (isShower) fpgaMask |= this.simulateTrack(secondX, secondY, slopeX, slopeY, t0, triggered);

    if (random.next() < AUXILIARY_PROBABILITY) {
      const channel = random.integer(2) === 0 ? AUXILIARY_CHANNELS[0] : AUXILIARY_CHANNELS[1];
      if (this.writeHit(SCINTILLATOR_FPGA, channel, t0 + random.uniform(0, AUXILIARY_WINDOW_NS))) {
        this.truth.auxiliaryHits++;
      }
    }
    for (let fpga = 0; fpga < 2; fpga++) {
      if (fpgaMask & (1 << fpga)) this.writeAncillaryGroup(fpga);
    }
  }

  /** Both scintillator planes (at the outer chambers' heights) must be crossed. */
  private crossesScintillators(x: number, y: number, slopeX: number, slopeY: number): boolean {
    for (const chamber of [0, CHAMBER_COUNT - 1]) {
      const dz = (CHAMBER_CENTRE_Z_MM[chamber] ?? 0) - TELESCOPE_MID_Z_MM;
      const atX = x + slopeX * dz;
      const atY = y + slopeY * dz;
      const outside =
        Math.abs(atX - CHAMBER_CENTRE_XY_MM) > SCINTILLATOR_HALF_WIDTH_MM ||
        Math.abs(atY - CHAMBER_CENTRE_XY_MM) > SCINTILLATOR_HALF_WIDTH_MM;
      if (outside) return false;
    }
    return true;
  }

  /** Hits of one straight track; returns a mask of the FPGAs that saw a hit. */
  private simulateTrack(
    x: number,
    y: number,
    slopeX: number,
    slopeY: number,
    t0: number,
    triggered: boolean,
  ): number {
    const random = this.random;
    const truth = this.truth;
    let fpgaMask = 0;
    for (let chamber = 0; chamber < CHAMBER_COUNT; chamber++) {
      const measuresY = CHAMBER_MEASURES_Y[chamber] ?? false;
      const chamberLatencyNs = SCINTILLATOR_DELAY_NS - (SCINTILLATOR_OFFSET_NS[chamber] ?? 0);
      for (let layer = 0; layer < LAYERS_PER_CHAMBER; layer++) {
        const z = (CHAMBER_CENTRE_Z_MM[chamber] ?? 0) + (LAYER_Z_OFFSET_MM[layer] ?? 0) - TELESCOPE_MID_Z_MM;
        const along = measuresY ? y + slopeY * z : x + slopeX * z;
        const stagger = LAYER_X_STAGGER_MM[layer] ?? 0;
        const cell = Math.floor((along - stagger) / CELL_WIDTH_MM);
        if (cell < 0 || cell >= CELLS_PER_LAYER) continue;
        if (random.next() >= CELL_EFFICIENCY) continue;
        const localChannel = cell * LAYERS_PER_CHAMBER + layer;
        const driftNs = Math.abs(along - wirePositionMm(localChannel)) / DRIFT_VELOCITY_MM_PER_NS;
        const hitNs = t0 + chamberLatencyNs + driftNs + HIT_SMEARING_NS * random.gaussian();
        const { fpga, channel } = fpgaChannelOf(chamber, localChannel);
        if (!this.writeHit(fpga, channel, hitNs)) return fpgaMask;
        fpgaMask |= 1 << fpga;
        truth.muonHits[chamber] = (truth.muonHits[chamber] ?? 0) + 1;
        truth.chamberHits[chamber] = (truth.chamberHits[chamber] ?? 0) + 1;
        if (triggered) this.recordTrueDrift(chamber, driftNs);
      }
    }
    return fpgaMask;
  }

  private recordTrueDrift(chamber: number, driftNs: number): void {
    const histogram = this.truth.driftTimeNs;
    if (driftNs < DRIFT_MIN_NS) histogram.underflow++;
    else if (driftNs > DRIFT_MAX_NS) histogram.overflow++;
    else {
      const bin =
        chamber * DRIFT_BINS + Math.min(Math.floor((driftNs - DRIFT_MIN_NS) / DRIFT_BIN_NS), DRIFT_BINS - 1);
      histogram.counts[bin] = (histogram.counts[bin] ?? 0) + 1;
    }
  }

  /** The words the trigger logic writes per FPGA: HEAD 3, 1, one or more 0, 4, 5. */
  private writeAncillaryGroup(fpga: number): void {
    const random = this.random;
    const orbit = this.orbit + ANCILLARY_ORBIT_SHIFT;
    this.writeAncillary(3, fpga, 0, orbit, random.integer(20_000), 0);
    this.writeAncillary(1, fpga, 0, orbit, 0, random.integer(141) * TDC_MICRO_UNITS);
    const head0Words = 1 + random.integer(MAX_HEAD0_WORDS);
    for (let word = 0; word < head0Words; word++) {
      this.writeAncillary(
        0,
        fpga,
        random.integer(5),
        orbit,
        random.integer(BX_PER_ORBIT),
        random.integer(30) * TDC_MICRO_UNITS,
      );
    }
    // tan ψ in (−1, 1) with six decimals; local x in (−70, 70) on a 1/64 grid (exact in six decimals).
    this.writeAncillary(4, fpga, 0, orbit, 0, Math.round(random.uniform(-1, 1) * TDC_MICRO_UNITS));
    this.writeAncillary(
      5,
      fpga,
      0,
      orbit,
      0,
      Math.round(random.uniform(-70, 70) * 64) * (TDC_MICRO_UNITS / 64),
    );
  }

  private writeAncillary(
    head: number,
    fpga: number,
    channel: number,
    orbit: number,
    bx: number,
    tdcMicro: number,
  ): void {
    if (this.rowsLeft <= 0) return;
    this.rowsLeft--;
    this.truth.rows++;
    this.truth.ancillaryRows++;
    this.window.push(head, fpga, channel, orbit % ORBIT_COUNTER_MODULUS, bx, tdcMicro);
  }

  /**
   * Writes a HEAD = 2 row at `ns` after the start of the current orbit (may fall in a neighbouring
   * orbit). Returns false when the row budget is exhausted.
   */
  private writeHit(fpga: number, channel: number, ns: number): boolean {
    if (this.rowsLeft <= 0) return false;
    this.rowsLeft--;
    this.truth.rows++;
    const orbitsAhead = Math.floor(ns / ORBIT_NS);
    const tdcCount = Math.min(Math.floor((ns - orbitsAhead * ORBIT_NS) / TDC_NS), TDC_COUNTS_PER_ORBIT - 1);
    const bx = Math.floor(tdcCount / TDC_PER_BX);
    const tdc = tdcCount - bx * TDC_PER_BX;
    const orbit = (this.orbit + orbitsAhead) % ORBIT_COUNTER_MODULUS;
    this.window.push(HEAD_HIT, fpga, channel, orbit, bx, tdc * TDC_MICRO_UNITS);
    return true;
  }
}
