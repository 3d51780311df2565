/**
 * A handler wrapper (the runtime's `handlerWrapper` module, see localstack/runtime.ts) that kills
 * the whole runtime — its process group, SIGKILL, no chance to clean up — right after an aggregate
 * invocation has written its state and published its summary, before the trigger commits the
 * batch's offsets: the moment where at-least-once delivery must still give an exactly-once effect.
 *
 * Configured by environment only (it runs wherever the function runs):
 * - DRIFTLINE_FAULT_KILL_PGID: the process group to kill (the runtime's);
 * - DRIFTLINE_FAULT_KILL_MARKER: a file created at the kill; while it exists the wrapper does
 *   nothing, so the restarted runtime is left alone (once only, across processes);
 * - DRIFTLINE_FAULT_KILL_AT: the number of the aggregate invocation (in this process) to kill at.
 */
import { closeSync, openSync } from 'node:fs';
import type { LambdaHandler } from '../../../localstack/runtime.ts';

/** True for the one caller that creates the marker; false once it exists (any other error throws). */
function firstToClaim(marker: string): boolean {
  try {
    closeSync(openSync(marker, 'wx'));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

export function wrapHandler(functionId: string, handler: LambdaHandler): LambdaHandler {
  const pgid = Number(process.env.DRIFTLINE_FAULT_KILL_PGID);
  const marker = process.env.DRIFTLINE_FAULT_KILL_MARKER;
  const killAt = Number(process.env.DRIFTLINE_FAULT_KILL_AT ?? 1);
  // Not configured (no marker, no group of a runtime's own): the handler as it is.
  if (functionId !== 'aggregate' || !marker || !(pgid > 1)) return handler;
  let invocations = 0;
  console.log(`kill-after-state-write: armed, kills group ${pgid} after aggregate invocation ${killAt}`);
  return async (event, context) => {
    invocations += 1;
    const call = invocations;
    const result = await handler(event, context);
    if (call >= killAt && firstToClaim(marker)) process.kill(-pgid, 'SIGKILL');
    return result;
  };
}
