import { describe, expect, it } from 'vitest';
import { slope } from '../../../localstack/commands/bench-soak.ts';

describe('bench soak: the least-squares slope of an RSS series', () => {
  it('is the line’s slope for points on a line, and near 0 for flat noise', () => {
    expect(slope([0, 1, 2, 3].map((x) => ({ x, y: 100 + 2.5 * x })))).toBeCloseTo(2.5, 10);
    const flat = [0, 1, 2, 3, 4, 5].map((x) => ({ x, y: 200 + (x % 2 === 0 ? 1 : -1) }));
    expect(Math.abs(slope(flat))).toBeLessThan(0.5);
  });

  it('is NaN when every point has the same x (no series to fit)', () => {
    expect(
      slope([
        { x: 1, y: 2 },
        { x: 1, y: 3 },
      ]),
    ).toBeNaN();
  });
});
