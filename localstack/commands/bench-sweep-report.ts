/**
 * The sweep's output: its points as a Markdown report and its plots as SVG files, drawn with
 * vega-lite compiled to vega and rendered headless (no canvas, no browser). Pure apart from
 * `writeSweepReport`, which writes the files.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** The knobs the sweep turns, one at a time around the default point. */
export const FACTORS = ['partitions', 'rate', 'rowsPerRecord', 'batchSize', 'batchingWindowMs'] as const;
export type Factor = (typeof FACTORS)[number];

export type SweepSettings = Readonly<Record<Factor, number>>;

export const FACTOR_TITLES: Readonly<Record<Factor, string>> = {
  partitions: 'Kafka partitions (data_raw)',
  rate: 'input rate (rows/s; 0 = full speed)',
  rowsPerRecord: 'rows per Kafka message',
  batchSize: 'trigger batch size (records)',
  batchingWindowMs: 'trigger batching window (ms)',
};

export interface SweepPoint {
  readonly settings: SweepSettings;
  /** The factor this point varies (undefined: the default point itself). */
  readonly varies: Factor | undefined;
  readonly rows: number;
  /** Rows per second from the PUT to the last row aggregated. */
  readonly throughput: number;
  /** One aggregate invocation's duration ("batch processing time"), over the point's batches. */
  readonly batchMs: { readonly p50: number; readonly p99: number; readonly mean: number };
  readonly batches: number;
  readonly meanRecordsPerBatch: number;
  /** Produce → data_clean of a batch's oldest row. */
  readonly latencyMs: { readonly p50: number; readonly p99: number };
  /** A sample of the point's batches (records, ms), for the batch-size scatter. */
  readonly batchSample: readonly { readonly records: number; readonly durationMs: number }[];
}

export interface SweepRun {
  readonly date: string;
  readonly machine: string;
  readonly quick: boolean;
  readonly defaults: SweepSettings;
  readonly points: readonly SweepPoint[];
  /** Stack configurations that failed, with why: their points are missing from the plots. */
  readonly failures?: readonly string[];
  readonly seconds: number;
}

/** The points along one factor: the default point and those varying it, in the factor's order. */
export function pointsAlong(run: SweepRun, factor: Factor): SweepPoint[] {
  const along = run.points.filter((point) => point.varies === factor || point.varies === undefined);
  const key = (point: SweepPoint) =>
    factor === 'rate' && point.settings.rate === 0 ? Number.POSITIVE_INFINITY : point.settings[factor];
  return along.sort((a, b) => key(a) - key(b));
}

export function factorLabel(factor: Factor, value: number): string {
  if (factor === 'rate' && value === 0) return 'full speed';
  return String(value);
}

/** Long-form rows for a chart: one per point and measure. */
function chartRows(points: readonly SweepPoint[], factor: Factor) {
  return points.flatMap((point) => {
    const x = factorLabel(factor, point.settings[factor]);
    return [
      { x, panel: 'batch processing time (ms)', series: 'p50', value: point.batchMs.p50 },
      { x, panel: 'batch processing time (ms)', series: 'p99', value: point.batchMs.p99 },
      { x, panel: 'throughput (rows/s)', series: 'rows/s', value: point.throughput },
      { x, panel: 'latency, produce → data_clean (ms)', series: 'p50', value: point.latencyMs.p50 },
      { x, panel: 'latency, produce → data_clean (ms)', series: 'p99', value: point.latencyMs.p99 },
    ].filter((row) => Number.isFinite(row.value));
  });
}

/** Batch processing time, throughput and latency against one factor: three panels, one column. */
export function factorSpec(run: SweepRun, factor: Factor): TopLevelSpec {
  const points = pointsAlong(run, factor);
  const order = points.map((point) => factorLabel(factor, point.settings[factor]));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `driftline sweep: ${FACTOR_TITLES[factor]} (others at the default point)`,
    data: { values: chartRows(points, factor) },
    facet: { row: { field: 'panel', type: 'nominal', title: null, sort: ['batch processing time (ms)'] } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 420,
      height: 140,
      mark: { type: 'line', point: true },
      encoding: {
        x: {
          field: 'x',
          type: 'ordinal',
          sort: order,
          title: FACTOR_TITLES[factor],
          axis: { labelAngle: 0 },
        },
        y: { field: 'value', type: 'quantitative', title: null },
        color: { field: 'series', type: 'nominal', title: null },
      },
    },
    background: 'white',
  };
}

