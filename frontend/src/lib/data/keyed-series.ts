/**
 * Time-keyed points (e.g. the API's time buckets), sorted by key, at most `capacity` of them. A point
 * fetched again replaces the one with the same key (a bucket keeps filling while it is recent).
 */
export class KeyedSeries<T> {
  private points: { key: number; value: T }[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`KeyedSeries: capacity must be a positive integer, got ${capacity}`);
    }
  }

  get size(): number {
    return this.points.length;
  }

  upsert(key: number, value: T): void {
    const points = this.points;
    // Points arrive mostly at the end: search from there.
    let index = points.length;
    while (index > 0 && (points[index - 1]?.key ?? Number.NEGATIVE_INFINITY) > key) index -= 1;
    const before = points[index - 1];
    if (before !== undefined && before.key === key) {
      before.value = value;
      return;
    }
    points.splice(index, 0, { key, value });
    if (points.length > this.capacity) points.splice(0, points.length - this.capacity);
  }

  /** Forgets points with a key below `minKey`. */
  dropBefore(minKey: number): void {
    const firstKept = this.points.findIndex((point) => point.key >= minKey);
    if (firstKept === -1) this.points = [];
    else if (firstKept > 0) this.points.splice(0, firstKept);
  }

  entries(): readonly { readonly key: number; readonly value: T }[] {
    return this.points.map((point) => ({ key: point.key, value: point.value }));
  }
}
