import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FakeApi } from '../../test-support/fake-api.ts';
import { ApiClient, ApiHttpError, ApiResponseError, ApiUnreachableError } from './client.ts';

const schema = z.object({ value: z.number() });
const signal = () => new AbortController().signal;

describe('ApiResource', () => {
  it('sends If-None-Match with the last ETag and hands back the cached body on 304', async () => {
    let value = 1;
    const api = new FakeApi().route('/thing', () => ({ value }));
    const resource = new ApiClient({ fetch: api.fetch }).resource(schema);

    const first = await resource.get('/thing', signal());
    const second = await resource.get('/thing', signal());
    value = 2;
    const third = await resource.get('/thing', signal());

    expect(first).toEqual({ value: { value: 1 }, changed: true });
    expect(second.changed).toBe(false);
    expect(second.value).toBe(first.value);
    expect(third).toEqual({ value: { value: 2 }, changed: true });
    const sent = api.requestsTo('/thing').map((request) => request.ifNoneMatch);
    expect(sent[0]).toBeNull();
    expect(sent[1]).toMatch(/^".+"$/);
    expect(sent[2]).toBe(sent[1]);
  });

  it("reports the API's own error message with the status", async () => {
    const api = new FakeApi();
    api.mode = 500;
    const resource = new ApiClient({ fetch: api.fetch }).resource(schema);
    const error = await resource.get('/thing', signal()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiHttpError);
    expect(error).toMatchObject({
      status: 500,
      message: 'internal error: the request could not be answered',
    });
  });

  it('tells an unreachable API from an answer it cannot read', async () => {
    const api = new FakeApi().route('/thing', () => ({ value: 'not a number' }));
    const client = new ApiClient({ fetch: api.fetch });
    await expect(client.resource(schema).get('/thing', signal())).rejects.toBeInstanceOf(ApiResponseError);
    api.mode = 'down';
    await expect(client.resource(schema).get('/thing', signal())).rejects.toBeInstanceOf(ApiUnreachableError);
  });

  it('gives up on a request that gets no answer within the timeout', async () => {
    const hanging = (_input: string, init: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    const client = new ApiClient({ fetch: hanging, timeoutMs: 20 });
    await expect(client.resource(schema).get('/thing', signal())).rejects.toThrow(/no answer within/);
  });
});
