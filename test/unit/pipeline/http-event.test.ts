import { describe, expect, it } from 'vitest';
import { decodeHttpEvent } from '../../../shared/pipeline/http-event.ts';
import httpApiV2 from '../../fixtures/events/http-api-v2-summary.json' with { type: 'json' };
import restApiV1 from '../../fixtures/events/rest-api-v1-summary.json' with { type: 'json' };

describe('decodeHttpEvent', () => {
  it('reads an HTTP API (v2) event: method from requestContext.http, rawPath, lower-case headers', () => {
    const request = decodeHttpEvent(httpApiV2);
    expect(request).toMatchObject({ method: 'GET', path: '/api/v1/analyses/dt/summary', query: {} });
    expect(request.headers.origin).toBe('http://localhost:5173');
  });

  it('reads a REST API (v1) event: httpMethod, the path without the stage, header names in lower case', () => {
    const request = decodeHttpEvent(restApiV1);
    expect(request).toMatchObject({
      method: 'GET',
      path: '/api/v1/analyses/dt/summary',
      query: { run: 'dt/my file=1.csv@0123abcd' },
    });
    expect(request.headers.origin).toBe('http://localhost:5173');
    expect(request.headers).not.toHaveProperty('Origin');
  });

  it('reads the nulls a REST API (v1) sends for a request without headers or query as empty', () => {
    const request = decodeHttpEvent({
      ...restApiV1,
      headers: null,
      multiValueHeaders: null,
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
    });
    expect(request).toMatchObject({ query: {}, headers: {} });
  });

  it('refuses an event of neither shape, naming what is missing', () => {
    expect(() => decodeHttpEvent({ Records: [] })).toThrow(/httpMethod/);
  });
});
