/**
 * How a trigger retries a failed batch: the same batch again, after an exponential backoff, for
 * ever (AWS retries a Kafka batch until its records expire), until it succeeds or the trigger
 * stops. Invocation, sleep and the stop signal are injected, so the loop runs without Kafka or
 * real timers.
 */

/** The n-th retry's delay: initial × 2^(n−1), capped. */
export function retryDelayMs(failedAttempts: number, initialDelayMs: number, maxDelayMs: number): number {
  return Math.min(maxDelayMs, initialDelayMs * 2 ** Math.max(0, failedAttempts - 1));
}

export interface RetryLoop {
  /** One attempt at the batch; a rejection means "try the same batch again". */
  readonly attempt: () => Promise<unknown>;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Waits `ms`; may end early, resolving or rejecting, once `signal` is aborted. */
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<unknown>;
  /** Aborted when the trigger stops: no attempt starts after that. */
  readonly stopping: AbortSignal;
  /** Before each attempt; the first is attempt 1, every later one a retry. */
  readonly onAttempt?: (attempt: number) => void;
  /** After each failed attempt, with the backoff before the next; undefined: stopping, no retry. */
  readonly onFailure?: (error: unknown, attempt: number, retryInMs: number | undefined) => void;
}

/**
 * `succeeded`: an attempt resolved. The other two leave the batch unprocessed: an attempt failed
 * while stopping, or the trigger stopped during the backoff before a retry.
 */
export type RetryOutcome = 'succeeded' | 'failed-while-stopping' | 'stopped-before-retry';

/** Attempts the batch until it succeeds or the trigger stops. */
export async function retryUntilSuccess(loop: RetryLoop): Promise<RetryOutcome> {
  const { stopping } = loop;
  for (let attempt = 1; ; attempt++) {
    loop.onAttempt?.(attempt);
    try {
      await loop.attempt();
      return 'succeeded';
    } catch (error) {
      if (stopping.aborted) {
        loop.onFailure?.(error, attempt, undefined);
        return 'failed-while-stopping';
      }
      const delay = retryDelayMs(attempt, loop.initialDelayMs, loop.maxDelayMs);
      loop.onFailure?.(error, attempt, delay);
      await loop.sleep(delay, stopping).catch((sleepError: unknown) => {
        if (!stopping.aborted) throw sleepError;
      });
      if (stopping.aborted) return 'stopped-before-retry';
    }
  }
}
