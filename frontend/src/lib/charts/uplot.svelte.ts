/**
 * uPlot through an attachment: the chart is built once when its element mounts, then updated in
 * place with `setData` whenever the data it reads changes, resized with its container, and
 * destroyed with the element.
 */
import { untrack } from 'svelte';
import type { Attachment } from 'svelte/attachments';
import uPlot from 'uplot';

export type ChartOptions = Omit<uPlot.Options, 'width' | 'height'>;

function widthOf(node: HTMLElement): number {
  // jsdom (tests) lays nothing out: give uPlot a sensible size there.
  return Math.max(120, Math.floor(node.clientWidth || 320));
}

export function uplotChart(
  options: () => ChartOptions,
  data: () => uPlot.AlignedData,
  height: number,
): Attachment<HTMLElement> {
  return (node) => {
    const built = untrack(options);
    // The legend shows the values under the cursor. With no cursor (pointer elsewhere, or a phone,
    // which has no hover) a time series shows its latest values, readable without hovering. A
    // histogram (x not time: bins) has no "latest": its last bin is just the highest bin, so it
    // shows what its series says with no bin pointed at (barSeries: the total).
    const timeX = built.scales?.x?.time !== false;
    const showLatestUnlessHovered = (u: uPlot) => {
      if (u.cursor.left !== undefined && u.cursor.left >= 0) return;
      const points = u.data[0]?.length ?? 0;
      if (!timeX) u.setLegend({ idxs: u.series.map(() => null) });
      else if (points > 0) u.setLegend({ idx: points - 1 });
    };
    const chart = untrack(
      () =>
        new uPlot(
          {
            ...built,
            width: widthOf(node),
            height,
            hooks: {
              ...built.hooks,
              setCursor: [...(built.hooks?.setCursor ?? []), showLatestUnlessHovered],
            },
          },
          data(),
          node,
        ),
    );
    $effect(() => {
      chart.setData(data());
      showLatestUnlessHovered(chart);
    });
    let width = widthOf(node);
    const observer =
      typeof ResizeObserver === 'undefined'
        ? undefined
        : new ResizeObserver(() => {
            const next = widthOf(node);
            if (next !== width) {
              width = next;
              chart.setSize({ width, height });
            }
          });
    observer?.observe(node);
    return () => {
      observer?.disconnect();
      chart.destroy();
    };
  };
}

const AXIS_FONT = '11px system-ui, sans-serif';
const LABEL_FONT = '600 11px system-ui, sans-serif';

/** An axis with a label (and unit) in the dashboard's style. */
export function axis(label: string, extra: uPlot.Axis = {}): uPlot.Axis {
  return {
    label,
    font: AXIS_FONT,
    labelFont: LABEL_FONT,
    labelSize: 18,
    labelGap: 0,
    stroke: '#37474f',
    grid: { stroke: '#e3e7ea', width: 1 },
    ticks: { stroke: '#cfd8dc', width: 1, size: 4 },
    ...extra,
  };
}

/**
 * A histogram series drawn as bars (bins are the x values: their centres). Its legend value is the
 * count of the bin under the cursor and, with no bin pointed at, the total of all bins.
 */
export function barSeries(label: string, colour: string, fill = `${colour}cc`): uPlot.Series {
  return {
    label,
    stroke: colour,
    fill,
    width: 1,
    points: { show: false },
    value: histogramLegendValue,
    paths: uPlot.paths.bars?.({ size: [1, 100], gap: 0, align: 0 }),
  };
}

const wholeNumber = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const smallNumber = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/** A legend value: grouped digits, no decimals that only add noise (1,980 rows/s, not 1,979.884). */
export function legendValue(_u: uPlot, value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '–';
  return Math.abs(value) >= 100 ? wholeNumber.format(value) : smallNumber.format(value);
}

/** A bin's count, or `total N` over every bin when no bin is pointed at (`idx` null). */
export function histogramLegendValue(
  u: uPlot,
  value: number | null,
  seriesIdx: number,
  idx: number | null,
): string {
  if (idx !== null) return legendValue(u, value);
  let total = 0;
  for (const count of u.data[seriesIdx] ?? []) total += count ?? 0;
  return `total ${legendValue(u, total)}`;
}

export function lineSeries(label: string, colour: string, extra: uPlot.Series = {}): uPlot.Series {
  return { label, stroke: colour, width: 2, points: { show: false }, value: legendValue, ...extra };
}

const clockTime = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

/** A time axis with hh:mm:ss ticks (uPlot's default adds a date row that crowds narrow charts). */
export function timeAxis(): uPlot.Axis {
  return axis('time (local)', {
    size: 30,
    space: 64,
    values: (_u, splits) => splits.map((seconds) => clockTime.format(seconds * 1000)),
  });
}
