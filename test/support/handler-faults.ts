/**
 * Faults that integration tests inject into the local functions, inside each function's sandbox
 * process (`RuntimeOptions.handlerWrapper`). The sandbox shares no memory with the test, so a fault
 * is chosen by environment variables (`faultEnvironment`) and reports what it did by appending lines
 * to files in a folder of the test's (`faultLog`).
 *
 * - `aggregateFailsCall: N`: the Nth aggregate invocation fails *after* its handler succeeded (state
 *   written, summary published): the hardest retry, where everything must be recognised as applied.
 *   Each failure appends a line to `aggregate-failed`.
 * - `replayCrashesFor: KEY`: the first replay invocation for object KEY throws at its second
 *   checkpoint (replay asks for the time left when it takes its lease and twice per checkpoint: the
 *   fourth question is the second checkpoint's). Each invocation for KEY appends its request id to
 *   `replay-requests`, each injected crash a line to `replay-crashed`.
 * - `aggregateSandboxDiesAtCall: N`: the Nth aggregate invocation, once its handler has succeeded,
 *   SIGKILLs its own sandbox process, once in the whole run (a marker file); `aggregate-died`.
 * - `replaySandboxDiesFor: KEY`: the first replay invocation for KEY SIGKILLs its sandbox at its
 *   second checkpoint, once in the whole run; `replay-died`.
 */
import { appendFileSync, closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'aws-lambda';
import type { LambdaHandler } from '../../localstack/lambda-context.ts';

/** The module's path, for `RuntimeOptions.handlerWrapper`. */
export const HANDLER_FAULTS_MODULE = fileURLToPath(import.meta.url);

export interface HandlerFaults {
  /** Folder the faults report to. */
  readonly logDir: string;
  readonly aggregateFailsCall?: number;
  readonly replayCrashesFor?: string;
  readonly aggregateSandboxDiesAtCall?: number;
  readonly replaySandboxDiesFor?: string;
}

export function faultEnvironment(faults: HandlerFaults): Record<string, string> {
  const variables: Record<string, string | number | undefined> = {
    DRIFTLINE_TEST_FAULT_DIR: faults.logDir,
    DRIFTLINE_TEST_FAULT_AGGREGATE_FAILS_CALL: faults.aggregateFailsCall,
    DRIFTLINE_TEST_FAULT_REPLAY_CRASHES_FOR: faults.replayCrashesFor,
    DRIFTLINE_TEST_FAULT_AGGREGATE_DIES_AT_CALL: faults.aggregateSandboxDiesAtCall,
    DRIFTLINE_TEST_FAULT_REPLAY_DIES_FOR: faults.replaySandboxDiesFor,
  };
  return Object.fromEntries(
    Object.entries(variables).flatMap(([name, value]) =>
      value === undefined ? [] : [[name, String(value)]],
    ),
  );
}

/** The lines a fault appended to `name` so far (none when it never wrote). */
export async function faultLog(logDir: string, name: string): Promise<string[]> {
  const text = await readFile(join(logDir, name), 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line !== '');
}

function report(name: string, line: string): void {
  const dir = process.env.DRIFTLINE_TEST_FAULT_DIR;
  if (dir) appendFileSync(join(dir, name), `${line}\n`);
}

export function wrapHandler(functionId: string, handler: LambdaHandler): LambdaHandler {
  const environment = process.env;
  const failCall = Number(environment.DRIFTLINE_TEST_FAULT_AGGREGATE_FAILS_CALL ?? 0);
  const dieCall = Number(environment.DRIFTLINE_TEST_FAULT_AGGREGATE_DIES_AT_CALL ?? 0);
  const crashKey = environment.DRIFTLINE_TEST_FAULT_REPLAY_CRASHES_FOR;
  const dieKey = environment.DRIFTLINE_TEST_FAULT_REPLAY_DIES_FOR;
  if (functionId === 'aggregate' && failCall > 0) return failingAfterSuccess(handler, failCall);
  if (functionId === 'aggregate' && dieCall > 0) return dyingAfterSuccess(handler, dieCall);
  if (functionId === 'replay' && crashKey) {
    return atSecondCheckpoint(handler, crashKey, (requestId) => {
      report('replay-crashed', requestId);
      throw new Error('injected crash at the second checkpoint');
    });
  }
  if (functionId === 'replay' && dieKey) {
    return atSecondCheckpoint(handler, dieKey, () => dieOnce('replay-died'));
  }
  return handler;
}

/** SIGKILLs this sandbox, the first time in the run only: a marker file survives the sandbox. */
function dieOnce(name: string): void {
  const dir = process.env.DRIFTLINE_TEST_FAULT_DIR;
  if (!dir) throw new Error('DRIFTLINE_TEST_FAULT_DIR is not set');
  try {
    closeSync(openSync(join(dir, `${name}.once`), 'wx'));
  } catch {
    return; // died before: this one lives
  }
  report(name, String(process.pid));
  process.kill(process.pid, 'SIGKILL');
}

function dyingAfterSuccess(handler: LambdaHandler, dieCall: number): LambdaHandler {
  let calls = 0;
  return async (event, context) => {
    calls += 1;
    const call = calls;
    const result = await handler(event, context);
    if (call === dieCall) dieOnce('aggregate-died');
    return result;
  };
}

function failingAfterSuccess(handler: LambdaHandler, failCall: number): LambdaHandler {
  let calls = 0;
  return async (event, context) => {
    // Numbered before awaiting: invocations of different partitions run concurrently.
    calls += 1;
    const call = calls;
    const result = await handler(event, context);
    if (call === failCall) {
      report('aggregate-failed', context.awsRequestId);
      throw new Error('injected failure after a successful state write');
    }
    return result;
  };
}

/** The first invocation for `key` meets `fault` at its second checkpoint (see the header). */
function atSecondCheckpoint(
  handler: LambdaHandler,
  key: string,
  fault: (requestId: string) => void,
): LambdaHandler {
  let struck = false;
  return async (event, context) => {
    // Other tests may have left replays that this runtime continues: leave those alone.
    if (!JSON.stringify(event).includes(key)) return handler(event, context);
    report('replay-requests', context.awsRequestId);
    if (struck) return handler(event, context);
    struck = true;
    let questions = 0;
    const failing: Context = {
      ...context,
      getRemainingTimeInMillis: () => {
        questions += 1;
        if (questions === 4) fault(context.awsRequestId);
        return context.getRemainingTimeInMillis();
      },
    };
    return handler(event, failing);
  };
}
