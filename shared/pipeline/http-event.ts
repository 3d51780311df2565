/**
 * Decodes the two API Gateway proxy events that reach the api function into one transport-neutral
 * request (http-api.ts), validating each shape at the boundary:
 *
 * - HTTP API (v2, payload format 2.0): `version: "2.0"`, the method in `requestContext.http.method`,
 *   the path in `rawPath`; AWS, the local stack and serverless-offline send it.
 * - REST API (v1, Lambda proxy integration): `httpMethod`, `path` (the resource path, without the
 *   stage), `headers` and `queryStringParameters` that are null when empty. The stage `localstack`
 *   uses it, because LocalStack's free tier serves REST APIs and not HTTP APIs.
 *
 * Both answer with the same `{ statusCode, headers, body }`, which is a valid result of either.
 * Header names are case-insensitive in HTTP: REST APIs pass them as the client sent them, HTTP APIs
 * in lower case; the request carries them in lower case. A repeated query parameter is one value
 * in both (v2 joins repeats with commas, v1 keeps the last; `multiValueQueryStringParameters` is not
 * read: no route of this API takes a list).
 */
import { z } from 'zod';
import type { HttpRequest } from './http-api.ts';

const stringMap = z.record(z.string(), z.string().optional());

const httpApiV2Event = z.object({
  version: z.literal('2.0'),
  rawPath: z.string(),
  headers: stringMap.optional(),
  queryStringParameters: stringMap.optional(),
  requestContext: z.object({ http: z.object({ method: z.string() }) }),
});

const restApiV1Event = z.object({
  resource: z.string(),
  path: z.string(),
  httpMethod: z.string(),
  headers: stringMap.nullable().optional(),
  queryStringParameters: stringMap.nullable().optional(),
  requestContext: z.object({ stage: z.string() }),
});

function lowerCaseNames(
  headers: Readonly<Record<string, string | undefined>>,
): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

function fromHttpApiV2(event: z.infer<typeof httpApiV2Event>): HttpRequest {
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    query: event.queryStringParameters ?? {},
    headers: lowerCaseNames(event.headers ?? {}),
  };
}

function fromRestApiV1(event: z.infer<typeof restApiV1Event>): HttpRequest {
  return {
    method: event.httpMethod,
    path: event.path,
    query: event.queryStringParameters ?? {},
    headers: lowerCaseNames(event.headers ?? {}),
  };
}

/** The event of either API Gateway flavour as a request; anything else is a wiring fault: it throws. */
export function decodeHttpEvent(event: unknown): HttpRequest {
  const v2 = httpApiV2Event.safeParse(event);
  if (v2.success) return fromHttpApiV2(v2.data);
  const v1 = restApiV1Event.safeParse(event);
  if (v1.success) return fromRestApiV1(v1.data);
  throw new Error(
    'the api function received an event that is neither an HTTP API (v2) nor a REST API (v1) proxy ' +
      `event: ${v1.error.issues
        .slice(0, 3)
        .map((issue) => `${issue.path.join('.') || 'event'}: ${issue.message}`)
        .join('; ')}`,
  );
}
