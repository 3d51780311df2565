/**
 * The orbits a partition's state keeps open across batches (reducer.ts says when one closes), and
 * the orbit-level arithmetic: the multiplicity, gating and drift times of one whole orbit. Closing an
 * orbit in the reducer and counting the still-open orbits for the cumulative summary both go through
 * `OrbitSums.addOrbit`, so they give bit-identical histograms.
 *
 * Orbit numbers are UNWRAPPED: ORBIT_CNT is a 32-bit counter (it wraps every 2^32 × 89.1 µs ≈ 4.4
 * days), so each new orbit is placed in the 2^32-wide epoch closest to the previously opened one.
 * "Lowest orbit first" then still means "oldest first" across a wrap. The raw counter is the unwrapped
 * value modulo 2^32.
 */
import { CHAMBER_COUNT, CHANNELS_PER_CHAMBER, ORBIT_CNT_MAX, SCINTILLATOR_OFFSET_UNITS } from './detector.ts';
import { DRIFT_BINS, DRIFT_OVERFLOW, DRIFT_UNDERFLOW, driftBinOf } from './histogram.ts';
import { type DtTotals, zeroTotalsArrays } from './totals.ts';

/**
 * Orbits a partition keeps open. The window is counted in orbits, the DAQ's reordering in rows: a hit
 * is late (`lateHits`) only if at least this many newer orbits of its partition were seen before it
 * (reducer.ts). The generator (REORDER_WINDOW_ROWS = 32: a row waits a geometric number of rows, mean
 * 32, ~13 rows per orbit with hits) reaches at most 37 newer orbits over 1.3 M rows read as one stream
 * (`driftline analyze`), and 6 in a partition when the orbits are keyed over 10 partitions: margins of
 * 7× and 40×. For a late hit the delay would have to be ~256 × 13 rows, with a chance of about
 * (31/32)^3300 ≈ e^-100 per row. The 74 real rows reach 8 newer orbits. The state stays small: ~7 hits
 * per orbit, a full window ≈ 24–29 KB of JSON on generated data (state.test.ts checks < 40 KB).
 */
export const MAX_OPEN_ORBITS = 256;
/**
 * A second bound, on the hits held by the open orbits (the lowest orbits close until both hold), so
 * that a burst of dense orbits cannot push the state item towards DynamoDB's 400 KB: at 8192 hits the
 * state is ≤ ~100 KB of JSON with integer TDC counts, ~160 KB with fractional ones (state.test.ts).
 * Generated data holds at most ~1 760 open hits per partition, so this bound never closes an orbit
 * there.
 */
export const MAX_OPEN_HITS = 8192;

/** Scintillator time of an orbit without a scintillator hit (in memory; the codec writes -1). */
export const NO_SCINTILLATOR = Number.POSITIVE_INFINITY;

/** ORBIT_CNT wraps here. */
export const ORBIT_CNT_MODULUS = ORBIT_CNT_MAX + 1;

/**
 * Open orbits, columnar, sorted by orbit number (a merged state may hold the same number twice, once
 * per run). Hit `h` of the open set belongs to the orbit whose cumulative `hitCounts` range covers it;
 * the hits of an orbit are contiguous, in arrival order. Treat as immutable.
 */
export interface OpenOrbits {
  /** Unwrapped ORBIT_CNT of each open orbit, ascending. */
  readonly orbits: Float64Array;
  /** Earliest scintillator time of each orbit (thirtieths of a ns in the orbit), or NO_SCINTILLATOR. */
  readonly scintillatorTimes: Float64Array;
  /** 1 for an orbit reopened by a late hit: its later hits are late too. */
  readonly late: Uint8Array;
  /** Chamber hits of each orbit. */
  readonly hitCounts: Uint32Array;
  /** Per hit: chamber × 64 + chamber-local channel (the occupancy bin). */
  readonly hitSlots: Uint8Array;
  /** Per hit: BX × 750 + TDC × 25, thirtieths of a ns in the orbit (see detector.ts). */
  readonly hitTimes: Float64Array;
  /** Unwrapped number of the last orbit opened (the reference for unwrapping), NaN before the first. */
  readonly lastOpenedOrbit: number;
  /** Highest unwrapped orbit closed so far, -Infinity before the first: older orbits are late. */
  readonly closedThrough: number;
}

