/**
 * The routes of the API under /api/v1, one function each; `route` finds the one a path names.
 * Hand-written rather than a router library: six GET routes and one path parameter are a lookup,
 * and a plain function runs alike behind API Gateway and the local HTTP gateway.
 */
import { z } from 'zod';
import type { ApiAnswer } from '../../contracts/api.ts';
import type { CleanMessage } from '../../contracts/clean-message.ts';
import type { AnyAnalysis, Json } from '../../core/analysis.ts';
import type { ItemStore } from '../ports.ts';
import { batchesSince, bucketPage, cumulativeSummary, listedReplays, pipelineHealth } from '../query.ts';
import { enrichSummary, type ReferenceLoader } from '../reference-data.ts';
import { decodeBatchCursor } from '../state-keys.ts';
import { countWithin, MAX_PAGE_BYTES } from './bounds.ts';
import { decimalInteger, echo, HttpError, parseQuery, type QueryParameters } from './parameters.ts';

export interface RouteDependencies {
  readonly store: ItemStore;
  readonly analyses: readonly AnyAnalysis[];
  /** Reference data of an analysis (cached loader), joined into its summaries; undefined when none. */
  readonly reference: ReferenceLoader;
  readonly now: () => number;
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

const runParameter = z.string().min(1).max(1024).optional();
const MAX_WINDOW_MS = 31 * 24 * 3600 * 1000;
/** Epoch milliseconds as the sort keys hold them: 15 digits (until the year 33658). */
const MAX_TIMESTAMP_MS = 10 ** 15 - 1;

type AnalysisRoute = (
  query: QueryParameters,
  analysis: AnyAnalysis,
  deps: RouteDependencies,
) => Promise<ApiAnswer>;

/** GET /analyses/{id}/summary[?run=]: the cumulative summary, all partitions merged. */
const summaryRoute: AnalysisRoute = async (query, analysis, deps) => {
  const { run } = parseQuery({ run: runParameter }, query);
  const [result, reference] = await Promise.all([
    cumulativeSummary(deps.store, analysis, run),
    deps.reference(analysis),
  ]);
  return { ...result, summary: enrichJson(analysis, result.summary, reference) };
};

/**
 * GET /analyses/{id}/buckets?last=|from=&to=: time-bucket rollups merged across partitions, oldest
 * first, a page at a time (at most 1 MiB of buckets from at most 2,001 rollup items: bounds.ts);
 * `nextFromMs` is where the next page starts (`from=nextFromMs&to=toMs`), null on the last one.
 */
const bucketsRoute: AnalysisRoute = async (query, analysis, deps) => {
  const params = parseQuery(
    {
      last: decimalInteger(1, MAX_WINDOW_MS / 1000).optional(),
      from: decimalInteger(0, MAX_TIMESTAMP_MS).optional(),
      to: decimalInteger(0, MAX_TIMESTAMP_MS).optional(),
      run: runParameter,
    },
    query,
  );
  const now = deps.now();
  const reference = await deps.reference(analysis);
  const toMs = params.to ?? now;
  const fromMs = params.from ?? toMs - (params.last ?? 300) * 1000;
  if (fromMs > toMs) throw new HttpError(400, 'invalid parameter from: must not be after to');
  if (toMs - fromMs > MAX_WINDOW_MS)
    throw new HttpError(400, 'invalid parameters: the range may span 31 days at most');
  const page = await bucketPage(deps.store, analysis, { fromMs, toMs, run: params.run });
  const buckets = page.buckets.map((bucket) => ({
    ...bucket,
    summary: enrichJson(analysis, bucket.summary, reference),
  }));
  const fitting = countWithin(buckets, MAX_PAGE_BYTES);
  return {
    analysis: analysis.id,
    fromMs,
    toMs,
    buckets: buckets.slice(0, fitting),
    nextFromMs: buckets[fitting]?.bucketStartMs ?? page.nextFromMs,
  };
};

/**
 * GET /analyses/{id}/batches?since=&limit=: per-batch summaries after a cursor (or the latest), at
 * most `limit` and at most 1 MiB of them (bounds.ts); the cursor continues after the last answered.
 */
const batchesRoute: AnalysisRoute = async (query, analysis, deps) => {
  const params = parseQuery(
    {
      since: z
        .string()
        .refine(
          (value) => value === 'latest' || decodeBatchCursor(value) !== undefined,
          "expected a cursor returned by this endpoint, or 'latest'",
        )
        .optional(),
      limit: decimalInteger(1, 500).default(100),
    },
    query,
  );
  const afterSk =
    params.since === undefined || params.since === 'latest' ? params.since : decodeBatchCursor(params.since);
  const reference = await deps.reference(analysis);
  const page = await batchesSince(deps.store, analysis.id, afterSk, params.limit, {
    prepare: (item) => enrichBatch(analysis, item, reference),
    maxBytes: MAX_PAGE_BYTES,
  });
  return { analysis: analysis.id, items: page.items, cursor: page.cursor ?? null };
};

const analysisRoutes: Readonly<Record<string, AnalysisRoute>> = {
  summary: summaryRoute,
  buckets: bucketsRoute,
  batches: batchesRoute,
};

type TopRoute = (query: QueryParameters, deps: RouteDependencies) => Promise<ApiAnswer>;

const topRoutes: Readonly<Record<string, TopRoute>> = {
  /** GET /analyses: the analyses. */
  analyses: async (query, deps) => {
    parseQuery({}, query);
    return { analyses: deps.analyses.map((analysis) => ({ id: analysis.id, title: analysis.title })) };
  },
  /** GET /replays: replay progress per object, running first, at most 100 (bounds.ts). */
  replays: async (query, deps) => {
    parseQuery({}, query);
    return listedReplays(deps.store, deps.now());
  },
  /**
   * GET /health[?window=]: rows/s in and out, latency, rejects, replays; from at most the newest 200
   * batch summaries of each analysis in the window (`sampled` when it held more: bounds.ts).
   */
  health: async (query, deps) => {
    const { window } = parseQuery({ window: decimalInteger(5, 3600).default(60) }, query);
    return pipelineHealth(deps.store, deps.analyses, deps.now(), window * 1000);
  },
};

/** The answer to a GET of `path`, or an HttpError (404 for a path no route serves). */
export async function route(
  path: string,
  query: QueryParameters,
  deps: RouteDependencies,
): Promise<ApiAnswer> {
  const notFound = () => new HttpError(404, `no such resource: ${echo(path)}`);
  const segments = path.replace(/\/+$/, '').split('/').filter(Boolean);
  if (segments[0] !== 'api' || segments[1] !== 'v1') throw notFound();
  const [resource, id, view, ...rest] = segments.slice(2);
  if (rest.length > 0 || resource === undefined) throw notFound();
  if (id === undefined) {
    const top = Object.hasOwn(topRoutes, resource) ? topRoutes[resource] : undefined;
    if (!top) throw notFound();
    return top(query, deps);
  }
  if (resource !== 'analyses') throw notFound();
  const analysis = deps.analyses.find((candidate) => candidate.id === id);
  if (!analysis)
    throw new HttpError(
      404,
      `no analysis "${echo(id)}" (known: ${deps.analyses.map((a) => a.id).join(', ')})`,
    );
  const viewRoute =
    view !== undefined && Object.hasOwn(analysisRoutes, view) ? analysisRoutes[view] : undefined;
  if (!viewRoute) throw notFound();
  return viewRoute(query, analysis, deps);
}
