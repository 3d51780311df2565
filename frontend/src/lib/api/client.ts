/**
 * GET requests to the driftline API with conditional requests: each `ApiResource` remembers the ETag
 * and the validated body of its last 200, sends `If-None-Match`, and on 304 hands back that body
 * unchanged. Failures are typed so the poller can tell "the API is unreachable" from "the API
 * answered with an error" (whose JSON message is shown to the user).
 */
import type { z } from 'zod';

export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/** The API answered, with an error status (its `{ error }` message, when it sent one). */
export class ApiHttpError extends Error {
  override readonly name = 'ApiHttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** No answer: connection refused, reset, or no response within the timeout. */
export class ApiUnreachableError extends Error {
  override readonly name = 'ApiUnreachableError';
}

/** An answer that is not what this dashboard understands (not JSON, or not the documented shape). */
export class ApiResponseError extends Error {
  override readonly name = 'ApiResponseError';
}

export interface ApiClientOptions {
  /** '' for same-origin (the dashboard is served beside the API). */
  readonly baseUrl?: string;
  readonly fetch?: FetchFunction;
  readonly timeoutMs?: number;
}

type RawAnswer =
  | { readonly status: 304 }
  | { readonly status: 200; readonly etag: string | null; readonly body: unknown };

export class ApiClient {
  readonly baseUrl: string;
  private readonly fetchFunction: FetchFunction;
  private readonly timeoutMs: number;

  constructor(options: ApiClientOptions = {}) {
    this.baseUrl = options.baseUrl ?? '';
    this.fetchFunction = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.timeoutMs = options.timeoutMs ?? 8_000;
  }

  resource<T>(schema: z.ZodType<T>): ApiResource<T> {
    return new ApiResource(this, schema);
  }

  async request(path: string, etag: string | undefined, signal: AbortSignal): Promise<RawAnswer> {
    // A timeout of our own, tied to the caller's signal (pause/stop aborts the request too).
    const controller = new AbortController();
    const abort = () => controller.abort();
    const timer = setTimeout(abort, this.timeoutMs);
    if (signal.aborted) controller.abort();
    else signal.addEventListener('abort', abort, { once: true });
    try {
      let response: Response;
      try {
        response = await this.fetchFunction(`${this.baseUrl}${path}`, {
          method: 'GET',
          headers:
            etag === undefined
              ? { accept: 'application/json' }
              : { accept: 'application/json', 'if-none-match': etag },
          // Conditional requests are ours: keep the browser cache out of the way so a 304 reaches us.
          cache: 'no-store',
          signal: controller.signal,
        });
      } catch (error) {
        if (signal.aborted) throw error;
        const reason = controller.signal.aborted
          ? `no answer within ${Math.round(this.timeoutMs / 1000)} s`
          : error instanceof Error
            ? error.message
            : String(error);
        throw new ApiUnreachableError(`API unreachable (${reason})`);
      }
      if (response.status === 304) return { status: 304 };
      const text = await response.text();
      if (!response.ok) throw new ApiHttpError(response.status, errorMessage(response.status, text));
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new ApiResponseError(
          `${path}: the API answered ${response.status} with a body that is not JSON`,
        );
      }
      return { status: 200, etag: response.headers.get('etag'), body };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
    }
  }
}

function errorMessage(status: number, text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'error' in parsed &&
      typeof parsed.error === 'string'
    ) {
      return parsed.error;
    }
  } catch {
    // Not JSON (a proxy's HTML error page, say): fall through to the status.
  }
  return `HTTP ${status}`;
}

export interface Fetched<T> {
  readonly value: T;
  /** False when the API answered 304 (the value is the one from before). */
  readonly changed: boolean;
}

/**
 * One logical resource (e.g. "the dt summary"): its last ETag and value. The URL may vary between
 * calls (a cursor, a window): the ETag is a hash of the body, so a 304 still means "the body you
 * have is the one you would get".
 */
export class ApiResource<T> {
  private last: { etag: string; value: T } | undefined;

  constructor(
    private readonly client: ApiClient,
    private readonly schema: z.ZodType<T>,
  ) {}

  async get(path: string, signal: AbortSignal): Promise<Fetched<T>> {
    const answer = await this.client.request(path, this.last?.etag, signal);
    if (answer.status === 304) {
      if (!this.last) throw new ApiResponseError(`${path}: 304 Not Modified without a cached body`);
      return { value: this.last.value, changed: false };
    }
    const parsed = this.schema.safeParse(answer.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ApiResponseError(
        `${path}: unexpected response (${issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid'})`,
      );
    }
    this.last = answer.etag === null ? undefined : { etag: answer.etag, value: parsed.data };
    return { value: parsed.data, changed: true };
  }
}
