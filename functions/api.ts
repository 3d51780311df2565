/**
 * api λ: GET /api/v1/* behind an HTTP API (v2) or, on the localstack stage, a REST API (v1) → JSON
 * read from the state table.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { createS3Client, createS3ObjectSource } from '../shared/adapters/s3.ts';
import { createStateStore, loggedWarnings } from '../shared/adapters/state-store.ts';
import { allAnalyses } from '../shared/analyses/registry.ts';
import { loadFunctionConfig } from '../shared/config.ts';
import { type ApiDependencies, type HttpResponse, handleApiRequest } from '../shared/pipeline/http-api.ts';
import { decodeHttpEvent } from '../shared/pipeline/http-event.ts';
import { createReferenceLoader } from '../shared/pipeline/reference-data.ts';
import { withLambdaContext } from './with-lambda-context.ts';

/** The API's ports and settings, and the logger its failures go to. */
export interface ApiHandlerDependencies extends Omit<ApiDependencies, 'log'> {
  readonly logger: Logger;
}

export function createApiHandler({ logger, ...dependencies }: ApiHandlerDependencies) {
  const api: ApiDependencies = {
    ...dependencies,
    log: (message, details) => logger.error(message, details),
  };
  // The answer `{ statusCode, headers, body }` is a valid proxy result of either API flavour.
  return withLambdaContext(
    logger,
    async (event: unknown): Promise<HttpResponse> => handleApiRequest(decodeHttpEvent(event), api),
  );
}

// Created once per container; the adapters connect on first use.
const config = loadFunctionConfig();
const logger = new Logger({ serviceName: 'driftline-api' });

export const handler = createApiHandler({
  logger,
  store: createStateStore(config, loggedWarnings(logger)),
  reference: createReferenceLoader({
    source: createS3ObjectSource(createS3Client(config.aws)),
    bucket: config.datasetBucket,
    ttlMs: 60_000,
    now: Date.now,
    log: (message, details) => logger.error(message, details),
  }),
  analyses: allAnalyses(),
  corsAllowOrigins: config.corsAllowOrigins,
  now: Date.now,
});
