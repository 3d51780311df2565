import { describe, expect, it } from 'vitest';
import { createAsyncInvoker } from '../../../localstack/async-invoke.ts';

/** An asynchronous invoker over a handler that fails its first `failures` attempts; no waits. */
function asyncInvokerFailing(failures: number, options: { readonly stopping?: boolean } = {}) {
  const attempts: { functionId: string; event: unknown; requestId: string | undefined }[] = [];
  const logs: string[] = [];
  const invoker = createAsyncInvoker({
    invoke: async (functionId, event, requestId) => {
      attempts.push({ functionId, event, requestId });
      if (attempts.length <= failures) throw new Error(`attempt ${attempts.length} failed`);
      return undefined;
    },
    isStopping: () => options.stopping ?? false,
    log: (line) => logs.push(line),
    retryDelaysMs: [0, 0],
  });
  return { invoker, attempts, logs };
}

describe("Lambda's asynchronous invocation, locally", () => {
  it('retries a failed invocation with the first attempt’s request id', async () => {
    const { invoker, attempts, logs } = asyncInvokerFailing(1);

    invoker.invokeAsync('replay', { a: 1 }, 's3://datasets/a.csv');
    await invoker.settled(5_000);

    expect(attempts).toHaveLength(2);
    expect(attempts[1]).toEqual(attempts[0]);
    expect(attempts[0]?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(logs).toEqual(['replay failed for s3://datasets/a.csv (attempt 1): attempt 1 failed']);
  });

  it('gives up after the retries, and says so', async () => {
    const { invoker, attempts, logs } = asyncInvokerFailing(Number.POSITIVE_INFINITY);

    invoker.invokeAsync('replay', {}, 's3://datasets/a.csv');
    await invoker.settled(5_000);

    expect(attempts).toHaveLength(3);
    expect(logs).toHaveLength(4);
    expect(logs.at(-1)).toMatch(/^replay gave up on s3:\/\/datasets\/a\.csv after 3 attempts/);
  });

  it('does not retry while stopping', async () => {
    const { invoker, attempts } = asyncInvokerFailing(1, { stopping: true });

    invoker.invokeAsync('replay', {}, 'an async invocation');
    await invoker.settled(5_000);

    expect(attempts).toHaveLength(1);
  });

  it('says which work is pending, retries included, until it is done', async () => {
    let fail = true;
    const invoker = createAsyncInvoker({
      invoke: async () => {
        if (fail) {
          fail = false;
          throw new Error('first attempt failed');
        }
      },
      isStopping: () => false,
      log: () => {},
      retryDelaysMs: [60_000],
    });

    invoker.invokeAsync('replay', {}, 's3://datasets/a.csv');
    await new Promise((resolveTick) => setImmediate(resolveTick));

    // Failed once, now waiting a minute for its retry: still pending.
    expect(invoker.pending('s3://datasets/a.csv')).toBe(true);
    expect(invoker.pending('s3://datasets/b.csv')).toBe(false);
    invoker.dropWaitingRetries();
    await invoker.settled(5_000);
    expect(invoker.pending('s3://datasets/a.csv')).toBe(false);
  });

  it('while stopping, drops the retries waiting for their delay at once', async () => {
    let stopping = false;
    const attempts: number[] = [];
    const invoker = createAsyncInvoker({
      invoke: async () => {
        attempts.push(attempts.length + 1);
        throw new Error('fails');
      },
      isStopping: () => stopping,
      log: () => {},
      retryDelaysMs: [60_000, 60_000],
    });
    invoker.invokeAsync('replay', {}, 's3://datasets/a.csv');
    await new Promise((resolveTick) => setImmediate(resolveTick));

    stopping = true;
    invoker.dropWaitingRetries();
    const started = Date.now();
    await invoker.settled(30_000);

    expect(Date.now() - started).toBeLessThan(1_000);
    expect(attempts).toEqual([1]);
  });

  it('gives separate invocations separate request ids', async () => {
    const { invoker, attempts } = asyncInvokerFailing(0);

    invoker.invokeAsync('replay', {}, 'one');
    invoker.invokeAsync('replay', {}, 'two');
    await invoker.settled(5_000);

    expect(new Set(attempts.map((attempt) => attempt.requestId)).size).toBe(2);
  });
});
