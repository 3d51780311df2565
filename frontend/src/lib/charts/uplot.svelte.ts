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
    const chart = untrack(() => new uPlot({ ...options(), width: widthOf(node), height }, data(), node));
    $effect(() => {
      chart.setData(data());
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

/** A histogram series drawn as bars (bins are the x values: their centres). */
export function barSeries(label: string, colour: string, fill = `${colour}cc`): uPlot.Series {
  return {
    label,
    stroke: colour,
    fill,
    width: 1,
    points: { show: false },
    paths: uPlot.paths.bars?.({ size: [1, 100], gap: 0, align: 0 }),
  };
}

export function lineSeries(label: string, colour: string, extra: uPlot.Series = {}): uPlot.Series {
  return { label, stroke: colour, width: 2, points: { show: false }, ...extra };
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
