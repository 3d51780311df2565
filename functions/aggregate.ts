/** aggregate λ: an MSK batch of data_raw → state in DynamoDB, a summary to data_clean, rejects to data_dead. */
import { Logger } from '@aws-lambda-powertools/logger';
import { createKafka, createKafkaPublisher } from '../shared/adapters/kafka.ts';
import { createStateStore, loggedWarnings } from '../shared/adapters/state-store.ts';
import { analysisById } from '../shared/analyses/registry.ts';
import { loadFunctionConfig } from '../shared/config.ts';
import {
  type AggregateDependencies,
  aggregateSlices,
  type BatchOutcome,
} from '../shared/pipeline/aggregate.ts';
import { decodeMskEvent } from '../shared/pipeline/msk-event.ts';
import { withLambdaContext } from './with-lambda-context.ts';

/** The pipeline's ports and settings, and the logger the handler writes to. */
export interface AggregateHandlerDependencies extends AggregateDependencies {
  readonly logger: Logger;
}

export function createAggregateHandler({ logger, ...dependencies }: AggregateHandlerDependencies) {
  return withLambdaContext(logger, async (event: unknown): Promise<BatchOutcome[]> => {
    let outcomes: BatchOutcome[];
    try {
      outcomes = await aggregateSlices(decodeMskEvent(event), dependencies);
    } catch (error) {
      // The trigger retries the whole batch and holds its partitions back until it succeeds.
      logger.error('aggregate failed; the batch will be retried', { error });
      throw error;
    }
    logger.info('batches aggregated', {
      batches: outcomes.length,
      rows: outcomes.reduce((sum, outcome) => sum + outcome.inputRows, 0),
      rejected: outcomes.reduce((sum, outcome) => sum + outcome.rejectedRows, 0),
      duplicates: outcomes.filter((outcome) => outcome.duplicate).length,
    });
    return outcomes;
  });
}

// Created once per container; the adapters connect on first use.
const config = loadFunctionConfig();
const logger = new Logger({ serviceName: 'driftline-aggregate' });

export const handler = createAggregateHandler({
  logger,
  analyses: analysisById,
  store: createStateStore(config, loggedWarnings(logger)),
  publisher: createKafkaPublisher(createKafka(config.kafka, { clientId: 'driftline-aggregate' })),
  topics: { clean: config.topics.clean, dead: config.topics.dead },
  bucketSeconds: config.bucketSeconds,
  batchTtlSeconds: config.batchTtlHours * 3600,
  ...(config.defaultAnalysis ? { defaultAnalysis: config.defaultAnalysis } : {}),
  now: Date.now,
});
