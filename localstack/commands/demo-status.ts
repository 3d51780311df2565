/**
 * What the demo shows while it runs: the pipeline's health from the API, as a progress bar per
 * replay and one line of throughput, latency and rejected rows.
 */
import { z } from 'zod';
import { formatDuration } from '../../shared/core/format.ts';

/** What the status shows of one replay (an entry of `/api/v1/replays` and of the health answer). */
export const replayStatusSchema = z.object({
  key: z.string(),
  run: z.string(),
  status: z.string(),
  rowsSent: z.number(),
  rate: z.number(),
  fraction: z.number(),
  rowsPerSecond: z.number(),
  etaSeconds: z.number().nullable(),
  message: z.string().nullable(),
});
export type ReplayStatus = z.infer<typeof replayStatusSchema>;

const healthSchema = z.object({
  rowsInPerSecond: z.number(),
  rowsOutPerSecond: z.number(),
  batches: z.number(),
  rejectedRows: z.number(),
  latencyMs: z.object({ p50: z.number().nullable(), p99: z.number().nullable() }),
  replays: z.array(replayStatusSchema),
});

export type Health = z.infer<typeof healthSchema>;

/** Shown while the API does not answer. */
const NO_HEALTH: Health = {
  rowsInPerSecond: 0,
  rowsOutPerSecond: 0,
  batches: 0,
  rejectedRows: 0,
  latencyMs: { p50: null, p99: null },
  replays: [],
};

export function formatCount(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(0)}k`;
  return value.toFixed(0);
}

function bar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

/** The health over the last 10 s; when it cannot be read, empty figures and the reason. */
export async function readHealth(apiUrl: string): Promise<{ health: Health; unavailable?: string }> {
  try {
    return { health: healthSchema.parse(await (await fetch(`${apiUrl}/api/v1/health?window=10`)).json()) };
  } catch (error) {
    return { health: NO_HEALTH, unavailable: error instanceof Error ? error.message : String(error) };
  }
}

/** One replay as a progress bar: `label ████░░ 42.0%  546k rows  1000/s  ETA 12:34`. */
export function replayLine(replay: ReplayStatus, label: string, width: number): string {
  return (
    `${label.padEnd(width)} ${bar(replay.fraction, 30)} ${(replay.fraction * 100).toFixed(1).padStart(5)}%  ` +
    `${formatCount(replay.rowsSent).padStart(6)} rows  ${formatCount(replay.rowsPerSecond).padStart(5)}/s  ` +
    `${replay.status === 'done' ? 'done ' : replay.status === 'running' ? `ETA ${formatDuration(replay.etaSeconds, '--:--')}` : replay.status}` +
    `${replay.message ? `  ${replay.message}` : ''}`
  );
}

function throughputLine(health: Health): string {
  const latency = (value: number | null) => (value === null ? '-' : `${Math.round(value)} ms`);
  return (
    `in ${formatCount(health.rowsInPerSecond)} rows/s │ out ${formatCount(health.rowsOutPerSecond)} rows/s │ ` +
    `latency p50 ${latency(health.latencyMs.p50)} p99 ${latency(health.latencyMs.p99)} │ ` +
    `batches ${health.batches}/10 s │ rejected ${health.rejectedRows}`
  );
}

/**
 * A line per replay of this demo (keys under `prefix`, shown without it; none without a prefix)
 * and per other replay still running, then the throughput line.
 */
export function statusLines(health: Health, prefix: string | undefined): string[] {
  const ours = (key: string) => prefix !== undefined && key.startsWith(prefix);
  // This demo's files, and any other replay still running (yours, or one continued from a previous run).
  const shown = health.replays.filter((replay) => ours(replay.key) || replay.status === 'running');
  const label = (key: string) => (prefix !== undefined && ours(key) ? key.slice(prefix.length) : key);
  const width = Math.max(16, ...shown.map((replay) => label(replay.key).length));
  return [...shown.map((replay) => replayLine(replay, label(replay.key), width)), throughputLine(health)];
}
