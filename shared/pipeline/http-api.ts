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
import { z } from 'zod';
import type { ApiAnswer } from '../contracts/api.ts';
import type { CleanMessage } from '../contracts/clean-message.ts';
import type { AnyAnalysis, Json } from '../core/analysis.ts';
import type { ItemStore } from './ports.ts';
import {
  batchesSince,
  bucketSeries,
  cumulativeSummary,
  pipelineHealth,
  replayProgressList,
  replayView,
} from './query.ts';
import { enrichSummary, type ReferenceLoader } from './reference-data.ts';
import { decodeBatchCursor } from './state-keys.ts';

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

export interface ApiDependencies {
  readonly store: ItemStore;
  readonly analyses: readonly AnyAnalysis[];
  readonly corsAllowOrigins: readonly string[];
  /** Reference data of an analysis (cached loader), joined into its summaries; undefined when none. */
  readonly reference: ReferenceLoader;
  readonly now: () => number;
  readonly log: (message: string, details: Record<string, unknown>) => void;
}

function enrichJson(analysis: AnyAnalysis, summary: Json | undefined, reference: unknown): Json {
  if (typeof summary !== 'object' || summary === null || Array.isArray(summary)) return summary ?? null;
  return enrichSummary(analysis, summary, reference);
}

/**
 * A batch summary's body is at its top level: the join adds to the body's fields, never to the
 * pipeline's (so the pipeline part keeps the types it has in `batch`).
 */
function enrichBatch(analysis: AnyAnalysis, batch: CleanMessage, reference: unknown): CleanMessage {
  return { ...batch, ...enrichSummary(analysis, batch, reference) };
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Validates query parameters: unknown names and bad values are a 400 naming the parameter. */
function parseQuery<T extends z.ZodRawShape>(shape: T, query: HttpRequest['query']): z.infer<z.ZodObject<T>> {
  const result = z
    .strictObject(shape)
    .safeParse(Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined)));
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.join('.') || (issue && 'keys' in issue ? String(issue.keys) : 'query');
  throw new HttpError(400, `invalid parameter ${where}: ${issue?.message ?? 'invalid'}`);
}

const runParameter = z.string().min(1).max(1024).optional();
const MAX_WINDOW_MS = 31 * 24 * 3600 * 1000;

async function route(request: HttpRequest, deps: ApiDependencies): Promise<ApiAnswer> {
  const segments = request.path.replace(/\/+$/, '').split('/').filter(Boolean);
  if (segments[0] !== 'api' || segments[1] !== 'v1')
    throw new HttpError(404, `no such resource: ${request.path}`);
  const [resource, id, view, ...rest] = segments.slice(2);
  if (rest.length > 0) throw new HttpError(404, `no such resource: ${request.path}`);

  if (resource === 'analyses' && id === undefined) {
    parseQuery({}, request.query);
    return { analyses: deps.analyses.map((analysis) => ({ id: analysis.id, title: analysis.title })) };
  }
  if (resource === 'analyses' && id !== undefined) {
    const analysis = deps.analyses.find((candidate) => candidate.id === id);
    if (!analysis)
      throw new HttpError(404, `no analysis "${id}" (known: ${deps.analyses.map((a) => a.id).join(', ')})`);
    switch (view) {
      case 'summary': {
        const { run } = parseQuery({ run: runParameter }, request.query);
        const [result, reference] = await Promise.all([
          cumulativeSummary(deps.store, analysis, run),
          deps.reference(analysis),
        ]);
        return { ...result, summary: enrichJson(analysis, result.summary, reference) };
      }
      case 'buckets': {
        const params = parseQuery(
          {
            last: z.coerce
              .number()
              .int()
              .min(1)
              .max(MAX_WINDOW_MS / 1000)
              .optional(),
            from: z.coerce.number().int().min(0).optional(),
            to: z.coerce.number().int().min(0).optional(),
            run: runParameter,
          },
          request.query,
        );
        const now = deps.now();
        const reference = await deps.reference(analysis);
        const toMs = params.to ?? now;
        const fromMs = params.from ?? toMs - (params.last ?? 300) * 1000;
        if (fromMs > toMs) throw new HttpError(400, 'invalid parameter from: must not be after to');
        if (toMs - fromMs > MAX_WINDOW_MS)
          throw new HttpError(400, 'invalid parameters: the range may span 31 days at most');
        return {
          analysis: analysis.id,
          fromMs,
          toMs,
          buckets: (await bucketSeries(deps.store, analysis, { fromMs, toMs, run: params.run })).map(
            (bucket) => ({
              ...bucket,
              summary: enrichJson(analysis, bucket.summary, reference),
            }),
          ),
        };
      }
      case 'batches': {
        const params = parseQuery(
          {
            since: z
              .string()
              .refine(
                (value) => value === 'latest' || decodeBatchCursor(value) !== undefined,
                "expected a cursor returned by this endpoint, or 'latest'",
              )
              .optional(),
            limit: z.coerce.number().int().min(1).max(500).default(100),
          },
          request.query,
        );
        const afterSk =
          params.since === undefined || params.since === 'latest'
            ? params.since
            : decodeBatchCursor(params.since);
        const [page, reference] = await Promise.all([
          batchesSince(deps.store, analysis.id, afterSk, params.limit),
          deps.reference(analysis),
        ]);
        const items = page.items.map((item) => enrichBatch(analysis, item, reference));
        return { analysis: analysis.id, items, cursor: page.cursor ?? null };
      }
      default:
        throw new HttpError(404, `no such resource: ${request.path}`);
    }
  }
  if (resource === 'replays' && id === undefined) {
    parseQuery({}, request.query);
    const now = deps.now();
    return { replays: (await replayProgressList(deps.store)).map((replay) => replayView(replay, now)) };
  }
  if (resource === 'health' && id === undefined) {
    const { window } = parseQuery(
      { window: z.coerce.number().int().min(5).max(3600).default(60) },
      request.query,
    );
    return pipelineHealth(deps.store, deps.analyses, deps.now(), window * 1000);
  }
  throw new HttpError(404, `no such resource: ${request.path}`);
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
    const body = JSON.stringify(await route(request, deps));
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
