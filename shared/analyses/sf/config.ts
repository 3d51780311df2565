/**
 * Options of an `sf` analysis instance, fixed when it is registered (the analysis seam has no per-run
 * options): how deduplication state is bounded.
 *
 * - `exact` (default, the source job's semantics): every distinct triple is kept forever, so
 *   deduplication is exact over the whole stream and state grows with the number of distinct calls
 *   (8 bytes each, ~11 characters of JSON).
 * - `bounded`: keys whose event time is older than watermark − horizon are evicted. Rows that old are
 *   still counted, but without a duplicate check (`rows_beyond_dedup_horizon` says how many), so a
 *   duplicate arriving more than `horizonMinutes` behind the watermark may be counted twice.
 */
import { DEFAULT_DEDUP_HORIZON_MINUTES, MINUTE_MS } from './fields.ts';

export type DedupMode = 'exact' | 'bounded';

export interface SfOptions {
  /** Also the S3 key prefix and the API id (default `sf`). */
  readonly id?: string;
  readonly title?: string;
  readonly dedup?: DedupMode;
  /** Bounded mode: how far behind the watermark keys are kept (default 60, ≥ 0). */
  readonly horizonMinutes?: number;
}

export interface SfConfig {
  readonly id: string;
  readonly title: string;
  readonly dedup: DedupMode;
  /** Bounded: watermark − this is the dedup cutoff. Exact: +∞ (nothing is ever beyond it). */
  readonly horizonMs: number;
  readonly horizonMinutes: number | null;
}

export function sfConfig(options: SfOptions = {}): SfConfig {
  const dedup = options.dedup ?? 'exact';
  if (dedup !== 'exact' && dedup !== 'bounded') {
    throw new RangeError(`sf dedup must be 'exact' or 'bounded', got ${JSON.stringify(dedup)}`);
  }
  const horizonMinutes = options.horizonMinutes ?? DEFAULT_DEDUP_HORIZON_MINUTES;
  if (!(Number.isFinite(horizonMinutes) && horizonMinutes >= 0)) {
    throw new RangeError(`sf horizonMinutes must be a finite number ≥ 0, got ${horizonMinutes}`);
  }
  const id = options.id ?? 'sf';
  if (!/^[a-z][a-z0-9-]*$/.test(id))
    throw new RangeError(`sf analysis id must be a lower-case name, got '${id}'`);
  const bounded = dedup === 'bounded';
  return {
    id,
    title: options.title ?? 'San Francisco police calls for service',
    dedup,
    horizonMs: bounded ? horizonMinutes * MINUTE_MS : Number.POSITIVE_INFINITY,
    horizonMinutes: bounded ? horizonMinutes : null,
  };
}
