import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createApiHandler } from '../../../functions/api.ts';
import { allAnalyses, analysisById } from '../../../shared/analyses/registry.ts';
import { aggregateSlices } from '../../../shared/pipeline/aggregate.ts';
import { decodeMskEvent } from '../../../shared/pipeline/msk-event.ts';
import summaryRequest from '../../fixtures/events/http-api-v2-summary.json' with { type: 'json' };
import mskEvent from '../../fixtures/events/msk-data-raw.json' with { type: 'json' };
import restSummaryRequest from '../../fixtures/events/rest-api-v1-summary.json' with { type: 'json' };
import { FakeClock, InMemoryItemStore, RecordingPublisher } from '../../support/fakes.ts';
import { CapturingLogger, fakeLambdaContext } from '../../support/lambda.ts';

/** The fixture's origin: the dashboard's dev server, allowed as serverless.yml allows it. */
const DASHBOARD_ORIGIN = 'http://localhost:5173';
const RUN = 'dt/my file=1.csv@0123abcd';

/** A state table holding what aggregate made of the recorded MSK event. */
async function aggregatedStore(clock: FakeClock): Promise<InMemoryItemStore> {
  const store = new InMemoryItemStore({ now: clock.now });
  await aggregateSlices(decodeMskEvent(mskEvent), {
    analyses: analysisById,
    store,
    publisher: new RecordingPublisher({ now: clock.now }),
    topics: { clean: 'data_clean', dead: 'data_dead' },
    bucketSeconds: 5,
    batchTtlSeconds: 86_400,
    now: clock.now,
  });
  return store;
}

async function world() {
  const clock = new FakeClock();
  const store = await aggregatedStore(clock);
  const logger = new CapturingLogger('driftline-api');
  const handler = createApiHandler({
    logger,
    store,
    reference: async () => undefined,
    analyses: allAnalyses(),
    corsAllowOrigins: [DASHBOARD_ORIGIN],
    now: clock.now,
  });
  return { store, logger, handler };
}

/** The recorded request with some headers added or replaced. */
function withHeaders(headers: Record<string, string>): APIGatewayProxyEventV2 {
  return { ...summaryRequest, headers: { ...summaryRequest.headers, ...headers } };
}

