/**
 * Each function of serverless.yml in a process of its own, as each Lambda function has its own
 * sandbox: a crash, an out-of-memory or a hung event loop in one invocation does not take the other
 * functions, the API or the triggers with it, and replay, aggregate and the triggers run on
 * different cores.
 *
 * - The process is forked at start (Lambda's init: the handler module is imported) and runs
 *   sandbox-host.ts under tsx, with the function's memory as its V8 heap limit.
 * - The runtime's invoker (lambda-context.ts) calls the handlers this module returns; each sends
 *   the event and the time left to the sandbox and waits for its answer. An event already in JSON
 *   (`SerializedEvent`, the MSK trigger's) goes as its text and is parsed in the sandbox.
 * - A sandbox that exits fails every invocation in flight in it with `Runtime.ExitError` (or
 *   `Runtime.OutOfMemory`), as Lambda does; the caller's retry (the trigger's, the asynchronous
 *   invoke's) then runs in a fresh sandbox, started on the next invocation.
 * - Simplification: one sandbox per function runs its invocations concurrently, where Lambda would
 *   start one sandbox per concurrent invocation. A crash therefore fails all of them, each retried.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Context } from 'aws-lambda';
import type { LambdaHandler, LoadedFunction } from './lambda-context.ts';
import { deserializeError, type FromSandbox, type ToSandbox } from './sandbox-protocol.ts';
import { SerializedEvent } from './serialized-event.ts';
import { type FunctionDefinition, PROJECT_ROOT } from './service-definition.ts';

const HOST = join(PROJECT_ROOT, 'localstack', 'sandbox-host.ts');
// An absolute path: the runtime may be started from any folder.
export const TSX_LOADER = createRequire(import.meta.url).resolve('tsx');
/** How long a closed sandbox may take to exit (its invocations have settled by then). */
const CLOSE_GRACE_MS = 5_000;

export interface SandboxOptions {
  /** The functions' environment (function-loader.ts's `localFunctionEnvironment`). */
  readonly environment: Readonly<Record<string, string>>;
  /** A module imported in every sandbox that may wrap its handler (tests: fault injection). */
  readonly handlerWrapper?: string | undefined;
  /** Extra Node options of every sandbox process (the bench: `--cpu-prof`, not allowed in NODE_OPTIONS). */
  readonly execArgv?: readonly string[] | undefined;
  readonly log: (line: string) => void;
}

export interface FunctionSandboxes {
  /** The functions, their handlers running in the sandboxes. */
  readonly functions: ReadonlyMap<string, LoadedFunction>;
  /** The pid of each function's sandbox process, while it runs. */
  pids(): Record<string, number>;
  /** From now on every invocation has no time left (the runtime is stopping). */
  stopping(): void;
  /** Ends every sandbox process; resolves once they have exited. */
  close(): Promise<void>;
}

