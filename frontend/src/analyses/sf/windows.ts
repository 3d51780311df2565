import type { SfWindow } from './summary.ts';

export interface WindowSeries {
  /** Window starts, seconds (uPlot's time unit), evenly spaced by the slide. */
  readonly x: number[];
  /** [type][point]: the type's count in that window; null where the summary cannot tell. */
  readonly counts: (number | null)[][];
}

/** At most this many points, whatever the windows claim (12 are listed). */
const MAX_POINTS = 500;

/**
 * Counts of `types` per event-time window, over window start. A slide step with no window between the
 * oldest and newest listed is a window without rows (0), not a gap. A window lists only its top 10
 * types: a type missing from it is 0 when the list is complete (`crimeTypes` ≤ listed), otherwise
 * unknown (null, drawn as a gap) since it may be just below the 10th.
 */
export function windowSeries(
  windows: readonly SfWindow[],
  types: readonly string[],
  slideMs: number,
): WindowSeries {
  const first = windows[0];
  const last = windows.at(-1);
  if (!first || !last || slideMs <= 0) return { x: [], counts: types.map(() => []) };
  const byStart = new Map(windows.map((window) => [window.startMs, window]));
  const x: number[] = [];
  const counts: (number | null)[][] = types.map(() => []);
  for (let start = first.startMs; start <= last.startMs && x.length < MAX_POINTS; start += slideMs) {
    const window = byStart.get(start);
    x.push(start / 1000);
    types.forEach((type, index) => {
      counts[index]?.push(countIn(window, type));
    });
  }
  return { x, counts };
}

function countIn(window: SfWindow | undefined, type: string): number | null {
  if (!window) return 0;
  const listed = window.top.find((entry) => entry.name === type);
  if (listed) return listed.count;
  return window.crimeTypes <= window.top.length ? 0 : null;
}