/** Every sampled batch of the sweep: its duration against the records it held. */
export function batchSizeScatterSpec(run: SweepRun): TopLevelSpec {
  const values = run.points.flatMap((point) =>
    point.batchSample
      .filter((batch) => batch.records > 0)
      .map((batch) => ({
        records: batch.records,
        ms: batch.durationMs,
        varies: point.varies ?? 'default point',
      })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'driftline sweep: batch processing time vs batch size (every sampled aggregate invocation)',
    data: { values },
    width: 520,
    height: 320,
    mark: { type: 'point', opacity: 0.5, filled: true, size: 14 },
    encoding: {
      x: { field: 'records', type: 'quantitative', scale: { type: 'log' }, title: 'records in the batch' },
      y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'aggregate invocation (ms)' },
      color: { field: 'varies', type: 'nominal', title: 'point varies' },
    },
    background: 'white',
  };
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function round(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value)) : '–';
}

export function plotFile(factor: Factor): string {
  return `vs-${factor}.svg`;
}

export const SCATTER_FILE = 'batch-time-vs-batch-size.svg';

/** The report: what was run, the plots (linked files), then the points as a table. */
export function reportMarkdown(run: SweepRun): string {
  const defaults = FACTORS.map((factor) => `${factor} ${factorLabel(factor, run.defaults[factor])}`).join(
    ', ',
  );
  const lines = [
    `# driftline bench --sweep${run.quick ? '-quick' : ''}, ${run.date}`,
    '',
    `Machine: ${run.machine}. ${run.points.length} points in ${Math.round(run.seconds)} s, one factor at a time ` +
      `around the default point (${defaults}). Batch processing time = one aggregate invocation's duration; ` +
      'throughput = rows from the PUT to the last row aggregated; latency = produce → data_clean of the oldest ' +
      'row of each batch. One run per point (a sweep shows shapes; the bench gives medians).',
    '',
    ...(run.failures ?? []).flatMap((failure) => [`**Failed, so missing below:** ${failure}`, '']),
    `![batch processing time vs batch size](${SCATTER_FILE})`,
    '',
    ...FACTORS.flatMap((factor) => [`![${FACTOR_TITLES[factor]}](${plotFile(factor)})`, '']),
    '| varies | partitions | rate | rows/msg | batch size | window ms | rows | rows/s | batches | records/batch | batch ms p50 | p99 | latency ms p50 | p99 |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...run.points.map((point) => {
      const s = point.settings;
      return (
        `| ${point.varies ?? 'default'} | ${s.partitions} | ${factorLabel('rate', s.rate)} | ${s.rowsPerRecord} | ` +
        `${s.batchSize} | ${s.batchingWindowMs} | ${point.rows} | ${round(point.throughput)} | ${point.batches} | ` +
        `${round(point.meanRecordsPerBatch)} | ${round(point.batchMs.p50)} | ${round(point.batchMs.p99)} | ` +
        `${round(point.latencyMs.p50)} | ${round(point.latencyMs.p99)} |`
      );
    }),
    '',
  ];
  return lines.join('\n');
}

/** Writes report.md, results.json and the SVG plots into `dir`; returns the files written. */
export async function writeSweepReport(dir: string, run: SweepRun): Promise<string[]> {
  const files: [string, string][] = [
    ['report.md', reportMarkdown(run)],
    ['results.json', `${JSON.stringify(run, null, 2)}\n`],
    [SCATTER_FILE, await renderSvg(batchSizeScatterSpec(run))],
  ];
  for (const factor of FACTORS) files.push([plotFile(factor), await renderSvg(factorSpec(run, factor))]);
  for (const [name, text] of files) await writeFile(join(dir, name), text);
  return files.map(([name]) => join(dir, name));
}
