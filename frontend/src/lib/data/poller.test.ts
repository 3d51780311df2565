import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiHttpError, ApiUnreachableError } from '../api/client.ts';
import { Poller } from './poller.svelte.ts';
import type { VisibilitySource } from './visibility.ts';

class FakeVisibility implements VisibilitySource {
  hidden = false;
  private readonly listeners = new Set<() => void>();
  isHidden = () => this.hidden;
  subscribe(listener: () => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(hidden: boolean) {
    this.hidden = hidden;
    for (const listener of this.listeners) listener();
  }
}

describe('Poller', () => {
  let visibility: FakeVisibility;
  const options = () => ({
    intervalMs: 2_000,
    backoffBaseMs: 1_000,
    backoffMaxMs: 8_000,
    random: () => 0.999999,
    visibility,
    now: () => Date.now(),
  });

  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_700_000_000_000);
    visibility = new FakeVisibility();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('polls at the interval while the API answers, never two ticks at once', async () => {
    let running = 0;
    let overlapped = false;
    const task = vi.fn(async () => {
      running += 1;
      if (running > 1) overlapped = true;
      await new Promise((resolve) => setTimeout(resolve, 3_000)); // slower than the interval
      running -= 1;
    });
    const poller = new Poller(task, options());
    poller.start();
    expect(poller.connection.kind).toBe('connecting');
    await vi.advanceTimersByTimeAsync(3_000);
    expect(poller.connection.kind).toBe('connected');
    expect(poller.lastSuccessAtMs).toBe(Date.now());
    await vi.advanceTimersByTimeAsync(2_000 + 3_000);
    expect(task).toHaveBeenCalledTimes(2);
    expect(overlapped).toBe(false);
    poller.stop();
  });

  it('backs off exponentially while the API is unreachable and recovers when it is back', async () => {
    let down = true;
    const task = vi.fn(async () => {
      if (down) throw new ApiUnreachableError('API unreachable (fetch failed)');
    });
    const poller = new Poller(task, options());
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(poller.connection).toEqual({
      kind: 'reconnecting',
      attempt: 1,
      retryAtMs: Date.now() + 1_000,
      message: 'API unreachable (fetch failed)',
    });
    // Retries after 1 s, 2 s, 4 s, 8 s, 8 s: calls at t = 0, 1, 3, 7, 15, 23.
    const callTimes: number[] = [];
    task.mockImplementation(async () => {
      callTimes.push(Date.now() - 1_700_000_000_000);
      if (down) throw new ApiUnreachableError('API unreachable (fetch failed)');
    });
    await vi.advanceTimersByTimeAsync(23_000);
    expect(callTimes).toEqual([1_000, 3_000, 7_000, 15_000, 23_000]);
    expect(poller.connection).toMatchObject({ kind: 'reconnecting', attempt: 6 });
    expect(poller.lastSuccessAtMs).toBeNull();

    down = false;
    await vi.advanceTimersByTimeAsync(8_000);
    expect(poller.connection.kind).toBe('connected');
    expect(poller.lastSuccessAtMs).toBe(Date.now());
    // Back to the normal interval.
    callTimes.length = 0;
    await vi.advanceTimersByTimeAsync(4_000);
    expect(callTimes).toEqual([33_000, 35_000]);
    poller.stop();
  });

  it("shows the API's error message when it answers with an error", async () => {
    const poller = new Poller(async () => {
      throw new ApiHttpError(500, 'internal error: the request could not be answered');
    }, options());
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(poller.connection).toMatchObject({
      kind: 'error',
      status: 500,
      attempt: 1,
      message: 'internal error: the request could not be answered',
    });
    poller.stop();
  });

  it('pauses while the page is hidden and refreshes at once when it is shown again', async () => {
    const task = vi.fn(async () => {});
    const poller = new Poller(task, options());
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(task).toHaveBeenCalledTimes(1);

    visibility.set(true);
    expect(poller.paused).toBe(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(task).toHaveBeenCalledTimes(1);

    visibility.set(false);
    expect(poller.paused).toBe(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(task).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(task).toHaveBeenCalledTimes(3);
    poller.stop();
  });

  it('drops a tick in flight when the page is hidden, without counting it as a failure', async () => {
    const task = vi.fn(
      (signal: AbortSignal) =>
        new Promise<void>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }),
    );
    const poller = new Poller(task, options());
    poller.start();
    await vi.advanceTimersByTimeAsync(100);
    visibility.set(true);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(task).toHaveBeenCalledTimes(1);
    expect(task.mock.calls[0]?.[0].aborted).toBe(true);
    expect(poller.connection.kind).toBe('connecting');
    poller.stop();
  });

  it('refreshes again right away when nudged during a tick (a panel appeared)', async () => {
    let resolveFirst: (() => void) | undefined;
    const task = vi.fn(
      () =>
        new Promise<void>((resolve) => {
          if (!resolveFirst) resolveFirst = resolve;
          else resolve();
        }),
    );
    const poller = new Poller(task, options());
    poller.start();
    await vi.advanceTimersByTimeAsync(10);
    poller.nudge();
    resolveFirst?.();
    await vi.advanceTimersByTimeAsync(1);
    expect(task).toHaveBeenCalledTimes(2);
    poller.stop();
  });

  it('does not start polling when the page starts hidden', async () => {
    visibility.hidden = true;
    const task = vi.fn(async () => {});
    const poller = new Poller(task, options());
    poller.start();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(task).not.toHaveBeenCalled();
    expect(poller.paused).toBe(true);
    poller.stop();
  });
});
