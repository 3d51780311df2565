/**
 * Counts by name (crime types, dispositions) and by window: small helpers over Maps, and the caps on
 * how many names they hold (limits.ts says why and how many).
 */

export type Counts = Map<string, number>;
/** Window start (ms, event time) → counts per crime type. */
export type WindowCounts = Map<number, Counts>;

/**
 * The bucket of rows whose name did not fit under a cap. The empty string is never a real name (a
 * row with an empty kept field is dropped), so it cannot collide with one; summaries report it as
 * `*_other`, never as a name.
 */
export const OTHER = '';

/** How many real names `counts` holds (OTHER aside). */
export function namedSize(counts: ReadonlyMap<string, number>): number {
  return counts.size - (counts.has(OTHER) ? 1 : 0);
}

/** The key to count `name` under: itself if `counts` knows it or has room for it (≤ limit names), else OTHER. */
export function admit(counts: ReadonlyMap<string, number> | undefined, name: string, limit: number): string {
  if (!counts || counts.has(name) || namedSize(counts) < limit) return name;
  return OTHER;
}

/** The `limit` real names ranked first (rankCounts) and the sum of all the others and of OTHER. */
export function rankNamed(
  counts: ReadonlyMap<string, number>,
  limit: number,
): { ranked: [string, number][]; other: number } {
  const ranked: [string, number][] = [];
  let other = 0;
  for (const entry of rankCounts(counts)) {
    if (entry[0] !== OTHER && ranked.length < limit) ranked.push(entry);
    else other += entry[1];
  }
  return { ranked, other };
}

/** `counts` with at most `limit` real names: the top ones by count, the rest added into OTHER. */
export function capCounts(counts: Counts, limit: number): Counts {
  if (namedSize(counts) <= limit) return counts;
  const { ranked, other } = rankNamed(counts, limit);
  const capped: Counts = new Map(ranked);
  capped.set(OTHER, other);
  return capped;
}

/** Every window capped to `limit` names (capCounts); the map is changed in place and returned. */
export function capWindows(windows: WindowCounts, limit: number): WindowCounts {
  for (const [start, counts] of windows) windows.set(start, capCounts(counts, limit));
  return windows;
}

export function increment(counts: Counts, name: string, by = 1): void {
  counts.set(name, (counts.get(name) ?? 0) + by);
}

export function addCounts(target: Counts, source: ReadonlyMap<string, number>): void {
  for (const [name, count] of source) increment(target, name, count);
}

export function sumCounts(parts: readonly ReadonlyMap<string, number>[]): Counts {
  const sum: Counts = new Map();
  for (const part of parts) addCounts(sum, part);
  return sum;
}

export function total(counts: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const count of counts.values()) sum += count;
  return sum;
}

/** Entries by count descending, then name ascending (code-unit order, so stable across locales). */
export function rankCounts(counts: ReadonlyMap<string, number>): [string, number][] {
  return [...counts].sort(([nameA, countA], [nameB, countB]) =>
    countA !== countB ? countB - countA : nameA < nameB ? -1 : nameA > nameB ? 1 : 0,
  );
}

export function copyWindows(windows: ReadonlyMap<number, ReadonlyMap<string, number>>): WindowCounts {
  const copy: WindowCounts = new Map();
  for (const [start, counts] of windows) copy.set(start, new Map(counts));
  return copy;
}

export function addWindows(
  target: WindowCounts,
  source: ReadonlyMap<number, ReadonlyMap<string, number>>,
): void {
  for (const [start, counts] of source) {
    const existing = target.get(start);
    if (existing) addCounts(existing, counts);
    else target.set(start, new Map(counts));
  }
}

export function incrementWindow(windows: WindowCounts, start: number, name: string): void {
  let counts = windows.get(start);
  if (!counts) {
    counts = new Map();
    windows.set(start, counts);
  }
  increment(counts, name);
}
