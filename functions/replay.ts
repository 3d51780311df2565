/** replay λ: S3 ObjectCreated (or its own continuation) → the object's rows into data_raw. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { createKafka, createKafkaPublisher } from '../shared/adapters/kafka.ts';
import { createLambdaClient, invokeAsync } from '../shared/adapters/lambda.ts';
import { createS3Client, createS3ObjectSource } from '../shared/adapters/s3.ts';
import { createStateStore } from '../shared/adapters/state-store.ts';
import { analysisForObjectKey } from '../shared/analyses/registry.ts';
import { loadFunctionConfig } from '../shared/config.ts';
import { type ReplayOutcome, replayObject } from '../shared/pipeline/replay.ts';
import { continuationEvent, decodeReplayEvent } from '../shared/pipeline/replay-event.ts';

const config = loadFunctionConfig();
const logger = new Logger({ serviceName: 'driftline-replay' });
const publisher = createKafkaPublisher(createKafka(config.kafka, { clientId: 'driftline-replay' }));
const store = createStateStore(config, {
  onOrphan: (blobKey, error) => logger.warn('could not delete a replaced state blob', { blobKey, error }),
  onStaleRead: (details) => logger.warn('a stale read was refused; the work is retried', details),
});
const source = createS3ObjectSource(createS3Client(config.aws));
const lambda = createLambdaClient(config.aws);

export const handler = async (event: unknown, context: Context): Promise<ReplayOutcome[]> => {
  try {
    return await replayAll(event, context);
  } catch (error) {
    // Lambda retries the event; the log says why it failed, with the request id the retry keeps.
    logger.error('replay failed; Lambda retries the event', { requestId: context.awsRequestId, error });
    throw error;
  }
};

async function replayAll(event: unknown, context: Context): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = [];
  for (const request of decodeReplayEvent(event)) {
    outcomes.push(
      await replayObject(request, {
        analysisForKey: analysisForObjectKey,
        source,
        publisher,
        store,
        rawTopic: config.topics.raw,
        partitions: config.rawTopicPartitions,
        defaults: config.replay,
        invocationId: context.awsRequestId,
        remainingMs: () => context.getRemainingTimeInMillis(),
        continueLater: (next) => invokeAsync(lambda, context.functionName, continuationEvent(next)),
        now: Date.now,
        sleep: (ms) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms)),
        log: (message, details) => logger.info(message, { details }),
      }),
    );
  }
  return outcomes;
}