/** Starts a sandbox per function and waits for each to have imported its handler. */
export async function startFunctionSandboxes(
  definitions: readonly FunctionDefinition[],
  options: SandboxOptions,
): Promise<FunctionSandboxes> {
  const sandboxes = definitions.map((definition) => new Sandbox(definition, options));
  try {
    await Promise.all(sandboxes.map((sandbox) => sandbox.started()));
  } catch (error) {
    await Promise.all(sandboxes.map((sandbox) => sandbox.close()));
    throw error;
  }
  return {
    functions: new Map(
      sandboxes.map((sandbox) => [
        sandbox.definition.id,
        { definition: sandbox.definition, handler: sandbox.handler },
      ]),
    ),
    pids: () =>
      Object.fromEntries(
        sandboxes.flatMap((sandbox) =>
          sandbox.pid === undefined ? [] : [[sandbox.definition.id, sandbox.pid]],
        ),
      ),
    stopping: () => {
      for (const sandbox of sandboxes) sandbox.stopping();
    },
    close: async () => {
      await Promise.all(sandboxes.map((sandbox) => sandbox.close()));
    },
  };
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

/** One function's sandbox process, started again on the next invocation after it exits. */
class Sandbox {
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextInvocationId = 1;
  private isStopping = false;
  private closed = false;
  /** The last fatal line the process wrote to stderr (V8's heap limit, for example). */
  private fatalLine: string | undefined;

  constructor(
    readonly definition: FunctionDefinition,
    private readonly options: SandboxOptions,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  readonly handler: LambdaHandler = async (event: unknown, context: Context) => {
    const child = await this.running();
    const invocationId = this.nextInvocationId++;
    const answer = new Promise<unknown>((resolve, reject) =>
      this.pending.set(invocationId, { resolve, reject }),
    );
    const message: ToSandbox = {
      type: 'invoke',
      invocationId,
      requestId: context.awsRequestId,
      remainingMs: context.getRemainingTimeInMillis(),
      // A string crosses the channel as one copy of its bytes; an object graph field by field.
      event: event instanceof SerializedEvent ? { json: event.json } : { value: event },
    };
    child.send(message);
    return answer;
  };

  started(): Promise<ChildProcess> {
    return this.running();
  }

  stopping(): void {
    this.isStopping = true;
    this.sendIfConnected({ type: 'stopping' });
  }

  /** Closes the IPC channel (the sandbox then exits); SIGKILL if it has not gone within 5 s. */
  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (child.connected) child.disconnect();
    const killer = setTimeout(() => child.kill('SIGKILL'), CLOSE_GRACE_MS);
    await exited;
    clearTimeout(killer);
  }

  private async running(): Promise<ChildProcess> {
    if (this.closed) throw new Error(`${this.definition.id}: the runtime has stopped`);
    if (!this.ready) this.ready = this.fork();
    await this.ready;
    if (!this.child) throw new Error(`${this.definition.id}: its sandbox exited during init`);
    return this.child;
  }

  private fork(): Promise<void> {
    const child = fork(HOST, [], {
      env: this.options.environment,
      execArgv: [
        '--import',
        TSX_LOADER,
        `--max-old-space-size=${this.definition.memorySizeMb}`,
        ...(this.options.execArgv ?? []),
      ],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.child = child;
    this.fatalLine = undefined;
    this.forwardStderr(child);
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (message: FromSandbox) => this.receive(message, resolve, reject));
      child.once('exit', (code, signal) => {
        this.exited(code, signal);
        reject(this.exitError(code, signal, 'during init'));
      });
    });
    const init: ToSandbox = {
      type: 'init',
      definition: this.definition,
      handlerWrapper: this.options.handlerWrapper,
    };
    child.send(init);
    if (this.isStopping) this.sendIfConnected({ type: 'stopping' });
    return ready;
  }

  private receive(message: FromSandbox, resolve: () => void, reject: (error: Error) => void): void {
    if (message.type === 'ready') {
      resolve();
      return;
    }
    if (message.type === 'init-error') {
      reject(deserializeError(message.error));
      return;
    }
    const pending = this.pending.get(message.invocationId);
    this.pending.delete(message.invocationId);
    if (message.type === 'result') pending?.resolve(message.value);
    else pending?.reject(deserializeError(message.error));
  }

  /** Every invocation in flight fails; the next one starts a fresh sandbox. */
  private exited(code: number | null, signal: NodeJS.Signals | null): void {
    this.child = undefined;
    this.ready = undefined;
    const failed = [...this.pending.values()];
    this.pending.clear();
    for (const { reject } of failed) reject(this.exitError(code, signal, 'during an invocation'));
    if (!this.closed) {
      this.options.log(
        `${this.definition.id}: its sandbox exited (${signal ?? `code ${code}`}); ` +
          `${failed.length} invocation(s) failed and are retried by their caller`,
      );
    }
  }

  private exitError(code: number | null, signal: NodeJS.Signals | null, when: string): Error {
    const outOfMemory = this.fatalLine !== undefined && /heap limit|out of memory/i.test(this.fatalLine);
    const error = new Error(
      `${this.definition.id}: Runtime exited ${when} with ${signal ? `signal ${signal}` : `code ${code}`}` +
        (this.fatalLine ? ` (${this.fatalLine})` : ''),
    );
    error.name = outOfMemory ? 'Runtime.OutOfMemory' : 'Runtime.ExitError';
    return error;
  }

  /** The sandbox's stderr goes to the runtime's, and its last fatal line is kept for the error. */
  private forwardStderr(child: ChildProcess): void {
    if (!child.stderr) return;
    createInterface({ input: child.stderr, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
      process.stderr.write(`${line}\n`);
      if (/FATAL ERROR|out of memory|heap limit/i.test(line)) this.fatalLine = line.trim();
    });
  }

  private sendIfConnected(message: ToSandbox): void {
    if (this.child?.connected) this.child.send(message);
  }
}
