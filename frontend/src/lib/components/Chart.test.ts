import { render } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { axis, barSeries, lineSeries } from '../charts/uplot.svelte.ts';
import Chart from './Chart.svelte';

const options = {
  axes: [axis('x'), axis('rows/s')],
  series: [{ label: 'time' }, lineSeries('in', '#0072b2'), lineSeries('out', '#d55e00')],
  legend: { show: true, live: true },
};

/** The legend's value cells, series by series (the x series first). */
function legendValues(container: HTMLElement): string[] {
  return [...container.querySelectorAll('.u-legend .u-value')].map((cell) => cell.textContent ?? '');
}

describe('Chart', () => {
  it('shows the latest values in the legend without hovering (phones have no hover)', async () => {
    const { container, rerender } = render(Chart, {
      title: 'Throughput',
      options,
      data: [
        [1, 2, 3],
        [10, 20, 30],
        [9, 19, 29],
      ],
    });
    expect(legendValues(container).slice(1)).toEqual(['30', '29']);

    await rerender({
      title: 'Throughput',
      options,
      data: [
        [1, 2, 3, 4],
        [10, 20, 30, 1979.884],
        [9, 19, 29, 38.25],
      ],
    });
    // Latest values, without digits that only add noise.
    expect(legendValues(container).slice(1)).toEqual(['1,980', '38.3']);
  });

  // Regression test; the bug it caught was: every chart's legend showed the values at the last x
  // when not hovered, which for a histogram is its last bin: the drift-time legends read "hits: 0".
  // Fixed by: histograms show the total of their bins then (the bin's count under the cursor).
  it("a histogram's legend shows its total, not the value of its last bin", async () => {
    const histogram = {
      scales: { x: { time: false } },
      axes: [axis('drift time (ns)'), axis('hits')],
      series: [{ label: 'drift time (ns)' }, barSeries('hits', '#0072b2')],
      legend: { show: true, live: true },
    };
    const { container, rerender } = render(Chart, {
      title: 'Drift time',
      options: histogram,
      data: [
        [0, 10, 20, 30],
        [5, 1200, 300, 0],
      ],
    });
    expect(legendValues(container)[1]).toBe('total 1,505');

    await rerender({
      title: 'Drift time',
      options: histogram,
      data: [
        [0, 10, 20, 30],
        [5, 1300, 300, 0],
      ],
    });
    expect(legendValues(container)[1]).toBe('total 1,605');
  });
});
