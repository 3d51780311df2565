import { describe, expect, it } from 'vitest';
import { SWEEP_DEFAULTS, sweepPlan } from '../../../localstack/commands/bench-sweep.ts';

describe('the sweep plan', () => {
  it('varies one factor at a time around the default point, one stack per configuration', () => {
    const plans = sweepPlan(false);
    const points = plans.flatMap((plan) => plan.points.map((point) => ({ ...plan, ...point })));
    // The default point, then 4 + 2 + 3 + 2 + 3 variations.
    expect(points).toHaveLength(15);
    expect(points.filter((point) => point.varies === undefined)).toHaveLength(1);
    expect(points.filter((point) => point.varies === 'partitions').map((point) => point.partitions)).toEqual([
      1, 5, 100, 200,
    ]);
    expect(points.filter((point) => point.varies === 'rate').map((point) => point.rate)).toEqual([1000, 0]);
    for (const point of points.filter((candidate) => candidate.varies !== 'partitions'))
      expect(point.partitions).toBe(SWEEP_DEFAULTS.partitions);
    // Rate and rows per message need no stack of their own: 1 + 4 partitions + 2 batch sizes + 3 windows.
    expect(plans).toHaveLength(10);
  });

  it('keeps the smoke run small', () => {
    const plans = sweepPlan(true);
    expect(plans.flatMap((plan) => plan.points)).toHaveLength(6);
    expect(plans.every((plan) => plan.seconds <= 5)).toBe(true);
  });
});
