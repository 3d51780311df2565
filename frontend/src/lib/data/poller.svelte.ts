/**
 * Runs one "tick" (all the requests of a refresh) at a fixed interval while the API answers, backs
 * off exponentially while it does not, pauses while the page is hidden, and publishes the connection
 * state and the time of the last success for the UI. A tick never overlaps the previous one.
 */
import { ApiHttpError, ApiResponseError } from '../api/client.ts';
import { backoffDelayMs } from './backoff.ts';
import { documentVisibility, type VisibilitySource } from './visibility.ts';

export type ConnectionState =
  | { readonly kind: 'connecting' }
  | { readonly kind: 'connected' }
  /** No answer from the API: retrying with backoff. */
  | {
      readonly kind: 'reconnecting';
      readonly attempt: number;
      readonly retryAtMs: number;
      readonly message: string;
    }
  /** The API answered with an error (or a body we cannot read): retrying with backoff. */
  | {
      readonly kind: 'error';
      readonly attempt: number;
      readonly retryAtMs: number;
      readonly status: number | null;
      readonly message: string;
    };

export interface PollerOptions {
  readonly intervalMs?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  readonly random?: () => number;
  readonly visibility?: VisibilitySource;
  readonly now?: () => number;
}

export type PollTask = (signal: AbortSignal) => Promise<void>;

export class Poller {
  connection = $state.raw<ConnectionState>({ kind: 'connecting' });
  lastSuccessAtMs = $state<number | null>(null);
  paused = $state(false);

  private readonly intervalMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly random: () => number;
  private readonly visibility: VisibilitySource;
  private readonly now: () => number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inFlight: AbortController | undefined;
  private failures = 0;
  private nudged = false;
  private started = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly task: PollTask,
    options: PollerOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 2_000;
    this.backoffBaseMs = options.backoffBaseMs ?? 1_000;
    this.backoffMaxMs = options.backoffMaxMs ?? 10_000;
    this.random = options.random ?? Math.random;
    this.visibility = options.visibility ?? documentVisibility;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.unsubscribe = this.visibility.subscribe(() => this.onVisibilityChange());
    this.paused = this.visibility.isHidden();
    if (!this.paused) void this.tick();
  }

  stop(): void {
    this.started = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.clearTimer();
    this.inFlight?.abort();
    this.inFlight = undefined;
  }

  /**
   * Refresh soon (a panel was added and has no data yet): now, or right after the tick in flight
   * (which may have started before the panel existed). Not while paused or backing off.
   */
  nudge(): void {
    if (!this.started || this.paused || this.failures > 0) return;
    if (this.inFlight) this.nudged = true;
    else this.schedule(0);
  }

  private onVisibilityChange(): void {
    const hidden = this.visibility.isHidden();
    if (hidden === this.paused) return;
    this.paused = hidden;
    if (hidden) {
      // Nothing is fetched while nobody looks; an answer on its way is dropped.
      this.clearTimer();
      this.inFlight?.abort();
      this.inFlight = undefined;
    } else {
      // Back in view: refresh at once, even in the middle of a backoff.
      this.clearTimer();
      void this.tick();
    }
  }

  private schedule(delayMs: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick();
    }, delayMs);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (!this.started || this.paused || this.inFlight) return;
    const controller = new AbortController();
    this.inFlight = controller;
    this.nudged = false;
    try {
      await this.task(controller.signal);
      if (controller.signal.aborted) return;
      this.failures = 0;
      this.connection = { kind: 'connected' };
      this.lastSuccessAtMs = this.now();
      this.schedule(this.nudged ? 0 : this.intervalMs);
    } catch (error) {
      // Aborted by pause/stop: not a failure of the API.
      if (controller.signal.aborted) return;
      this.failures += 1;
      const delay = backoffDelayMs(this.failures, {
        baseMs: this.backoffBaseMs,
        maxMs: this.backoffMaxMs,
        random: this.random,
      });
      const retryAtMs = this.now() + delay;
      const message = error instanceof Error ? error.message : String(error);
      this.connection =
        error instanceof ApiHttpError || error instanceof ApiResponseError
          ? {
              kind: 'error',
              attempt: this.failures,
              retryAtMs,
              status: error instanceof ApiHttpError ? error.status : null,
              message,
            }
          : { kind: 'reconnecting', attempt: this.failures, retryAtMs, message };
      this.schedule(delay);
    } finally {
      if (this.inFlight === controller) this.inFlight = undefined;
    }
  }
}
