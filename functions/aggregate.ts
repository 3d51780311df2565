/** aggregate λ: an MSK batch of data_raw → state in DynamoDB, a summary to data_clean, rejects to data_dead. */
import { Logger } from '@aws-lambda-powertools/logger';
import { createKafka, createKafkaPublisher } from '../shared/adapters/kafka.ts';
import { createStateStore } from '../shared/adapters/state-store.ts';
import { analysisById } from '../shared/analyses/registry.ts';
import { loadFunctionConfig } from '../shared/config.ts';
import {
  type AggregateDependencies,
  aggregateSlices,
  type BatchOutcome,
} from '../shared/pipeline/aggregate.ts';
import { decodeMskEvent } from '../shared/pipeline/msk-event.ts';

const config = loadFunctionConfig();
const logger = new Logger({ serviceName: 'driftline-aggregate' });
const dependencies: AggregateDependencies = {
  analyses: analysisById,
  store: createStateStore(config, {
    onOrphan: (blobKey, error) => logger.warn('could not delete a replaced state blob', { blobKey, error }),
    onStaleRead: (details) => logger.warn('a stale read was refused; the work is retried', details),
  }),
  publisher: createKafkaPublisher(createKafka(config.kafka, { clientId: 'driftline-aggregate' })),
  topics: { clean: config.topics.clean, dead: config.topics.dead },
  bucketSeconds: config.bucketSeconds,
  batchTtlSeconds: config.batchTtlHours * 3600,
  ...(config.defaultAnalysis ? { defaultAnalysis: config.defaultAnalysis } : {}),
  now: Date.now,
};

export const handler = async (event: unknown): Promise<BatchOutcome[]> => {
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
};