export function emptyOpenOrbits(): OpenOrbits {
  return allocateOpenOrbits(0, 0, Number.NaN, Number.NEGATIVE_INFINITY);
}

/**
 * Zeroed open-orbit arrays for `orbitCount` orbits and `hitCount` hits, all views of one buffer: the
 * reducer builds a new open set for every batch, and an ArrayBuffer costs far more than a view.
 */
export function allocateOpenOrbits(
  orbitCount: number,
  hitCount: number,
  lastOpenedOrbit: number,
  closedThrough: number,
): OpenOrbits {
  // One buffer, widest elements first so that every view is aligned.
  const buffer = new ArrayBuffer((orbitCount + hitCount) * (8 + 1) + orbitCount * (8 + 4));
  let offset = 0;
  const next = (bytes: number, count: number): number => {
    const start = offset;
    offset += bytes * count;
    return start;
  };
  return {
    orbits: new Float64Array(buffer, next(8, orbitCount), orbitCount),
    scintillatorTimes: new Float64Array(buffer, next(8, orbitCount), orbitCount),
    hitTimes: new Float64Array(buffer, next(8, hitCount), hitCount),
    hitCounts: new Uint32Array(buffer, next(4, orbitCount), orbitCount),
    late: new Uint8Array(buffer, next(1, orbitCount), orbitCount),
    hitSlots: new Uint8Array(buffer, next(1, hitCount), hitCount),
    lastOpenedOrbit,
    closedThrough,
  };
}

/** The unwrapped orbit of a raw ORBIT_CNT: the one closest to `reference` (NaN: the raw value). */
export function unwrapOrbit(raw: number, reference: number): number {
  if (Number.isNaN(reference)) return raw;
  return raw + ORBIT_CNT_MODULUS * Math.round((reference - raw) / ORBIT_CNT_MODULUS);
}

/** The raw 32-bit ORBIT_CNT of an unwrapped orbit. */
export function rawOrbit(orbit: number): number {
  const raw = orbit % ORBIT_CNT_MODULUS;
  return raw < 0 ? raw + ORBIT_CNT_MODULUS : raw;
}

const CHAMBER_OFFSET_UNITS = Float64Array.from(SCINTILLATOR_OFFSET_UNITS);
/** Active-channel bits of one orbit: two uint32 per chamber (slot >>> 5 picks the word). */
const MASK_WORDS = (CHAMBER_COUNT * CHANNELS_PER_CHAMBER) / 32;
/** slot >>> SLOT_CHAMBER_SHIFT is the chamber (64 channels per chamber). */
const SLOT_CHAMBER_SHIFT = Math.log2(CHANNELS_PER_CHAMBER);

/** Scratch of `addOrbit` (synchronous, so one is enough). */
const MASKS = new Uint32Array(MASK_WORDS);

