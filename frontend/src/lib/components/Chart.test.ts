import { render } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { axis, lineSeries } from '../charts/uplot.svelte.ts';
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
});