describe('api handler', () => {
  it('answers GET /api/v1/analyses/dt/summary with the merged state as JSON, an ETag and CORS for the dashboard', async () => {
    // Arrange
    const { handler } = await world();

    // Act
    const response = await handler(summaryRequest, fakeLambdaContext({ requestId: 'api-request-1' }));

    // Assert
    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-cache',
      etag: expect.stringMatching(/^"[\w-]+"$/),
      vary: 'Origin',
      'access-control-allow-origin': DASHBOARD_ORIGIN,
      'access-control-expose-headers': 'ETag',
    });
    expect(JSON.parse(response.body ?? '')).toMatchObject({
      analysis: 'dt',
      runs: [RUN],
      partitions: 1,
      rows: 3,
      batches: 1,
      rejectedRows: 0,
      summary: expect.objectContaining({ rows_read: 3, hit_count: 2 }),
    });
  });

  it('answers 304 without a body when the client already holds that ETag', async () => {
    // Arrange
    const { handler } = await world();
    const first = await handler(summaryRequest, fakeLambdaContext({ requestId: 'api-request-1' }));
    const etag = String(first.headers?.etag);

    // Act
    const response = await handler(
      withHeaders({ 'if-none-match': etag }),
      fakeLambdaContext({ requestId: 'api-request-2' }),
    );

    // Assert
    expect(response).toMatchObject({ statusCode: 304, body: '' });
    expect(response.headers).toMatchObject({ etag, 'access-control-allow-origin': DASHBOARD_ORIGIN });
  });

  it('gives no CORS grant to an origin it does not know', async () => {
    // Arrange
    const { handler } = await world();

    // Act
    const response = await handler(
      withHeaders({ origin: 'https://elsewhere.example' }),
      fakeLambdaContext({ requestId: 'api-request-3' }),
    );

    // Assert
    expect(response.statusCode).toBe(200);
    expect(response.headers).not.toHaveProperty('access-control-allow-origin');
  });

  it('answers 500 without internals when the table fails, and logs the fault under each request id', async () => {
    // Arrange
    const { handler, store, logger } = await world();
    store.failNext('query', { times: 2, error: () => new Error('connect ECONNREFUSED 10.0.0.12:443') });

    // Act
    const responses = [
      await handler(summaryRequest, fakeLambdaContext({ requestId: 'failed-request-1' })),
      await handler(summaryRequest, fakeLambdaContext({ requestId: 'failed-request-2' })),
    ];

    // Assert
    for (const response of responses) {
      expect(response.statusCode).toBe(500);
      expect(response.body).not.toContain('ECONNREFUSED');
      expect(JSON.parse(response.body ?? '')).toEqual({ error: expect.stringContaining('internal error') });
    }
    expect(logger.lines).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        message: 'api: request failed',
        function_request_id: 'failed-request-1',
        path: '/api/v1/analyses/dt/summary',
        error: expect.stringContaining('ECONNREFUSED'),
      }),
      expect.objectContaining({ level: 'ERROR', function_request_id: 'failed-request-2' }),
    ]);
  });

  it('answers a REST API (v1) proxy event as it answers the same request through an HTTP API (v2)', async () => {
    // Arrange: the same GET with the same query and Origin, once in each shape.
    const { handler } = await world();
    const sameRequestV2: APIGatewayProxyEventV2 = {
      ...summaryRequest,
      rawQueryString: `run=${encodeURIComponent(RUN)}`,
      queryStringParameters: { run: RUN },
    };

    // Act
    const v1 = await handler(restSummaryRequest, fakeLambdaContext({ requestId: 'rest-request-1' }));
    const v2 = await handler(sameRequestV2, fakeLambdaContext({ requestId: 'api-request-4' }));

    // Assert
    expect(v1).toEqual(v2);
    expect(v1.statusCode).toBe(200);
    expect(v1.headers).toMatchObject({ vary: 'Origin', 'access-control-allow-origin': DASHBOARD_ORIGIN });
    expect(JSON.parse(v1.body)).toMatchObject({ analysis: 'dt', runs: [RUN], rows: 3 });
  });

  it('reads REST API (v1) headers whatever their case: If-None-Match gives 304, an OPTIONS preflight the CORS grant', async () => {
    // Arrange
    const { handler } = await world();
    const first = await handler(restSummaryRequest, fakeLambdaContext({ requestId: 'rest-request-2' }));
    const headers = { ...restSummaryRequest.headers, 'If-None-Match': String(first.headers.etag) };
    const preflight = {
      ...restSummaryRequest,
      httpMethod: 'OPTIONS',
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      headers: { ...restSummaryRequest.headers, 'Access-Control-Request-Method': 'GET' },
      requestContext: { ...restSummaryRequest.requestContext, httpMethod: 'OPTIONS' },
    };

    // Act
    const unchanged = await handler({ ...restSummaryRequest, headers }, fakeLambdaContext({}));
    const granted = await handler(preflight, fakeLambdaContext({}));

    // Assert
    expect(unchanged).toMatchObject({ statusCode: 304, body: '' });
    expect(granted.statusCode).toBe(204);
    expect(granted.headers).toMatchObject({
      'access-control-allow-origin': DASHBOARD_ORIGIN,
      'access-control-allow-methods': 'GET, HEAD',
      'access-control-allow-headers': 'If-None-Match',
    });
  });

  it('fails the invocation, saying why, on an event of neither API Gateway shape', async () => {
    // Arrange
    const { handler } = await world();

    // Act
    const answer = handler({ Records: [] }, fakeLambdaContext({ requestId: 'wrong-event' }));

    // Assert
    await expect(answer).rejects.toThrow(/neither an HTTP API \(v2\) nor a REST API \(v1\)/);
  });
});
