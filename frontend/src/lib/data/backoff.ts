export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
  /** 0 ≤ random() < 1; injected so tests are deterministic. */
  readonly random?: () => number;
}

/**
 * Delay before retry number `attempt` (1, 2, …): exponential, capped, with "equal jitter" (between
 * half and all of the step) so that many open dashboards do not retry in lock-step.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions): number {
  const step = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  const random = options.random ?? Math.random;
  return Math.round(step / 2 + (step / 2) * random());
}
