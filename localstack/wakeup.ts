/** A wake-up for one waiter, such as a dispatch loop that sleeps until there is work or a deadline. */
export interface Wakeup {
  /** Ends the current `wait`, or the next one at once if nobody waits. */
  notify(): void;
  /** Resolves on `notify` or after `timeoutMs` (undefined: only on `notify`). */
  wait(timeoutMs: number | undefined): Promise<void>;
}

/** A wake-up for one waiter: `wait` ends on `notify` or after `timeoutMs`; a notify in between is kept. */
export function createWakeup(): Wakeup {
  let wakeWaiter: (() => void) | undefined;
  let notified = false;
  return {
    notify(): void {
      if (wakeWaiter) wakeWaiter();
      else notified = true;
    },
    wait(timeoutMs: number | undefined): Promise<void> {
      if (notified) {
        notified = false;
        return Promise.resolve();
      }
      return new Promise((resolveWait) => {
        let timer: NodeJS.Timeout | undefined;
        const finish = () => {
          clearTimeout(timer);
          wakeWaiter = undefined;
          resolveWait();
        };
        if (timeoutMs !== undefined) timer = setTimeout(finish, Math.max(0, timeoutMs));
        wakeWaiter = finish;
      });
    },
  };
}
