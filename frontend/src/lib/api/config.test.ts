import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { FetchFunction } from './client.ts';
import { ApiClient } from './client.ts';
import { ApiConfigError, loadApiBaseUrl } from './config.ts';

/** A fetch that answers config.json with `response` and records the URLs asked for. */
function serving(response: () => Response) {
  const urls: string[] = [];
  const fetch: FetchFunction = async (input) => {
    urls.push(input);
    return response();
  };
  return { fetch, urls };
}

const json = (body: unknown) =>
  new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });

describe('loadApiBaseUrl (config.json beside index.html)', () => {
  it('reads the API URL the deploy wrote, without a trailing slash', async () => {
    const server = serving(() => json({ apiBaseUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/' }));
    expect(await loadApiBaseUrl(server.fetch)).toBe('https://abc123.execute-api.eu-west-1.amazonaws.com');
    expect(server.urls).toEqual(['./config.json']);
  });

  it('is same-origin when there is no config.json (404)', async () => {
    const server = serving(() => new Response('not found', { status: 404 }));
    expect(await loadApiBaseUrl(server.fetch)).toBe('');
  });

  it("is same-origin when the server answers its index.html instead (npm start, Vite's dev server)", async () => {
    const server = serving(
      () =>
        new Response('<!doctype html><html></html>', {
          status: 200,
          headers: { 'content-type': 'text/html' },
        }),
    );
    expect(await loadApiBaseUrl(server.fetch)).toBe('');
  });

  it('refuses a config.json it cannot use, naming the field', async () => {
    await expect(loadApiBaseUrl(serving(() => json({ apiBaseUrl: 'not a url' })).fetch)).rejects.toThrow(
      /apiBaseUrl/,
    );
    await expect(loadApiBaseUrl(serving(() => json({ api: 'https://x' })).fetch)).rejects.toBeInstanceOf(
      ApiConfigError,
    );
    await expect(
      loadApiBaseUrl(
        serving(() => new Response('{', { status: 200, headers: { 'content-type': 'application/json' } }))
          .fetch,
      ),
    ).rejects.toThrow(/not JSON/);
  });
});

describe('ApiClient with a base URL', () => {
  it('sends every request to the API origin, and keeps same-origin paths without one', async () => {
    const urls: string[] = [];
    const fetch: FetchFunction = async (input) => {
      urls.push(input);
      return json({ value: 1 });
    };
    const schema = z.object({ value: z.number() });
    const signal = new AbortController().signal;

    await new ApiClient({ baseUrl: 'https://api.example.test', fetch })
      .resource(schema)
      .get('/api/v1/health', signal);
    await new ApiClient({ fetch }).resource(schema).get('/api/v1/health', signal);

    expect(urls).toEqual(['https://api.example.test/api/v1/health', '/api/v1/health']);
  });
});
