/**
 * One synchronous (RequestResponse) invocation of a local function, as Lambda runs it: a `Context`
 * with the function's deadline and the invocation's request id, and per-function counters.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { FunctionDefinition } from './service-definition.ts';

export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/** A function of serverless.yml with its handler imported. */
export interface LoadedFunction {
  readonly definition: FunctionDefinition;
  readonly handler: LambdaHandler;
}

export interface InvocationStats {
  invocations: number;
  failures: number;
  running: number;
  /**
   * Sum of the invocations' wall times in ms, measured here around each call: with sandboxes, the
   * function's own process's time plus the IPC to it (what Lambda would bill, as an upper bound).
   */
  busyMs: number;
}

/** One finished invocation, as its caller saw it (the bench's batch processing times). */
export interface InvocationRecord {
  readonly functionId: string;
  readonly event: unknown;
  readonly durationMs: number;
  readonly failed: boolean;
}

export function lambdaContext(options: {
  readonly functionName: string;
  readonly requestId: string;
  readonly deadlineMs: number;
  readonly isStopping: () => boolean;
  readonly now: () => number;
}): Context {
  const { functionName, deadlineMs, isStopping, now } = options;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: options.requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    // While stopping, report no time left: replay then checkpoints at once and stops.
    getRemainingTimeInMillis: () => (isStopping() ? 0 : Math.max(0, deadlineMs - now())),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

export interface LambdaInvoker {
  /** Runs the handler once and returns its result, or rejects with its error. */
  invoke(functionId: string, event: unknown, requestId?: string): Promise<unknown>;
  /** The counters of every function invoked so far. */
  stats(): Record<string, InvocationStats>;
}

export function createLambdaInvoker(options: {
  readonly functions: ReadonlyMap<string, LoadedFunction>;
  readonly isStopping: () => boolean;
  readonly now?: () => number;
  /** The clock invocations are timed with (ms; default performance.now). */
  readonly monotonicNow?: () => number;
  /** Told of every finished invocation (the bench times batches with it). */
  readonly onInvoked?: (record: InvocationRecord) => void;
}): LambdaInvoker {
  const { functions, isStopping, now = Date.now, monotonicNow = () => performance.now() } = options;
  const stats: Record<string, InvocationStats> = {};
  return {
    async invoke(functionId, event, requestId = randomUUID()) {
      const entry = functions.get(functionId);
      if (!entry) throw new Error(`no function ${functionId}`);
      stats[functionId] ??= { invocations: 0, failures: 0, running: 0, busyMs: 0 };
      const counters = stats[functionId];
      const context = lambdaContext({
        functionName: entry.definition.name,
        requestId,
        deadlineMs: now() + entry.definition.timeoutSeconds * 1000,
        isStopping,
        now,
      });
      counters.invocations += 1;
      counters.running += 1;
      const started = monotonicNow();
      let failed = false;
      try {
        return await entry.handler(event, context);
      } catch (error) {
        counters.failures += 1;
        failed = true;
        throw error;
      } finally {
        counters.running -= 1;
        const durationMs = monotonicNow() - started;
        counters.busyMs += durationMs;
        options.onInvoked?.({ functionId, event, durationMs, failed });
      }
    },
    stats: () => ({ ...stats }),
  };
}
