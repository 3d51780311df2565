/**
 * What every driftline handler is wrapped in: Powertools' `injectLambdaContext` through middy, so
 * that every line the function's logger writes during an invocation carries its request id
 * (`function_request_id`), function name, ARN, memory and cold start.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';

export type LambdaHandler<TEvent, TResult> = (event: TEvent, context: Context) => Promise<TResult>;

export function withLambdaContext<TEvent, TResult>(
  logger: Logger,
  handler: LambdaHandler<TEvent, TResult>,
): LambdaHandler<TEvent, TResult> {
  // No early timeout: middy would otherwise reject 5 ms before the deadline while the handler runs
  // on. Deadlines are the handlers' own business (replay checkpoints a minute before), and the
  // local stack, when stopping, reports 0 ms left on purpose so that replay checkpoints at once.
  return middy<TEvent, TResult>(handler, { timeoutEarlyInMillis: 0 }).use(injectLambdaContext(logger));
}
