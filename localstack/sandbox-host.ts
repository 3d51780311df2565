/**
 * The program a function's sandbox process runs (forked by function-sandbox.ts): it imports the
 * one handler it is told to at `init` (Lambda's init phase), then runs each `invoke` with a Lambda
 * `Context` and answers with the result or the error. Several invocations may be in flight at once.
 *
 * It ends when the runtime's IPC channel closes (the runtime closes it, or dies), so a killed runtime
 * leaves no sandbox behind; an uncaught error ends it too, as it ends a Lambda sandbox, and the
 * runtime starts a fresh one. SIGINT and SIGTERM are ignored (see the end of this file).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { importFunctions } from './function-loader.ts';
import type { LambdaHandler } from './lambda-context.ts';
import { lambdaContext } from './lambda-context.ts';
import { type FromSandbox, serializeError, type ToSandbox } from './sandbox-protocol.ts';
import { PROJECT_ROOT } from './service-definition.ts';

// As driftline.mjs does for the CLI: the AWS SDK's Node-version warning is said once, in the README.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: never[]) => {
  if (String(warning).startsWith('NodeVersionSupportWarning')) return;
  emitWarning(warning, ...rest);
}) as typeof process.emitWarning;

let stopping = false;
let handler: LambdaHandler | undefined;
let functionName = '';

function send(message: FromSandbox): void {
  process.send?.(message);
}

async function init(message: Extract<ToSandbox, { type: 'init' }>): Promise<void> {
  try {
    const functions = await importFunctions([message.definition], await wrapperOf(message.handlerWrapper));
    handler = functions.get(message.definition.id)?.handler;
    functionName = message.definition.name;
    send({ type: 'ready' });
  } catch (error) {
    send({ type: 'init-error', error: serializeError(error) });
  }
}

async function wrapperOf(
  modulePath: string | undefined,
): Promise<((functionId: string, handler: LambdaHandler) => LambdaHandler) | undefined> {
  if (modulePath === undefined) return undefined;
  const module: Record<string, unknown> = await import(pathToFileURL(resolve(PROJECT_ROOT, modulePath)).href);
  if (typeof module.wrapHandler !== 'function')
    throw new Error(`${modulePath} exports no function "wrapHandler"`);
  return module.wrapHandler as (functionId: string, handler: LambdaHandler) => LambdaHandler;
}

async function invoke(message: Extract<ToSandbox, { type: 'invoke' }>): Promise<void> {
  const { invocationId } = message;
  try {
    if (!handler) throw new Error('invoked before init');
    const context = lambdaContext({
      functionName,
      requestId: message.requestId,
      deadlineMs: Date.now() + message.remainingMs,
      isStopping: () => stopping,
      now: Date.now,
    });
    // As Lambda's Node runtime: an event that arrives as JSON is parsed before the handler runs.
    const event = 'json' in message.event ? JSON.parse(message.event.json) : message.event.value;
    send({ type: 'result', invocationId, value: await handler(event, context) });
  } catch (error) {
    send({ type: 'failure', invocationId, error: serializeError(error) });
  }
}

process.on('message', (message: ToSandbox) => {
  if (message.type === 'init') void init(message);
  else if (message.type === 'invoke') void invoke(message);
  else stopping = true;
});
process.on('disconnect', () => process.exit(0));
// Ctrl-C reaches the whole foreground process group, this sandbox included: the runtime decides
// what a stop means (replays checkpoint first, then the sandboxes are closed), not the signal.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => {});
