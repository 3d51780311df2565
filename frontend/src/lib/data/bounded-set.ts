/**
 * A set that remembers at most `capacity` keys, forgetting the oldest first. Used to drop batches the
 * API sends again (it re-reads a little behind the cursor): only recent ids can come back, so a
 * bounded memory of them is enough.
 */
export class BoundedSet<T> {
  private readonly keys = new Set<T>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`BoundedSet: capacity must be a positive integer, got ${capacity}`);
    }
  }

  get size(): number {
    return this.keys.size;
  }

  has(key: T): boolean {
    return this.keys.has(key);
  }

  /** Adds `key`; returns false when it was already there. */
  add(key: T): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.capacity) {
      // A Set iterates in insertion order: the first key is the oldest.
      const oldest = this.keys.values().next();
      if (!oldest.done) this.keys.delete(oldest.value);
    }
    return true;
  }
}
