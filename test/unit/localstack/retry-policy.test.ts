import { describe, expect, it } from 'vitest';
import { type RetryLoop, retryUntilSuccess } from '../../../localstack/retry-policy.ts';

/** A handler that rejects its first `failures` invocations, then resolves; it counts them all. */
function handlerFailing(failures: number) {
  const handler = {
    invocations: 0,
    invoke: async (): Promise<void> => {
      handler.invocations++;
      if (handler.invocations <= failures) throw new Error(`failure ${handler.invocations}`);
    },
  };
  return handler;
}

/** A sleep that ends at once, recording how long it was asked to wait. */
function instantSleep() {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number): Promise<void> => void delays.push(ms) };
}

/** A sleep that never ends by itself, only when the signal aborts (as node's timers/promises does). */
function sleepUntilAborted() {
  let started: (ms: number) => void = () => {};
  const asleep = new Promise<number>((resolve) => {
    started = resolve;
  });
  const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise((_, reject) => {
      started(ms);
      signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')), {
        once: true,
      });
    });
  return { asleep, sleep };
}

function loop(overrides: Partial<RetryLoop> & Pick<RetryLoop, 'attempt' | 'sleep'>): RetryLoop {
  return { initialDelayMs: 200, maxDelayMs: 10_000, stopping: new AbortController().signal, ...overrides };
}

describe('retryUntilSuccess: the same batch again, after a doubling backoff, until it succeeds', () => {
  it('invokes a batch that fails twice three times, waiting 200 then 400 ms', async () => {
    const handler = handlerFailing(2);
    const { delays, sleep } = instantSleep();
    const attempts: number[] = [];
    const failures: [string, number, number | undefined][] = [];

    const outcome = await retryUntilSuccess(
      loop({
        attempt: handler.invoke,
        sleep,
        onAttempt: (attempt) => attempts.push(attempt),
        onFailure: (error, attempt, retryInMs) => failures.push([String(error), attempt, retryInMs]),
      }),
    );

    expect(outcome).toBe('succeeded');
    expect(handler.invocations).toBe(3);
    expect(delays).toEqual([200, 400]);
    expect(attempts).toEqual([1, 2, 3]);
    expect(failures).toEqual([
      ['Error: failure 1', 1, 200],
      ['Error: failure 2', 2, 400],
    ]);
  });

  it('abandons the batch when the trigger stops during the backoff: no further invocation', async () => {
    const handler = handlerFailing(Number.POSITIVE_INFINITY);
    const { asleep, sleep } = sleepUntilAborted();
    const stopping = new AbortController();

    const outcome = retryUntilSuccess(loop({ attempt: handler.invoke, sleep, stopping: stopping.signal }));
    expect(await asleep).toBe(200);
    stopping.abort();

    expect(await outcome).toBe('stopped-before-retry');
    expect(handler.invocations).toBe(1);
  });

  it('does not retry a batch that fails once the trigger is stopping, and does not wait', async () => {
    const stopping = new AbortController();
    const { delays, sleep } = instantSleep();
    const failures: (number | undefined)[] = [];
    const attempt = async (): Promise<void> => {
      stopping.abort();
      throw new Error('handler interrupted');
    };

    const outcome = await retryUntilSuccess(
      loop({
        attempt,
        sleep,
        stopping: stopping.signal,
        onFailure: (_, __, retryInMs) => failures.push(retryInMs),
      }),
    );

    expect(outcome).toBe('failed-while-stopping');
    expect(failures).toEqual([undefined]);
    expect(delays).toEqual([]);
  });

  it('passes on a failure of the sleep itself while not stopping', async () => {
    const sleep = async (): Promise<void> => {
      throw new Error('timer broken');
    };

    await expect(retryUntilSuccess(loop({ attempt: handlerFailing(1).invoke, sleep }))).rejects.toThrow(
      'timer broken',
    );
  });
});
