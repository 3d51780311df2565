/**
 * Maps ORBIT_CNT values to dense group numbers 0, 1, 2 … within one batch, without allocating per
 * lookup: an open-addressing hash table over typed arrays (a `Map` keyed by numbers above 2^31 boxes
 * every key as a heap number).
 *
 * The table is reused across batches; `clear()` empties only the slots it used.
 */
const EMPTY_SLOT = -1;
const INITIAL_CAPACITY = 1024;

export class OrbitIndex {
  private keys = new Float64Array(INITIAL_CAPACITY);
  private groups = new Int32Array(INITIAL_CAPACITY).fill(EMPTY_SLOT);
  private mask = INITIAL_CAPACITY - 1;
  /** Orbit of each group, in order of first appearance. */
  private orbitsOfGroups = new Float64Array(INITIAL_CAPACITY);
  private groupCount = 0;
  /** Rows of one orbit usually arrive together: remember the last answer. */
  private lastOrbit = Number.NaN;
  private lastGroup = EMPTY_SLOT;

  get size(): number {
    return this.groupCount;
  }

  /** Orbit of a group number handed out by `groupOf`. */
  orbitOf(group: number): number {
    return this.orbitsOfGroups[group] ?? Number.NaN;
  }

  /** The group of `orbit`, creating a new one (numbered `size` before the call) if it is new. */
  groupOf(orbit: number): number {
    if (orbit === this.lastOrbit) return this.lastGroup;
    let slot = hashSlot(orbit, this.mask);
    for (;;) {
      const group = this.groups[slot] ?? EMPTY_SLOT;
      if (group === EMPTY_SLOT) break;
      if (this.keys[slot] === orbit) {
        this.lastOrbit = orbit;
        this.lastGroup = group;
        return group;
      }
      slot = (slot + 1) & this.mask;
    }
    const group = this.groupCount++;
    this.keys[slot] = orbit;
    this.groups[slot] = group;
    if (group >= this.orbitsOfGroups.length) {
      const grown = new Float64Array(this.orbitsOfGroups.length * 2);
      grown.set(this.orbitsOfGroups);
      this.orbitsOfGroups = grown;
    }
    this.orbitsOfGroups[group] = orbit;
    // Keep the load factor at or below 1/2 so probe sequences stay short.
    if (this.groupCount * 2 > this.keys.length) this.grow();
    this.lastOrbit = orbit;
    this.lastGroup = group;
    return group;
  }

  clear(): void {
    for (let group = 0; group < this.groupCount; group++) {
      const orbit = this.orbitsOfGroups[group] ?? 0;
      let slot = hashSlot(orbit, this.mask);
      while (this.keys[slot] !== orbit || this.groups[slot] === EMPTY_SLOT) slot = (slot + 1) & this.mask;
      this.groups[slot] = EMPTY_SLOT;
    }
    this.groupCount = 0;
    this.lastOrbit = Number.NaN;
    this.lastGroup = EMPTY_SLOT;
  }

  private grow(): void {
    const capacity = this.keys.length * 2;
    this.keys = new Float64Array(capacity);
    this.groups = new Int32Array(capacity).fill(EMPTY_SLOT);
    this.mask = capacity - 1;
    for (let group = 0; group < this.groupCount; group++) {
      const orbit = this.orbitsOfGroups[group] ?? 0;
      let slot = hashSlot(orbit, this.mask);
      while (this.groups[slot] !== EMPTY_SLOT) slot = (slot + 1) & this.mask;
      this.keys[slot] = orbit;
      this.groups[slot] = group;
    }
  }
}

/**
 * Slot of an orbit. `orbit & mask` converts to int32 first, which keeps the low 32 bits of the exact
 * integer: that is all a hash needs (consecutive orbits land in consecutive slots). The orbit value
 * itself is only ever stored and compared as a float64.
 */
function hashSlot(orbit: number, mask: number): number {
  return orbit & mask;
}
