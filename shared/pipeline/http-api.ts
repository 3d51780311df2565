/**
 * The read-only HTTP API under /api/v1, transport-neutral (an API Gateway HTTP API v2 event in, a
 * response out). Every parameter is validated (400 with a JSON message); responses carry an ETag
 * (304 on If-None-Match) and CORS headers for allowed origins; errors never expose internals.
 *
 *   GET /api/v1/analyses                               the analyses
 *   GET /api/v1/analyses/{id}/summary[?run=]           cumulative summary (all partitions merged)
 *   GET /api/v1/analyses/{id}/buckets?last=|from=&to=  time-bucket rollups merged across partitions
 *   GET /api/v1/analyses/{id}/batches?since=&limit=    per-batch summaries after a cursor (or the latest)
 *   GET /api/v1/replays                                replay progress per object
 *   GET /api/v1/health[?window=]                       rows/s in and out, latency, rejects, replays
 *
 * The answers are typed by shared/contracts/api.ts and built to it (query.ts, which parses stored
 * batch summaries as they leave the store); the contract tests parse every answer with those schemas,
 * exactly (test/unit/contracts), so answers are not validated again here on the way out.
 */
import { createHash } from 'node:crypto';
import type { Json } from '../core/analysis.ts';
import { HttpError } from './http-api/parameters.ts';
import { type RouteDependencies, route } from './http-api/routes.ts';

export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly headers: Readonly<Record<string, string | undefined>>;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface ApiDependencies extends RouteDependencies {
  readonly corsAllowOrigins: readonly string[];
  readonly log: (message: string, details: Record<string, unknown>) => void;
}

function corsHeaders(request: HttpRequest, allowed: readonly string[]): Record<string, string> {
  const origin = request.headers.origin;
  const headers: Record<string, string> = { vary: 'Origin' };
  if (origin && (allowed.includes(origin) || allowed.includes('*'))) {
    headers['access-control-allow-origin'] = origin;
    headers['access-control-allow-methods'] = 'GET, OPTIONS';
    headers['access-control-allow-headers'] = 'If-None-Match';
    headers['access-control-expose-headers'] = 'ETag';
  }
  return headers;
}

function json(statusCode: number, body: Json, extra: Record<string, string>): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache', ...extra },
    body: JSON.stringify(body),
  };
}

/** If-None-Match may list several tags and mark them weak (W/"…"); any match means unchanged. */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const candidate = tag.trim().replace(/^W\//, '');
    return candidate === etag || candidate === '*';
  });
}

export async function handleApiRequest(request: HttpRequest, deps: ApiDependencies): Promise<HttpResponse> {
  const cors = corsHeaders(request, deps.corsAllowOrigins);
  if (request.method === 'OPTIONS') return { statusCode: 204, headers: cors, body: '' };
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return json(
      405,
      { error: `method ${request.method} not allowed: this API is read-only (GET)` },
      { ...cors, allow: 'GET' },
    );
  }
  try {
    const body = JSON.stringify(await route(request.path, request.query, deps));
    const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
    if (etagMatches(request.headers['if-none-match'], etag))
      return { statusCode: 304, headers: { ...cors, etag }, body: '' };
    return {
      statusCode: 200,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-cache',
        etag,
        ...cors,
      },
      body: request.method === 'HEAD' ? '' : body,
    };
  } catch (error) {
    if (error instanceof HttpError) return json(error.statusCode, { error: error.message }, cors);
    deps.log('api: request failed', {
      path: request.path,
      error: error instanceof Error ? error.stack : String(error),
    });
    return json(
      500,
      { error: 'internal error: the request could not be answered; see the function logs' },
      cors,
    );
  }
}
