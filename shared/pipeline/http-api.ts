/**
 * The read-only HTTP API under /api/v1, transport-neutral (an API Gateway HTTP API v2 event in, a
 * response out). Every parameter is validated (400 with a JSON message); responses carry an ETag
 * (304 on If-None-Match) and CORS headers for allowed origins; errors never expose internals and
 * repeat at most ~100 characters of the request. What each route reads and answers at most, and
 * why buckets and batches are paged: http-api/bounds.ts.
 *
 *   GET /api/v1/analyses                               the analyses
 *   GET /api/v1/analyses/{id}/summary[?run=]           cumulative summary (all partitions merged)
 *   GET /api/v1/analyses/{id}/buckets?last=|from=&to=  time-bucket rollups merged across partitions (paged)
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
import { echo, HttpError } from './http-api/parameters.ts';
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

/** The methods served: GET, HEAD (GET without the body) and OPTIONS (CORS preflight). */
const ALLOWED_METHODS = 'GET, HEAD, OPTIONS';
/** How long a browser may reuse a preflight: else each poll (it sends If-None-Match) pays one. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * CORS headers for an answer. An allow-list entry `*` makes the API public: it answers `*`, never
 * the caller's origin (the answers are public, read-only data fetched without credentials, which
 * is what `*` means to a browser; reflecting every origin would say more), and the same to every
 * origin, so without `Vary`. A list of origins answers each allowed one with itself, so its
 * answers differ by Origin: `Vary: Origin` on every answer, allowed or not, keeps caches from
 * handing one origin's grant to another. No list: no CORS headers, nothing varies.
 */
function corsHeaders(request: HttpRequest, allowed: readonly string[]): Record<string, string> {
  const preflight = request.method === 'OPTIONS';
  const grant = (origin: string): Record<string, string> => ({
    'access-control-allow-origin': origin,
    'access-control-expose-headers': 'ETag',
    ...(preflight
      ? {
          'access-control-allow-methods': 'GET, HEAD',
          'access-control-allow-headers': 'If-None-Match',
          'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
        }
      : {}),
  });
  if (allowed.includes('*')) return grant('*');
  if (allowed.length === 0) return {};
  const origin = request.headers.origin;
  return origin && allowed.includes(origin) ? { vary: 'Origin', ...grant(origin) } : { vary: 'Origin' };
}

/** On every answer: a JSON (or empty) body is never to be sniffed into something a browser runs. */
const COMMON_HEADERS = { 'x-content-type-options': 'nosniff' };

function json(statusCode: number, body: Json, extra: Record<string, string>): HttpResponse {
  return {
    statusCode,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-cache',
      ...COMMON_HEADERS,
      ...extra,
    },
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
  if (request.method === 'OPTIONS')
    return { statusCode: 204, headers: { ...COMMON_HEADERS, ...cors }, body: '' };
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return json(
      405,
      { error: `method ${echo(request.method)} not allowed: this API is read-only (GET)` },
      { ...cors, allow: ALLOWED_METHODS },
    );
  }
  try {
    const body = JSON.stringify(await route(request.path, request.query, deps));
    const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
    if (etagMatches(request.headers['if-none-match'], etag))
      return { statusCode: 304, headers: { ...COMMON_HEADERS, ...cors, etag }, body: '' };
    return {
      statusCode: 200,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-cache',
        ...COMMON_HEADERS,
        etag,
        ...cors,
      },
      body: request.method === 'HEAD' ? '' : body,
    };
  } catch (error) {
    if (error instanceof HttpError) return json(error.statusCode, { error: error.message }, cors);
    deps.log('api: request failed', {
      path: echo(request.path),
      error: error instanceof Error ? error.stack : String(error),
    });
    return json(
      500,
      { error: 'internal error: the request could not be answered; see the function logs' },
      cors,
    );
  }
}
