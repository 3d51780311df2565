export interface BarScale {
  /** The axis' end: a round number ≥ the largest value (1 when there is none). */
  readonly max: number;
  /** Round tick values from 0 to max. */
  readonly ticks: readonly number[];
}

/** A 0-based linear scale with about `target` round steps (1, 2 or 5 × 10^k; whole numbers). */
export function barScale(largest: number, target = 4): BarScale {
  if (!(Number.isFinite(largest) && largest > 0)) return { max: 1, ticks: [0, 1] };
  const rough = largest / target;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? rough);
  const max = Math.ceil(largest / step) * step;
  const ticks: number[] = [];
  for (let tick = 0; tick <= max + step / 2; tick += step) ticks.push(tick);
  return { max, ticks };
}
