/** Counts by name (crime types, dispositions) and by window: small helpers over Maps. */

export type Counts = Map<string, number>;
/** Window start (ms, event time) → counts per crime type. */
export type WindowCounts = Map<number, Counts>;

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
