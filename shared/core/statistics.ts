/** Small order statistics shared by the health API and the benchmark. */

/** The nearest-rank percentile (`fraction` in 0–1) of values sorted ascending; undefined when empty. */
export function percentileOfSorted(sorted: readonly number[], fraction: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[index];
}

/** The nearest-rank percentile of values in any order; undefined when empty. */
export function percentile(values: readonly number[], fraction: number): number | undefined {
  return percentileOfSorted(
    [...values].sort((a, b) => a - b),
    fraction,
  );
}

/** The median (the mean of the middle two for an even count); 0 when empty. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}
