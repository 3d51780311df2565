/** api λ: HTTP API (v2) GET /api/v1/* → JSON read from the state table. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { createDynamoDbClient, createDynamoDbItemStore } from '../shared/adapters/dynamodb.ts';
import { allAnalyses } from '../shared/analyses/registry.ts';
import { loadFunctionConfig } from '../shared/config.ts';
import { type ApiDependencies, handleApiRequest } from '../shared/pipeline/http-api.ts';

const config = loadFunctionConfig();
const logger = new Logger({ serviceName: 'driftline-api' });
const dependencies: ApiDependencies = {
  store: createDynamoDbItemStore(createDynamoDbClient(config.aws), config.stateTable),
  analyses: allAnalyses(),
  corsAllowOrigins: config.corsAllowOrigins,
  now: Date.now,
  log: (message, details) => logger.error(message, details),
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
