/**
 * Replays an earlier run left unfinished: continue them at start, as AWS's async retry would. A
 * replay is unfinished when its progress says `running` and its lease has expired (no invocation is
 * still working on it).
 */

import type { ItemStore } from '../shared/pipeline/ports.ts';
import { replayProgressList } from '../shared/pipeline/query.ts';
import type { ReplayProgress } from '../shared/pipeline/replay.ts';
import { continuationEvent } from '../shared/pipeline/replay-event.ts';
import type { AsyncInvoker } from './async-invoke.ts';
import type { LoadedFunction } from './lambda-context.ts';

export function isUnfinishedReplay(replay: ReplayProgress, nowMs: number): boolean {
  return replay.status === 'running' && replay.leaseUntilMs < nowMs;
}

export async function continueUnfinishedReplays(options: {
  readonly functions: ReadonlyMap<string, LoadedFunction>;
  readonly store: ItemStore;
  readonly invokeAsync: AsyncInvoker['invokeAsync'];
  readonly log: (line: string) => void;
  readonly now?: () => number;
}): Promise<void> {
  const { invokeAsync, log, now = Date.now } = options;
  // The replay function is the one S3 triggers.
  const replayFunction = [...options.functions.values()].find(
    (entry) => entry.definition.s3Triggers.length > 0,
  );
  if (!replayFunction) return;
  for (const replay of await replayProgressList(options.store)) {
    if (!isUnfinishedReplay(replay, now())) continue;
    log(
      `continuing the unfinished replay of s3://${replay.bucket}/${replay.key} from row ${replay.rowsSent}`,
    );
    invokeAsync(
      replayFunction.definition.id,
      continuationEvent(replay),
      `s3://${replay.bucket}/${replay.key}`,
    );
  }
}
