/**
 * Whether the pipeline keeps up with the replays, from what the demo reads every second: the rows
 * per second the running paced replays put in (their rates), the rows aggregated per second and
 * the batch latency. When it does not keep up, the demo says so — input rate against output rate,
 * and a lag that grows — with what to change, instead of quietly showing latencies that climb.
 *
 * Falling behind means, over the last PACE_WINDOW_MS, with the median latency above a second: more
 * rows per second went in than came out, or the median latency kept growing; or nothing came out
 * at all (no batch in the health window) while rows went in: stuck. Only paced replays count
 * (rate > 0): a full-speed replay is meant to go as fast as the pipeline can, a backlog included.
 * (The input is the replays' asked rate: their progress moves in checkpoint steps of up to 10,000
 * rows, too coarse to measure a rate between two ticks.)
 */

export interface PaceSample {
  /** Rows per second the running paced replays put in (the sum of their rates). */
  readonly rowsInPerSecond: number;
  /** Rows aggregated per second over the health window. */
  readonly rowsOutPerSecond: number;
  readonly latencyP50Ms: number | null;
}

interface Tick extends PaceSample {
  readonly atMs: number;
}

/** The span the verdict looks at. */
export const PACE_WINDOW_MS = 30_000;
/** Less than this much of a window, no verdict. */
const MIN_SPAN_MS = 20_000;
/** Input above output by this factor counts as falling behind (output is measured over 10 s). */
const IN_OVER_OUT = 1.15;
/** Growth of the median latency over the window that counts as a growing lag. */
const LAG_GROWTH_MS = 1_000;
/** Below this median latency nothing is behind, whatever the rates say. */
const SLOW_LATENCY_MS = 1_000;

export interface PaceVerdict {
  readonly rowsInPerSecond: number;
  readonly rowsOutPerSecond: number;
  readonly latencyP50Ms: number | null;
  /** How much the median latency grew over the window. */
  readonly lagGrowthMs: number | null;
  /** No batch aggregated during the whole window, while rows went in. */
  readonly stalled: boolean;
  readonly fallingBehind: boolean;
}

export class PaceWatch {
  private readonly ticks: Tick[] = [];

  /** Adds a sample taken at `atMs`; the verdict over the window, once it spans enough of one. */
  observe(atMs: number, sample: PaceSample): PaceVerdict | undefined {
    // No paced input (none running, or full speed): nothing to keep up with; start over.
    if (sample.rowsInPerSecond <= 0) {
      this.ticks.length = 0;
      return undefined;
    }
    this.ticks.push({ atMs, ...sample });
    while ((this.ticks[0]?.atMs ?? atMs) < atMs - PACE_WINDOW_MS) this.ticks.shift();
    return this.verdict();
  }

  private verdict(): PaceVerdict | undefined {
    const first = this.ticks[0];
    const last = this.ticks.at(-1);
    if (!first || !last || last.atMs - first.atMs < MIN_SPAN_MS) return undefined;
    const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    const rowsInPerSecond = mean(this.ticks.map((tick) => tick.rowsInPerSecond));
    const rowsOutPerSecond = mean(this.ticks.map((tick) => tick.rowsOutPerSecond));
    const latencies = this.ticks.flatMap((tick) => (tick.latencyP50Ms === null ? [] : [tick.latencyP50Ms]));
    const firstLatency = latencies[0];
    const lastLatency = latencies.at(-1);
    const lagGrowthMs =
      firstLatency === undefined || lastLatency === undefined ? null : lastLatency - firstLatency;
    const slow = (last.latencyP50Ms ?? 0) > SLOW_LATENCY_MS;
    const stalled = latencies.length === 0;
    const fallingBehind =
      stalled ||
      (slow &&
        (rowsInPerSecond > rowsOutPerSecond * IN_OVER_OUT ||
          (lagGrowthMs !== null && lagGrowthMs >= LAG_GROWTH_MS)));
    return {
      rowsInPerSecond,
      rowsOutPerSecond,
      latencyP50Ms: last.latencyP50Ms,
      lagGrowthMs,
      stalled,
      fallingBehind,
    };
  }
}

function rowsPerSecond(value: number): string {
  if (value >= 10_000) return `${(value / 1000).toFixed(0)}k`;
  if (value >= 1_000) return `${(value / 1000).toFixed(1)}k`;
  return value.toFixed(0);
}

/**
 * The line the demo shows while the pipeline falls behind: the rates, the lag and what to try.
 * `files` and `rate` are the demo's own (rows/s per file).
 */
export function fallingBehindLine(
  verdict: PaceVerdict,
  demo: { readonly files: number; readonly rate: number },
): string {
  if (verdict.stalled) {
    return (
      `⚠ nothing aggregated for ${PACE_WINDOW_MS / 1000} s while the replays put in ` +
      `${rowsPerSecond(verdict.rowsInPerSecond)} rows/s: the pipeline is stuck or far behind (the log above says why).`
    );
  }
  const growth =
    verdict.lagGrowthMs !== null && verdict.lagGrowthMs > 0
      ? ` (+${(verdict.lagGrowthMs / 1000).toFixed(1)} s in ${PACE_WINDOW_MS / 1000} s)`
      : '';
  const lag =
    verdict.latencyP50Ms === null
      ? ''
      : `, latency p50 ${(verdict.latencyP50Ms / 1000).toFixed(1)} s${growth}`;
  const files = Math.max(1, demo.files);
  // A rate per file that leaves a fifth of what this machine just managed in reserve.
  const sustainable = Math.max(100, Math.floor((verdict.rowsOutPerSecond * 0.8) / files / 100) * 100);
  const advice =
    demo.rate > sustainable
      ? ` This machine keeps up with about ${rowsPerSecond(verdict.rowsOutPerSecond)} rows/s now: try --rate ${sustainable}${
          files > 1 ? ` or --files ${files - 1}` : ''
        }.`
      : '';
  return (
    `⚠ falling behind: in ${rowsPerSecond(verdict.rowsInPerSecond)} rows/s, ` +
    `out ${rowsPerSecond(verdict.rowsOutPerSecond)} rows/s${lag}: the lag grows.${advice}`
  );
}
