/**
 * Where the dashboard's API is. On AWS the dashboard (CloudFront) and the API (API Gateway) are two
 * origins: `serverless deploy` writes `config.json` beside index.html naming the API's URL
 * (deploy/serverless-driftline.cjs). Locally there is none, and the local server and Vite answer
 * index.html for a path they do not have: then the API is on the dashboard's own origin, as in
 * `npm start`. One file read at start rather than a build-time variable: the same build runs
 * everywhere, and a redeployed API needs no rebuild.
 */
import { z } from 'zod';
import type { FetchFunction } from './client.ts';

/** config.json is there but says something this dashboard cannot use. */
export class ApiConfigError extends Error {
  override readonly name = 'ApiConfigError';
}

const dashboardConfig = z.object({
  apiBaseUrl: z
    .string()
    .url()
    .refine((url) => /^https?:\/\//.test(url), 'must be an http(s) URL')
    .transform((url) => url.replace(/\/+$/, '')),
});

/** The API client's base URL: '' (same origin) when there is no config.json. */
export async function loadApiBaseUrl(
  fetchFunction: FetchFunction = (input, init) => globalThis.fetch(input, init),
  configUrl = './config.json',
): Promise<string> {
  const response = await fetchFunction(configUrl, {
    cache: 'no-store',
    headers: { accept: 'application/json' },
  });
  const type = response.headers.get('content-type') ?? '';
  // No config.json: a 404, or the index.html a local server falls back to.
  if (!response.ok || !type.includes('json')) return '';
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new ApiConfigError(`${configUrl} is not JSON`);
  }
  const parsed = dashboardConfig.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ApiConfigError(
      `${configUrl}: ${issue ? `${issue.path.join('.') || 'body'} ${issue.message}` : 'invalid'} (expected {"apiBaseUrl": "https://…"})`,
    );
  }
  return parsed.data.apiBaseUrl;
}
