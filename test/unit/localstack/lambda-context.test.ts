import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  createLambdaInvoker,
  type InvocationRecord,
  type LambdaHandler,
  type LoadedFunction,
} from '../../../localstack/lambda-context.ts';
import type { FunctionDefinition } from '../../../localstack/service-definition.ts';

function loadedFunction(handler: LambdaHandler, fields: Partial<FunctionDefinition> = {}): LoadedFunction {
  return {
    definition: {
      id: 'replay',
      name: 'driftline-local-replay',
      handlerModule: 'functions/replay.ts',
      handlerExport: 'handler',
      timeoutSeconds: 6,
      memorySizeMb: 512,
      environment: {},
      s3Triggers: [],
      mskTriggers: [],
      kinesisTriggers: [],
      httpRoutes: [],
      ...fields,
    },
    handler,
  };
}

/** An invoker of one function whose handler keeps the context it was given. */
function invokerOf(handler: LambdaHandler = async () => 'ok') {
  const clock = { nowMs: 1_000, stopping: false };
  const contexts: Context[] = [];
  const finished: InvocationRecord[] = [];
  const invoker = createLambdaInvoker({
    functions: new Map([
      [
        'replay',
        loadedFunction((event, context) => {
          contexts.push(context);
          return handler(event, context);
        }),
      ],
    ]),
    isStopping: () => clock.stopping,
    now: () => clock.nowMs,
    monotonicNow: () => clock.nowMs,
    onInvoked: (record) => finished.push(record),
  });
  return { invoker, clock, contexts, finished };
}

describe('the Lambda context of a local invocation', () => {
  it('counts the remaining time down to the function timeout, never below 0', async () => {
    const { invoker, clock, contexts } = invokerOf();

    await invoker.invoke('replay', {});
    const [context] = contexts;

    expect(context?.getRemainingTimeInMillis()).toBe(6_000);
    clock.nowMs += 2_500;
    expect(context?.getRemainingTimeInMillis()).toBe(3_500);
    clock.nowMs += 10_000;
    expect(context?.getRemainingTimeInMillis()).toBe(0);
  });

  it('reports no time left while the runtime is stopping', async () => {
    const { invoker, clock, contexts } = invokerOf();

    await invoker.invoke('replay', {});
    clock.stopping = true;

    expect(contexts[0]?.getRemainingTimeInMillis()).toBe(0);
  });

  it('carries the given request id and names the function as deployed', async () => {
    const { invoker, contexts } = invokerOf();

    await invoker.invoke('replay', {}, 'request-1');
    await invoker.invoke('replay', {});

    expect(contexts[0]).toMatchObject({
      awsRequestId: 'request-1',
      functionName: 'driftline-local-replay',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:driftline-local-replay',
    });
    expect(contexts[1]?.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('a synchronous local invocation', () => {
  it("returns the handler's result", async () => {
    const { invoker } = invokerOf(async (event) => ({ echoed: event }));
    await expect(invoker.invoke('replay', { a: 1 })).resolves.toEqual({ echoed: { a: 1 } });
  });

  it('counts invocations, failures and those running', async () => {
    let calls = 0;
    let runningDuringCall: number | undefined;
    const { invoker } = invokerOf(async () => {
      calls += 1;
      runningDuringCall = invoker.stats().replay?.running;
      if (calls === 1) throw new Error('broker unavailable');
      return 'ok';
    });

    await expect(invoker.invoke('replay', {})).rejects.toThrow('broker unavailable');
    await invoker.invoke('replay', {});

    expect(runningDuringCall).toBe(1);
    expect(invoker.stats()).toEqual({ replay: { invocations: 2, failures: 1, running: 0, busyMs: 0 } });
  });

  it('sums the wall time of every invocation, failed or not, and reports each one', async () => {
    let calls = 0;
    const { invoker, clock, finished } = invokerOf(async () => {
      calls += 1;
      clock.nowMs += calls === 1 ? 40 : 2.5;
      if (calls === 1) throw new Error('timed out');
      return 'ok';
    });

    await expect(invoker.invoke('replay', { n: 1 })).rejects.toThrow('timed out');
    await invoker.invoke('replay', { n: 2 });

    expect(invoker.stats().replay?.busyMs).toBe(42.5);
    expect(finished).toEqual([
      { functionId: 'replay', event: { n: 1 }, durationMs: 40, failed: true },
      { functionId: 'replay', event: { n: 2 }, durationMs: 2.5, failed: false },
    ]);
  });

  it('rejects an unknown function without counting it', async () => {
    const { invoker } = invokerOf();
    await expect(invoker.invoke('aggregate', {})).rejects.toThrow('no function aggregate');
    expect(invoker.stats()).toEqual({});
  });
});
