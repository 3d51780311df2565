/** aggregate λ: an MSK or Kinesis batch of data_raw → state in DynamoDB, a summary to data_clean, rejects to data_dead. */
import { Logger } from '@aws-lambda-powertools/logger';
import { createStateStore, loggedWarnings } from '../shared/adapters/state-store.ts';
import { analysisById } from '../shared/analyses/registry.ts';
import { loadFunctionConfig } from '../shared/config.ts';
import {
  type AggregateDependencies,
  aggregateSlices,
  type BatchOutcome,
} from '../shared/pipeline/aggregate.ts';
import type { BatchSlice } from '../shared/pipeline/batch-slice.ts';
import { decodeMskEvent } from '../shared/pipeline/msk-event.ts';
import { transportOf } from './transport.ts';
import { withLambdaContext } from './with-lambda-context.ts';

/** The pipeline's ports and settings, and the logger the handler writes to. */
export interface AggregateHandlerDependencies extends AggregateDependencies {
  readonly logger: Logger;
  /** The trigger's event as slices: MSK by default, Kinesis on a Kinesis stage (transport.ts). */
  readonly decodeEvent?: (event: unknown) => BatchSlice[];
}

export function createAggregateHandler({
  logger,
  decodeEvent = decodeMskEvent,
  ...dependencies
}: AggregateHandlerDependencies) {
  return withLambdaContext(logger, async (event: unknown): Promise<BatchOutcome[]> => {
    let outcomes: BatchOutcome[];
    try {
      outcomes = await aggregateSlices(decodeEvent(event), dependencies);
    } catch (error) {
      // The trigger retries the whole batch and holds its partitions back until it succeeds.
      logger.error('aggregate failed; the batch will be retried', { error });
      throw error;
    }
    const droppedGaps = outcomes.reduce((sum, outcome) => sum + (outcome.droppedGaps ?? 0), 0);
    if (droppedGaps > 0) {
      // More gaps open than the guard keeps (sequence-guard.ts): records still to come there are lost.
      logger.warn('sequence gaps given up', {
        droppedGaps,
        batches: outcomes.filter((outcome) => outcome.droppedGaps).map((outcome) => outcome.batchId),
      });
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
const transport = transportOf(config, 'driftline-aggregate');

export const handler = createAggregateHandler({
  logger,
  analyses: analysisById,
  store: createStateStore(config, loggedWarnings(logger)),
  publisher: transport.publisher,
  decodeEvent: transport.decodeEvent,
  topics: { clean: transport.names.clean, dead: transport.names.dead },
  bucketSeconds: config.bucketSeconds,
  batchTtlSeconds: config.batchTtlHours * 3600,
  ...(config.defaultAnalysis ? { defaultAnalysis: config.defaultAnalysis } : {}),
  now: Date.now,
});
