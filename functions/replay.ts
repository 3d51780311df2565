/** replay λ: S3 ObjectCreated (or its own continuation) → the object's rows into data_raw (Kafka or Kinesis). */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { createLambdaClient, invokeAsync } from '../shared/adapters/lambda.ts';
import { createS3Client, createS3ObjectSource } from '../shared/adapters/s3.ts';
import { createStateStore, loggedWarnings } from '../shared/adapters/state-store.ts';
import { analysisForObjectKey } from '../shared/analyses/registry.ts';
import { loadFunctionConfig } from '../shared/config.ts';
import { type ReplayDependencies, type ReplayOutcome, replayObject } from '../shared/pipeline/replay.ts';
import { continuationEvent, decodeReplayEvent } from '../shared/pipeline/replay-event.ts';
import { transportOf } from './transport.ts';
import { withLambdaContext } from './with-lambda-context.ts';

/**
 * The pipeline's ports and settings, the logger the handler writes to, and how it invokes itself
 * asynchronously; what belongs to one invocation (its id, deadline, name) comes from its context.
 */
export interface ReplayHandlerDependencies
  extends Omit<ReplayDependencies, 'invocationId' | 'remainingMs' | 'continueLater' | 'log'> {
  readonly logger: Logger;
  /** Starts a new invocation of `functionName` with `event` and returns without waiting for it. */
  readonly invokeContinuation: (
    functionName: string,
    event: ReturnType<typeof continuationEvent>,
  ) => Promise<void>;
}

export function createReplayHandler({
  logger,
  invokeContinuation,
  ...dependencies
}: ReplayHandlerDependencies) {
  async function replayAll(event: unknown, context: Context): Promise<ReplayOutcome[]> {
    const outcomes: ReplayOutcome[] = [];
    for (const request of decodeReplayEvent(event)) {
      outcomes.push(
        await replayObject(request, {
          ...dependencies,
          invocationId: context.awsRequestId,
          remainingMs: () => context.getRemainingTimeInMillis(),
          continueLater: (next) => invokeContinuation(context.functionName, continuationEvent(next)),
          log: (message, details) => logger.info(message, { details }),
        }),
      );
    }
    return outcomes;
  }

  return withLambdaContext(logger, async (event: unknown, context: Context): Promise<ReplayOutcome[]> => {
    try {
      return await replayAll(event, context);
    } catch (error) {
      // Lambda retries the event with the same request id, which every line of the log carries.
      logger.error('replay failed; Lambda retries the event', { error });
      throw error;
    }
  });
}

// Created once per container; the adapters connect on first use.
const config = loadFunctionConfig();
const logger = new Logger({ serviceName: 'driftline-replay' });
const lambda = createLambdaClient(config.aws);
const transport = transportOf(config, 'driftline-replay');

export const handler = createReplayHandler({
  logger,
  analysisForKey: analysisForObjectKey,
  source: createS3ObjectSource(createS3Client(config.aws)),
  publisher: transport.publisher,
  store: createStateStore(config, loggedWarnings(logger)),
  rawTopic: transport.names.raw,
  partitions: config.rawTopicPartitions,
  defaults: config.replay,
  invokeContinuation: (functionName, event) => invokeAsync(lambda, functionName, event),
  now: Date.now,
  sleep: (ms) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms)),
});
