/** api λ: HTTP API (v2) GET /api/v1/* → JSON read from the state table. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { createS3Client, createS3ObjectSource } from '../shared/adapters/s3.ts';
import { createStateStore, loggedWarnings } from '../shared/adapters/state-store.ts';
import { allAnalyses } from '../shared/analyses/registry.ts';
import { loadFunctionConfig } from '../shared/config.ts';
import { type ApiDependencies, handleApiRequest } from '../shared/pipeline/http-api.ts';
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
  return withLambdaContext(
    logger,
    async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
      const headers = Object.fromEntries(
        Object.entries(event.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
      );
      return handleApiRequest(
        {
          method: event.requestContext.http.method,
          path: event.rawPath,
          query: event.queryStringParameters ?? {},
          headers,
        },
        api,
      );
    },
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
