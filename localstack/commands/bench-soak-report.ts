/**
 * The soak bench's arithmetic, pure: the least-squares slope of each process's RSS series, the
 * flatness rule it is judged by, and the series table it prints (one row per process).
 */
import { median } from '../../shared/core/statistics.ts';

export interface SoakSample {
  readonly seconds: number;
  readonly rows: number;
  /** RSS in MiB by process name. */
  readonly rssMiB: Readonly<Record<string, number>>;
}

/**
 * "Flat", as the soak judges it, over the second half of the run (after the warm-up): the RSS
 * grows by at most FLAT_SLOPE_MIB_PER_M_ROWS per million rows (least squares), and the last
 * quarter's median is at most FLAT_QUARTER_RATIO times the second quarter's. The slope bounds
 * growth per row; the medians bound growth relative to the process's size over a long run, which
 * the slope lets through (1.9 MiB per M rows is +28 MiB over 15 M rows, a quarter of a 110 MiB
 * process). Medians, not peaks: a peak is one sample, the top of one GC cycle, and a 110 MiB
 * sandbox's cycle moved its peak 15 % with its slope at +0.44 MiB per M rows; steady growth moves
 * the median, one cycle does not. The peaks are still measured and printed, for the eye.
 */
export const FLAT_SLOPE_MIB_PER_M_ROWS = 2;
export const FLAT_QUARTER_RATIO = 1.1;

export interface ProcessFit {
  readonly mibPerMillionRows: number;
  readonly mibPerMinute: number;
  readonly secondHalf: { readonly mibPerMillionRows: number; readonly mibPerMinute: number };
  readonly firstMiB: number | undefined;
  readonly peakMiB: number;
  readonly lastMiB: number | undefined;
  /** Median of the last quarter of the samples over the median of the second quarter: the rule's. */
  readonly lastToSecondQuarterMedian: number;
  /** Peak of the last quarter over the peak of the second quarter: for the eye, not the rule. */
  readonly lastToSecondQuarterPeak: number;
  readonly flat: boolean;
}

/** Least-squares slope of y over x; NaN with fewer than two distinct x. */
export function slope(points: readonly { readonly x: number; readonly y: number }[]): number {
  const n = points.length;
  const meanX = points.reduce((sum, point) => sum + point.x, 0) / n;
  const meanY = points.reduce((sum, point) => sum + point.y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const { x, y } of points) {
    covariance += (x - meanX) * (y - meanY);
    variance += (x - meanX) ** 2;
  }
  return variance === 0 ? Number.NaN : covariance / variance;
}

/** Every process name that appears in the samples, in order of first appearance. */
export function processNames(samples: readonly SoakSample[]): string[] {
  return [...new Set(samples.flatMap((sample) => Object.keys(sample.rssMiB)))];
}

function valuesOf(samples: readonly SoakSample[], name: string): number[] {
  return samples.flatMap((sample) => (sample.rssMiB[name] === undefined ? [] : [sample.rssMiB[name]]));
}

function peak(samples: readonly SoakSample[], name: string): number {
  return Math.max(...valuesOf(samples, name));
}

/** NaN without samples (a process not yet started), so that a ratio of it is not flat. */
function medianOf(samples: readonly SoakSample[], name: string): number {
  const values = valuesOf(samples, name);
  return values.length === 0 ? Number.NaN : median(values);
}

/** One process's fit: slopes over all samples and over the second half, peaks, and the verdict. */
export function fitProcess(samples: readonly SoakSample[], name: string): ProcessFit {
  const quarter = Math.floor(samples.length / 4);
  const half = samples.slice(Math.floor(samples.length / 2));
  const slopeOf = (over: readonly SoakSample[], x: (sample: SoakSample) => number) =>
    slope(
      over.flatMap((sample) => {
        const y = sample.rssMiB[name];
        return y === undefined ? [] : [{ x: x(sample), y }];
      }),
    );
  const perMillionRows = (sample: SoakSample) => sample.rows / 1e6;
  const perMinute = (sample: SoakSample) => sample.seconds / 60;
  const secondHalf = {
    mibPerMillionRows: slopeOf(half, perMillionRows),
    mibPerMinute: slopeOf(half, perMinute),
  };
  const lastQuarter = samples.slice(samples.length - quarter);
  const secondQuarter = samples.slice(quarter, 2 * quarter);
  const lastToSecondQuarterMedian = medianOf(lastQuarter, name) / medianOf(secondQuarter, name);
  return {
    mibPerMillionRows: slopeOf(samples, perMillionRows),
    mibPerMinute: slopeOf(samples, perMinute),
    secondHalf,
    firstMiB: samples.find((sample) => sample.rssMiB[name] !== undefined)?.rssMiB[name],
    peakMiB: peak(samples, name),
    lastMiB: samples.findLast((sample) => sample.rssMiB[name] !== undefined)?.rssMiB[name],
    lastToSecondQuarterMedian,
    lastToSecondQuarterPeak: peak(lastQuarter, name) / peak(secondQuarter, name),
    // NaN (too few samples to judge) is not flat.
    flat:
      secondHalf.mibPerMillionRows <= FLAT_SLOPE_MIB_PER_M_ROWS &&
      lastToSecondQuarterMedian <= FLAT_QUARTER_RATIO,
  };
}

