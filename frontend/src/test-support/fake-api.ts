/**
 * A fake of the driftline API for the dashboard's tests: routes by path, answers JSON with an ETag
 * computed like the real API (a hash of the body), 304 on a matching If-None-Match, and can be made
 * unreachable or failing. Requests are recorded.
 */
import type { FetchFunction } from '../lib/api/client.ts';

export interface RecordedRequest {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly ifNoneMatch: string | null;
}

export type Route = (request: RecordedRequest) => unknown;

/** A stable, cheap string hash (the real API uses SHA-1; any function of the body will do). */
function etagOf(body: string): string {
  let hash = 2166136261;
  for (let index = 0; index < body.length; index++) {
    hash = Math.imul(hash ^ body.charCodeAt(index), 16777619) >>> 0;
  }
  return `"${hash.toString(36)}-${body.length}"`;
}

export class FakeApi {
  readonly requests: RecordedRequest[] = [];
  /** 'down': connection refused; a number: every request answers that status with an error body. */
  mode: 'up' | 'down' | number = 'up';
  private readonly routes = new Map<string, Route>();

  route(path: string, handler: Route): this {
    this.routes.set(path, handler);
    return this;
  }

  readonly fetch: FetchFunction = async (input, init) => {
    const url = new URL(input, 'http://dashboard.test');
    const headers = new Headers(init.headers);
    const request: RecordedRequest = {
      path: url.pathname,
      query: url.searchParams,
      ifNoneMatch: headers.get('if-none-match'),
    };
    this.requests.push(request);
    if (init.signal?.aborted) throw new DOMException('aborted', 'AbortError');
    if (this.mode === 'down') throw new TypeError('fetch failed: connect ECONNREFUSED');
    if (typeof this.mode === 'number') {
      return new Response(JSON.stringify({ error: 'internal error: the request could not be answered' }), {
        status: this.mode,
        headers: { 'content-type': 'application/json' },
      });
    }
    const handler = this.routes.get(url.pathname);
    if (!handler) {
      return new Response(JSON.stringify({ error: `no such resource: ${url.pathname}` }), { status: 404 });
    }
    const body = JSON.stringify(handler(request));
    const etag = etagOf(body);
    if (request.ifNoneMatch === etag) return new Response(null, { status: 304, headers: { etag } });
    return new Response(body, { status: 200, headers: { 'content-type': 'application/json', etag } });
  };

  requestsTo(path: string): RecordedRequest[] {
    return this.requests.filter((request) => request.path === path);
  }
}