/** Bits set in a uint32. */
function popCount(bits: number): number {
  let value = bits - ((bits >>> 1) & 0x55555555);
  value = (value & 0x33333333) + ((value >>> 2) & 0x33333333);
  return (((value + (value >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/**
 * Orbit-level counters of whole orbits, accumulated one orbit at a time into the arrays of a totals
 * (the reducer also counts its hit-level histograms into `arrays`).
 */
export class OrbitSums {
  orbitsWithHits = 0;
  orbitsWithScintillator = 0;
  readonly arrays = zeroTotalsArrays();

  /**
   * One whole orbit: its chamber hits `[start, end)` of `slots`/`times` and its earliest scintillator
   * time. Gated occupancy and drift times need the scintillator; an orbit with no chamber hit (a lone
   * scintillator hit) still counts in `orbitsWithScintillator`.
   */
  addOrbit(
    slots: Uint8Array,
    times: Float64Array,
    start: number,
    end: number,
    scintillatorTime: number,
  ): void {
    const masks = MASKS;
    for (let word = 0; word < MASK_WORDS; word++) masks[word] = 0;
    const gated = scintillatorTime !== NO_SCINTILLATOR;
    const { gatedOccupancy, driftTime, driftUnderflow, driftOverflow, multiplicity } = this.arrays;
    for (let hit = start; hit < end; hit++) {
      const slot = slots[hit] ?? 0;
      const word = slot >>> 5;
      masks[word] = (masks[word] ?? 0) | (1 << (slot & 31));
      if (!gated) continue;
      const chamber = slot >>> SLOT_CHAMBER_SHIFT;
      gatedOccupancy[slot] = (gatedOccupancy[slot] ?? 0) + 1;
      // drift = t_hit − (t_scint − offset[chamber])
      const drift = (times[hit] ?? 0) - scintillatorTime + (CHAMBER_OFFSET_UNITS[chamber] ?? 0);
      const bin = driftBinOf(drift);
      if (bin === DRIFT_UNDERFLOW) driftUnderflow[chamber] = (driftUnderflow[chamber] ?? 0) + 1;
      else if (bin === DRIFT_OVERFLOW) driftOverflow[chamber] = (driftOverflow[chamber] ?? 0) + 1;
      else {
        const driftBin = chamber * DRIFT_BINS + bin;
        driftTime[driftBin] = (driftTime[driftBin] ?? 0) + 1;
      }
    }
    let anyHit = false;
    for (let chamber = 0; chamber < CHAMBER_COUNT; chamber++) {
      const active = popCount(masks[2 * chamber] ?? 0) + popCount(masks[2 * chamber + 1] ?? 0);
      if (active === 0) continue;
      anyHit = true;
      const multiplicityBin = chamber * CHANNELS_PER_CHAMBER + active - 1;
      multiplicity[multiplicityBin] = (multiplicity[multiplicityBin] ?? 0) + 1;
    }
    if (anyHit) this.orbitsWithHits++;
    if (gated) this.orbitsWithScintillator++;
  }

  /** These counts as totals (the scalar hit-level counts zero). The arrays are handed over, not copied. */
  toTotals(): DtTotals {
    return {
      rowsRead: 0,
      rowsFiltered: 0,
      rejectedByReason: {},
      auxiliaryHits: 0,
      scintillatorHits: 0,
      lateHits: 0,
      orbitsWithHits: this.orbitsWithHits,
      orbitsWithScintillator: this.orbitsWithScintillator,
      ...this.arrays,
    };
  }
}

/** What the open orbits would add if they closed now (the cumulative summary counts them so). */
export function openOrbitsTotals(open: OpenOrbits): DtTotals {
  const sums = new OrbitSums();
  let start = 0;
  for (let index = 0; index < open.orbits.length; index++) {
    const end = start + (open.hitCounts[index] ?? 0);
    sums.addOrbit(open.hitSlots, open.hitTimes, start, end, open.scintillatorTimes[index] ?? NO_SCINTILLATOR);
    start = end;
  }
  return sums.toTotals();
}

/**
 * The union of several open sets (partitions hold disjoint orbits; runs may repeat numbers, and then
 * both copies are kept: they are different orbits). Sorted by orbit, ties in argument order.
 */
export function mergeOpenOrbits(all: readonly OpenOrbits[]): OpenOrbits {
  const entries: { orbit: number; set: OpenOrbits; index: number; hitStart: number }[] = [];
  let hitTotal = 0;
  let lastOpenedOrbit = Number.NaN;
  let closedThrough = Number.NEGATIVE_INFINITY;
  for (const set of all) {
    let hitStart = 0;
    for (let index = 0; index < set.orbits.length; index++) {
      entries.push({ orbit: set.orbits[index] ?? 0, set, index, hitStart });
      hitStart += set.hitCounts[index] ?? 0;
    }
    hitTotal += hitStart;
    // Only meaningful per partition; the highest keeps a merged state usable.
    if (Number.isNaN(lastOpenedOrbit) || set.lastOpenedOrbit > lastOpenedOrbit) {
      lastOpenedOrbit = set.lastOpenedOrbit;
    }
    closedThrough = Math.max(closedThrough, set.closedThrough);
  }
  entries.sort((a, b) => a.orbit - b.orbit);
  const merged = allocateOpenOrbits(entries.length, hitTotal, lastOpenedOrbit, closedThrough);
  let hit = 0;
  entries.forEach(({ orbit, set, index, hitStart }, position) => {
    const count = set.hitCounts[index] ?? 0;
    merged.orbits[position] = orbit;
    merged.scintillatorTimes[position] = set.scintillatorTimes[index] ?? NO_SCINTILLATOR;
    merged.late[position] = set.late[index] ?? 0;
    merged.hitCounts[position] = count;
    merged.hitSlots.set(set.hitSlots.subarray(hitStart, hitStart + count), hit);
    merged.hitTimes.set(set.hitTimes.subarray(hitStart, hitStart + count), hit);
    hit += count;
  });
  return merged;
}
