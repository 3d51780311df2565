/**
 * Each local function in a process of its own (function-sandbox.ts): invocations cross the process
 * boundary with their time left, errors come back named, and a sandbox that dies (killed, out of
 * memory) fails only its invocations in flight; the next one runs in a fresh sandbox.
 * These tests fork real Node processes (the fixture handlers in test/fixtures/sandbox/).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type FunctionSandboxes, startFunctionSandboxes } from '../../../localstack/function-sandbox.ts';
import { createLambdaInvoker } from '../../../localstack/lambda-context.ts';
import { SerializedEvent } from '../../../localstack/serialized-event.ts';
import type { FunctionDefinition } from '../../../localstack/service-definition.ts';

function fixture(handlerExport: string, fields: Partial<FunctionDefinition> = {}): FunctionDefinition {
  return {
    id: handlerExport,
    name: `driftline-test-${handlerExport}`,
    handlerModule: 'test/fixtures/sandbox/handlers.ts',
    handlerExport,
    timeoutSeconds: 30,
    memorySizeMb: 256,
    environment: {},
    s3Triggers: [],
    mskTriggers: [],
    kinesisTriggers: [],
    httpRoutes: [],
    ...fields,
  };
}

let sandboxes: FunctionSandboxes | undefined;
let stopping = false;
const logged: string[] = [];

afterEach(async () => {
  await sandboxes?.close();
  sandboxes = undefined;
  stopping = false;
  logged.length = 0;
});

async function start(definitions: FunctionDefinition[], handlerWrapper?: string, execArgv?: string[]) {
  sandboxes = await startFunctionSandboxes(definitions, {
    environment: { PATH: process.env.PATH ?? '', SANDBOX_TEST_VALUE: 'from the runtime' },
    handlerWrapper,
    execArgv,
    log: (line) => logged.push(line),
  });
  return createLambdaInvoker({ functions: sandboxes.functions, isStopping: () => stopping });
}

const echoed = (value: unknown) =>
  value as { pid: number; requestId: string; remainingMs: number; event: unknown };

describe('a function sandbox', () => {
  it('runs the handler in another process, with the event, the request id, the time left and the environment', async () => {
    const lambda = await start([fixture('echo', { timeoutSeconds: 20 })]);
    const answer = echoed(await lambda.invoke('echo', { hello: 'world' }, 'request-1'));

    expect(answer.pid).not.toBe(process.pid);
    expect(answer.pid).toBe(sandboxes?.pids().echo);
    expect(answer).toMatchObject({
      requestId: 'request-1',
      event: { hello: 'world' },
      fromEnvironment: 'from the runtime',
    });
    expect(answer.remainingMs).toBeGreaterThan(15_000);
    expect(answer.remainingMs).toBeLessThanOrEqual(20_000);
  });

  it("gives the handler an event sent as JSON text parsed, as Lambda's runtime does", async () => {
    const lambda = await start([fixture('echo')]);
    const event = new SerializedEvent('{"records":{"t-0":[{"offset":1}]}}', { records: 1, slices: 1 });

    const answer = echoed(await lambda.invoke('echo', event));

    expect(answer.event).toEqual({ records: { 't-0': [{ offset: 1 }] } });
  });

  it("returns a handler's error with its name and message, and the sandbox lives on", async () => {
    const lambda = await start([fixture('throws'), fixture('echo')]);
    const pid = sandboxes?.pids().throws;

    await expect(lambda.invoke('throws', {})).rejects.toMatchObject({
      name: 'HandlerGaveUp',
      message: 'the handler gave up',
    });
    expect(sandboxes?.pids().throws).toBe(pid);
    expect(lambda.stats().throws).toMatchObject({ invocations: 1, failures: 1, running: 0 });
  });

  it('fails every invocation in flight when its process dies, and runs the next one in a fresh process', async () => {
    const lambda = await start([fixture('dies'), fixture('echo')]);
    const echoPid = sandboxes?.pids().echo;

    const inFlight = [lambda.invoke('dies', {}), lambda.invoke('dies', {})];
    for (const invocation of inFlight) {
      await expect(invocation).rejects.toMatchObject({
        name: 'Runtime.ExitError',
        message: /signal SIGKILL/,
      });
    }
    // The other function's sandbox was not touched.
    expect(sandboxes?.pids().echo).toBe(echoPid);
    expect(echoed(await lambda.invoke('echo', 1)).pid).toBe(echoPid);
    expect(logged.join('\n')).toMatch(/dies: its sandbox exited \(SIGKILL\); 2 invocation\(s\) failed/);

    // The next invocation of the dead function starts a fresh sandbox (which dies again).
    await expect(lambda.invoke('dies', {})).rejects.toMatchObject({ name: 'Runtime.ExitError' });
  });

  it('reports running out of memory as Lambda does, at the memory serverless.yml gives the function', async () => {
    const lambda = await start([fixture('exhaustsMemory', { memorySizeMb: 64 }), fixture('echo')]);

    await expect(lambda.invoke('exhaustsMemory', {})).rejects.toMatchObject({
      name: 'Runtime.OutOfMemory',
      message: /heap limit/,
    });
    expect(echoed(await lambda.invoke('echo', 2)).event).toBe(2);
  });

  it('tells the invocations in flight that no time is left once the runtime is stopping', async () => {
    // Ten minutes to go: only the stop can end the wait within the test's time.
    const lambda = await start([fixture('waitsForNoTimeLeft', { timeoutSeconds: 600 }), fixture('echo')]);
    const waiting = lambda.invoke('waitsForNoTimeLeft', {});
    await expect.poll(() => lambda.stats().waitsForNoTimeLeft?.running).toBe(1);
    stopping = true;
    sandboxes?.stopping();

    await expect(waiting).resolves.toMatchObject({ waitedMs: expect.any(Number) });
    // An invocation that starts after the stop has no time at all.
    expect(echoed(await lambda.invoke('echo', {})).remainingMs).toBe(0);
  });

  it('applies the handler wrapper module inside the sandbox', async () => {
    const lambda = await start([fixture('echo')], 'test/fixtures/sandbox/wrapper.ts');

    await expect(lambda.invoke('echo', 'x')).resolves.toMatchObject({
      wrappedFor: 'echo',
      answer: { event: 'x' },
    });
  });

  it('starts every sandbox with the extra Node options: --cpu-prof writes a profile as it exits', async () => {
    // One profile per thread: the main thread's (thread 0) and tsx's module loader's.
    const dir = await mkdtemp(join(tmpdir(), 'driftline-sandbox-prof-'));
    try {
      const lambda = await start([fixture('echo')], undefined, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
      const { pid } = echoed(await lambda.invoke('echo', {}));
      await sandboxes?.close();

      const files = await readdir(dir);
      expect(files, `profiles in ${dir}`).toContainEqual(
        expect.stringMatching(new RegExp(`^CPU\\.\\d+\\.\\d+\\.${pid}\\.0\\.`)),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start when a handler cannot be loaded, naming the module and export', async () => {
    await expect(start([fixture('notAFunction')])).rejects.toThrow(
      'test/fixtures/sandbox/handlers.ts exports no function "notAFunction"',
    );
  });
});
