/**
 * Sets `key` in `map` as its most recent entry and forgets the oldest beyond `limit` (a Map keeps
 * insertion order): a bounded memory of the last things a long-lived container saw.
 */
export function setRecent<K, V>(map: Map<K, V>, key: K, value: V, limit: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > limit) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
}
