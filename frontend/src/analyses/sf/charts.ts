/** The sf panels' uPlot options: counts per event-time window, on an SF-local time axis. */
import uPlot from 'uplot';
import { OKABE_ITO } from '../../lib/charts/palette.ts';
import { axis, type ChartOptions, lineSeries } from '../../lib/charts/uplot.svelte.ts';
import { formatEventClock, formatEventDay, formatEventTime } from './summary.ts';

/** One colour per line, by rank (yellow is left out: too light on white). */
export const LINE_COLOURS: readonly string[] = [
  OKABE_ITO.blue,
  OKABE_ITO.orange,
  OKABE_ITO.bluishGreen,
  OKABE_ITO.reddishPurple,
  OKABE_ITO.vermillion,
];

/** Calls are whole: no 0.25 ticks on a small scale. */
const WHOLE_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000,
];

/**
 * Event time is SF wall-clock time stored as if it were UTC: uPlot places and labels ticks in UTC
 * (not the viewer's zone), hh:mm, with the day under the first tick and under each new day.
 */
function eventTimeAxis(): uPlot.Axis {
  return axis('event time (SF local)', {
    size: 44,
    space: 56,
    values: (_u, splits) =>
      splits.map((seconds, index) => {
        const ms = seconds * 1000;
        const previous = splits[index - 1];
        const newDay = previous === undefined || formatEventDay(previous * 1000) !== formatEventDay(ms);
        return newDay ? `${formatEventClock(ms)}\n${formatEventDay(ms)}` : formatEventClock(ms);
      }),
  });
}

/** Built once per set of crime types: a line each, over window start. */
export function windowChartOptions(types: readonly string[]): ChartOptions {
  return {
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC'),
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
    axes: [eventTimeAxis(), axis('calls per window', { size: 48, incrs: WHOLE_STEPS })],
    series: [
      {
        label: 'window start',
        value: (_u, seconds) => (seconds === null ? '–' : formatEventTime(seconds * 1000)),
      },
      ...types.map((type, index) =>
        lineSeries(type, LINE_COLOURS[index % LINE_COLOURS.length] ?? OKABE_ITO.black, {
          points: { show: true, size: 5 },
        }),
      ),
    ],
    legend: { show: true, live: true },
  };
}
