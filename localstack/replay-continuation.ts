/**
 * Replays nobody is working on any more, continued from their checkpoint — what AWS's async retry
 * and replay's self-continuation do on AWS, for the cases a local runtime adds: a process that was
 * stopped (its replays checkpointed and released their lease) or killed (their lease expires by
 * itself, at most LEASE_MS after their last checkpoint).
 *
 * A replay is abandoned when its progress says `running` and its lease has expired: no invocation
 * anywhere is working on it (a live one renews its lease at every checkpoint, well within LEASE_MS).
 * The runtime looks at start and then every few seconds while it runs, so a replay whose lease
 * expires later — its process was killed a moment ago — is picked up too, not only those already
 * expired at start. It leaves alone the objects it has an invocation of its own for (running, or
 * waiting for Lambda's retry), and continues one object at most once per LEASE_MS, so a replay that
 * keeps failing is retried slowly rather than in a loop. Two runtimes on one stack may both try:
 * the checkpoint's conditional write lets one of them have it, the other finds it busy.
 */

import type { ItemStore } from '../shared/pipeline/ports.ts';
import { replayProgressList } from '../shared/pipeline/query.ts';
import { LEASE_MS, type ReplayProgress } from '../shared/pipeline/replay.ts';
import { continuationEvent } from '../shared/pipeline/replay-event.ts';
import type { AsyncInvoker } from './async-invoke.ts';
import type { LoadedFunction } from './lambda-context.ts';

/** How often a running runtime looks for abandoned replays. */
export const REPLAY_WATCH_INTERVAL_MS = 5_000;

export function isAbandonedReplay(replay: ReplayProgress, nowMs: number): boolean {
  return replay.status === 'running' && replay.leaseUntilMs < nowMs;
}

/** How the async invoker names the work on one object (its log lines, `pending`). */
export function replayTarget(replay: { readonly bucket: string; readonly key: string }): string {
  return `s3://${replay.bucket}/${replay.key}`;
}

export interface ReplayWatch {
  /** Looks once, now (the runtime's start awaits the first look). */
  scan(): Promise<void>;
  stop(): void;
}

export function watchAbandonedReplays(options: {
  readonly functions: ReadonlyMap<string, LoadedFunction>;
  readonly store: ItemStore;
  readonly invoker: Pick<AsyncInvoker, 'invokeAsync' | 'pending'>;
  readonly log: (line: string) => void;
  readonly intervalMs?: number;
  readonly now?: () => number;
}): ReplayWatch {
  const { invoker, log, now = Date.now, intervalMs = REPLAY_WATCH_INTERVAL_MS } = options;
  // The replay function is the one S3 triggers.
  const replayFunction = [...options.functions.values()].find(
    (entry) => entry.definition.s3Triggers.length > 0,
  );
  const lastContinuedAt = new Map<string, number>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const scan = async () => {
    if (!replayFunction || stopped) return;
    const at = now();
    for (const replay of await replayProgressList(options.store)) {
      // Stopped while reading: a continuation now would only run into the stop.
      if (stopped) return;
      const target = replayTarget(replay);
      if (!isAbandonedReplay(replay, at) || invoker.pending(target)) continue;
      const previous = lastContinuedAt.get(target);
      if (previous !== undefined && at - previous < LEASE_MS) continue;
      lastContinuedAt.set(target, at);
      log(`continuing the unfinished replay of ${target} from row ${replay.rowsSent}`);
      invoker.invokeAsync(replayFunction.definition.id, continuationEvent(replay), target);
    }
  };

  const scheduleNext = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      scan()
        .catch((error: unknown) =>
          log(`could not look for unfinished replays: ${error instanceof Error ? error.message : error}`),
        )
        .finally(scheduleNext);
    }, intervalMs);
    // Looking for work must never keep a stopping process alive.
    timer.unref();
  };
  scheduleNext();

  return {
    scan,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
