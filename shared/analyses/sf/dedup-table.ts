/**
 * The deduplication keys of one partition: an open-addressing hash set of 64-bit triple hashes
 * (triple-hash.ts) in typed arrays, with linear probing and a load factor of at most 1/2.
 *
 * Why typed arrays: `applyBatch` must leave its input state untouched, so every batch works on a copy.
 * Copying this table is a memcpy (about 1 ms for 200,000 keys), where copying a `Set` of strings is
 * ~20× slower and several times larger.
 *
 * Bounded mode also keeps each key's event time, so keys older than a cutoff can be evicted. A call's
 * event time is part of its triple, so a duplicate always carries exactly the time of the key it
 * duplicates: once no row of time `t` can be checked any more (t < watermark − horizon), keys of time `t`
 * are useless and evicting them changes no result — only when it happens (reducer.ts).
 *
 * The empty slot is (0, 0); a hash that is (0, 0) is stored as (0, 1) (one more collision in 2⁶⁴).
 */

const MIN_CAPACITY = 1024;

function capacityFor(keys: number): number {
  let capacity = MIN_CAPACITY;
  while (keys * 2 > capacity) capacity *= 2;
  return capacity;
}

export class DedupTable {
  private constructor(
    private hi: Uint32Array,
    private lo: Uint32Array,
    /** Event time per slot (bounded mode), else null. */
    private times: Float64Array | null,
    private count: number,
    /** Smallest event time stored (bounded mode), +∞ when unknown or empty. */
    private earliest: number,
  ) {}

  static empty(keepsTimes: boolean, expectedKeys = 0): DedupTable {
    const capacity = capacityFor(expectedKeys);
    return new DedupTable(
      new Uint32Array(capacity),
      new Uint32Array(capacity),
      keepsTimes ? new Float64Array(capacity) : null,
      0,
      Number.POSITIVE_INFINITY,
    );
  }

  get size(): number {
    return this.count;
  }

  get keepsTimes(): boolean {
    return this.times !== null;
  }

  /** Smallest event time of a stored key (+∞ when empty or when times are not kept). */
  get earliestTime(): number {
    return this.earliest;
  }

  clone(): DedupTable {
    return new DedupTable(
      this.hi.slice(),
      this.lo.slice(),
      this.times ? this.times.slice() : null,
      this.count,
      this.earliest,
    );
  }

  /** Adds a key (mutates this table); false when it was already there. */
  add(hi: number, rawLo: number, eventMs: number): boolean {
    const lo = hi === 0 && rawLo === 0 ? 1 : rawLo;
    if ((this.count + 1) * 2 > this.hi.length) this.rehash(this.hi.length * 2);
    const mask = this.hi.length - 1;
    let slot = lo & mask;
    for (; ; slot = (slot + 1) & mask) {
      const slotHi = this.hi[slot] ?? 0;
      const slotLo = this.lo[slot] ?? 0;
      if (slotHi === hi && slotLo === lo) return false;
      if (slotHi === 0 && slotLo === 0) break;
    }
    this.hi[slot] = hi;
    this.lo[slot] = lo;
    if (this.times) {
      this.times[slot] = eventMs;
      if (eventMs < this.earliest) this.earliest = eventMs;
    }
    this.count++;
    return true;
  }

  /** True when the next `add` of a new key would double the table. */
  get full(): boolean {
    return (this.count + 1) * 2 > this.hi.length;
  }

  /**
   * Drops the keys whose event time is before `cutoffMs` (mutates this table; bounded mode only).
   * Returns how many were dropped. The table shrinks to fit what is left.
   */
  evictBefore(cutoffMs: number): number {
    const times = this.times;
    if (!times || !(this.earliest < cutoffMs)) return 0;
    const before = this.count;
    const survivors: number[] = [];
    this.forEachKey((hi, lo, time) => {
      if (time >= cutoffMs) survivors.push(hi, lo, time);
    });
    const next = DedupTable.empty(true, survivors.length / 3);
    for (let index = 0; index < survivors.length; index += 3) {
      next.add(survivors[index] ?? 0, survivors[index + 1] ?? 0, survivors[index + 2] ?? 0);
    }
    this.hi = next.hi;
    this.lo = next.lo;
    this.times = next.times;
    this.count = next.count;
    this.earliest = next.earliest;
    return before - this.count;
  }

  /** Every key with its event time (NaN when times are not kept), in slot order. */
  forEachKey(visit: (hi: number, lo: number, eventMs: number) => void): void {
    const { hi, lo, times } = this;
    for (let slot = 0; slot < hi.length; slot++) {
      const slotHi = hi[slot] ?? 0;
      const slotLo = lo[slot] ?? 0;
      if (slotHi === 0 && slotLo === 0) continue;
      visit(slotHi, slotLo, times ? (times[slot] ?? Number.NaN) : Number.NaN);
    }
  }

  private rehash(capacity: number): void {
    const old = { hi: this.hi, lo: this.lo, times: this.times };
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.times = old.times ? new Float64Array(capacity) : null;
    const mask = capacity - 1;
    for (let from = 0; from < old.hi.length; from++) {
      const keyHi = old.hi[from] ?? 0;
      const keyLo = old.lo[from] ?? 0;
      if (keyHi === 0 && keyLo === 0) continue;
      let slot = keyLo & mask;
      while ((this.hi[slot] ?? 0) !== 0 || (this.lo[slot] ?? 0) !== 0) slot = (slot + 1) & mask;
      this.hi[slot] = keyHi;
      this.lo[slot] = keyLo;
      if (this.times && old.times) this.times[slot] = old.times[from] ?? 0;
    }
  }
}

/** The union of several tables (partition states are disjoint, but duplicates are handled anyway). */
export function unionTables(tables: readonly DedupTable[], keepsTimes: boolean): DedupTable {
  const total = tables.reduce((sum, table) => sum + table.size, 0);
  const union = DedupTable.empty(keepsTimes, total);
  for (const table of tables) table.forEachKey((hi, lo, time) => union.add(hi, lo, time));
  return union;
}
