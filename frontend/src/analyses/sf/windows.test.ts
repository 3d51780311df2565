import { describe, expect, it } from 'vitest';
import type { SfWindow } from './summary.ts';
import { windowSeries } from './windows.ts';

const T0 = Date.UTC(2018, 11, 31, 22, 0);
const SLIDE = 5 * 60_000;

function window(step: number, top: [string, number][], crimeTypes = top.length): SfWindow {
  const startMs = T0 + step * SLIDE;
  return {
    startMs,
    endMs: startMs + 2 * SLIDE,
    final: true,
    rows: top.reduce((sum, [, count]) => sum + count, 0),
    crimeTypes,
    top: top.map(([name, count]) => ({ name, count })),
  };
}

describe('windowSeries', () => {
  it('spaces windows by the slide, a missing window is 0, a type below a full top list is unknown', () => {
    const series = windowSeries(
      [
        window(0, [['Passing Call', 4]]),
        window(1, [['Traffic Stop', 2]], 14),
        window(3, [
          ['Passing Call', 1],
          ['Traffic Stop', 1],
        ]),
      ],
      ['Passing Call', 'Traffic Stop'],
      SLIDE,
    );
    expect(series.x).toEqual([0, 1, 2, 3].map((step) => (T0 + step * SLIDE) / 1000));
    expect(series.counts).toEqual([
      [4, null, 0, 1],
      [0, 2, 0, 1],
    ]);
  });

  it('is empty without windows', () => {
    expect(windowSeries([], ['a', 'b'], SLIDE)).toEqual({ x: [], counts: [[], []] });
  });
});
