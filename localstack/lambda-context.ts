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
}): LambdaInvoker {
  const { functions, isStopping, now = Date.now } = options;
  const stats: Record<string, InvocationStats> = {};
  return {
    async invoke(functionId, event, requestId = randomUUID()) {
      const entry = functions.get(functionId);
      if (!entry) throw new Error(`no function ${functionId}`);
      stats[functionId] ??= { invocations: 0, failures: 0, running: 0 };
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
      try {
        return await entry.handler(event, context);
      } catch (error) {
        counters.failures += 1;
        throw error;
      } finally {
        counters.running -= 1;
      }
    },
    stats: () => ({ ...stats }),
  };
}
