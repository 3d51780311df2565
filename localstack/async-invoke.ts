/**
 * Lambda's asynchronous invocation: queued, retried twice, failures logged (no DLQ locally). As on
 * AWS, the retries carry the first attempt's request id, so a handler can recognise its own work
 * (replay's lease) — a new id would find the object "held" by the failed attempt.
 */
import { randomUUID } from 'node:crypto';
import type { LambdaInvoker } from './lambda-context.ts';

/**
 * Waits before the two retries of a failed asynchronous invocation. AWS waits about 1 and 2 minutes;
 * locally that would leave a demo idle for minutes, so shorter, but long enough to ride out what
 * usually causes the failure on one machine (a Kafka leader election, a busy emulator).
 */
export const ASYNC_RETRY_DELAYS_MS: readonly number[] = [2_000, 10_000];

export interface AsyncInvoker {
  /** Queues an invocation and returns at once; `what` names its work in the log lines. */
  invokeAsync(functionId: string, event: unknown, what: string): void;
  /** Whether an invocation named `what` is running or waiting for its retry. */
  pending(what: string): boolean;
  /**
   * While stopping: the retries still waiting for their delay are dropped now rather than after it
   * (the object's checkpoint stays; the next start continues it).
   */
  dropWaitingRetries(): void;
  /** Resolves once every queued invocation has finished or given up, or after `timeoutMs`. */
  settled(timeoutMs: number): Promise<void>;
}

export function createAsyncInvoker(options: {
  readonly invoke: LambdaInvoker['invoke'];
  readonly isStopping: () => boolean;
  readonly log: (line: string) => void;
  readonly retryDelaysMs?: readonly number[];
}): AsyncInvoker {
  const { invoke, isStopping, log, retryDelaysMs = ASYNC_RETRY_DELAYS_MS } = options;
  const inFlight = new Set<Promise<unknown>>();
  /** Invocations per `what`, running or waiting for a retry. */
  const pendingByWhat = new Map<string, number>();
  /** Ends the retry delays early (see dropWaitingRetries). */
  const retryWaits = new Set<() => void>();
  const waitBeforeRetry = (delay: number) =>
    new Promise<void>((resolveDelay) => {
      const done = () => {
        clearTimeout(timer);
        retryWaits.delete(done);
        resolveDelay();
      };
      const timer = setTimeout(done, delay);
      retryWaits.add(done);
    });
  const attemptUntilDone = async (functionId: string, event: unknown, what: string) => {
    const requestId = randomUUID();
    for (let attempt = 0; ; attempt++) {
      try {
        await invoke(functionId, event, requestId);
        return;
      } catch (error) {
        const delay = retryDelaysMs[attempt];
        log(
          `${functionId} failed for ${what} (attempt ${attempt + 1}): ${error instanceof Error ? error.message : String(error)}`,
        );
        if (isStopping()) return;
        if (delay === undefined) {
          log(
            `${functionId} gave up on ${what} after ${attempt + 1} attempts, as Lambda does (no dead-letter queue locally); an unfinished replay is continued later, from its checkpoint`,
          );
          return;
        }
        await waitBeforeRetry(delay);
        if (isStopping()) return;
      }
    }
  };
  return {
    invokeAsync(functionId, event, what) {
      pendingByWhat.set(what, (pendingByWhat.get(what) ?? 0) + 1);
      const run = attemptUntilDone(functionId, event, what);
      inFlight.add(run);
      void run.finally(() => {
        inFlight.delete(run);
        const left = (pendingByWhat.get(what) ?? 1) - 1;
        if (left > 0) pendingByWhat.set(what, left);
        else pendingByWhat.delete(what);
      });
    },
    pending: (what) => pendingByWhat.has(what),
    dropWaitingRetries() {
      for (const wake of [...retryWaits]) wake();
    },
    async settled(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...inFlight]),
        new Promise((resolveWait) => {
          timer = setTimeout(resolveWait, timeoutMs);
        }),
      ]);
      // A pending timer would keep the process alive for the rest of the wait after a clean stop.
      clearTimeout(timer);
    },
  };
}
