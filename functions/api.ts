/** api λ: HTTP API (v2) GET /api/v1/* → JSON read from the state table. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { createS3Client, createS3ObjectSource } from '../shared/adapters/s3.ts';
import { createStateStore } from '../shared/adapters/state-store.ts';
import { allAnalyses } from '../shared/analyses/registry.ts';
import { loadFunctionConfig } from '../shared/config.ts';
import { type ApiDependencies, handleApiRequest } from '../shared/pipeline/http-api.ts';
import { createReferenceLoader } from '../shared/pipeline/reference-data.ts';

const config = loadFunctionConfig();
const logger = new Logger({ serviceName: 'driftline-api' });
const log = (message: string, details: Record<string, unknown>) => logger.error(message, details);
const dependencies: ApiDependencies = {
  store: createStateStore(config, {
    onOrphan: (blobKey, error) => logger.warn('could not delete a replaced state blob', { blobKey, error }),
    onStaleRead: (details) => logger.warn('a stale read was refused; the work is retried', details),
  }),
  reference: createReferenceLoader({
    source: createS3ObjectSource(createS3Client(config.aws)),
    bucket: config.datasetBucket,
    ttlMs: 60_000,
    now: Date.now,
    log,
  }),
  analyses: allAnalyses(),
  corsAllowOrigins: config.corsAllowOrigins,
  now: Date.now,
  log,
};

export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
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
    dependencies,
  );
};