export function fitProcesses(samples: readonly SoakSample[]): Record<string, ProcessFit> {
  return Object.fromEntries(processNames(samples).map((name) => [name, fitProcess(samples, name)]));
}

/** The sample nearest each whole step of `stepRows` rows (the first sample and the last too). */
function columnSamples(samples: readonly SoakSample[], stepRows: number): SoakSample[] {
  const last = samples.at(-1);
  if (!last) return [];
  const picked = new Set<SoakSample>([samples[0] as SoakSample]);
  for (let rows = stepRows; rows < last.rows; rows += stepRows) {
    const reached = samples.find((sample) => sample.rows >= rows);
    if (reached) picked.add(reached);
  }
  picked.add(last);
  return [...picked];
}

/**
 * The RSS series as a table, one row per process and a column per `stepRows` rows aggregated
 * (the sample that first reached it): the series at a glance, the full one is in the JSON.
 */
export function seriesTable(samples: readonly SoakSample[], stepRows = 1_000_000): string[] {
  const columns = columnSamples(samples, stepRows);
  const names = processNames(samples);
  const width = Math.max(7, ...names.map((name) => name.length));
  const cell = (text: string) => text.padStart(6);
  const header = `${'M rows'.padEnd(width)} ${columns.map((sample) => cell((sample.rows / 1e6).toFixed(1))).join(' ')}`;
  const rows = names.map((name) => {
    const values = columns.map((sample) => {
      const mib = sample.rssMiB[name];
      return cell(mib === undefined ? '-' : mib.toFixed(0));
    });
    return `${name.padEnd(width)} ${values.join(' ')}`;
  });
  return [header, ...rows];
}

/** One line per process: its slopes, its RSS first → peak → last, and PASS/FAIL against the rule. */
export function verdictLine(name: string, fit: ProcessFit): string {
  const figure = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : 'n/a');
  return (
    `${fit.flat ? 'PASS' : 'FAIL'}  ${name}: second half ${figure(fit.secondHalf.mibPerMillionRows)} MiB per M rows ` +
    `(${figure(fit.secondHalf.mibPerMinute)} MiB/min), last/second quarter median ${figure(fit.lastToSecondQuarterMedian)} ` +
    `(peak ${figure(fit.lastToSecondQuarterPeak)}); ` +
    `whole run ${figure(fit.mibPerMillionRows)} MiB per M rows; ` +
    `first → peak → last ${fit.firstMiB?.toFixed(0)} → ${fit.peakMiB.toFixed(0)} → ${fit.lastMiB?.toFixed(0)} MiB`
  );
}

/** Rows in each file the soak replays: its length is a number of these files. */
export const SOAK_FILE_ROWS = 1_000_000;
/**
 * 30 M rows by default (4–5 min here): over the second half of a 10 M-row run, a wobble of a few
 * MiB already reads as ±2 MiB per M rows, so flat processes failed the rule at its edges (the
 * broker +2.15 at 646 → 670 → 667 MiB); over 15 M rows the same wobble is a third of that.
 */
export const SOAK_DEFAULT_FILES = 30;

/**
 * The soak's length from `--soak-files N` (N files of a million rows each): N itself, a whole
 * number from 1; without the option 10, or 1 with `--quick`. A message when N is not such a number.
 */
export function soakFiles(option: string | undefined, quick: boolean): number | { readonly error: string } {
  if (option === undefined) return quick ? 1 : SOAK_DEFAULT_FILES;
  const files = /^\d+$/.test(option) ? Number(option) : Number.NaN;
  return Number.isSafeInteger(files) && files >= 1
    ? files
    : { error: `--soak-files takes a whole number of million-row files from 1, not "${option}"` };
}

export const FLATNESS_RULE =
  `flat = over the second half, at most ${FLAT_SLOPE_MIB_PER_M_ROWS} MiB per M rows (least squares) ` +
  `and the last quarter's median at most ${FLAT_QUARTER_RATIO}× the second quarter's`;
