/**
 * The functions of serverless.yml, made runnable: their environment pointed at the local stack, and
 * their handler modules imported (in each function's sandbox process, sandbox-host.ts). Handlers
 * read their configuration at import, so the environment must be in `process.env` before
 * `importFunctions`: the sandbox is started with it.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LambdaHandler, LoadedFunction } from './lambda-context.ts';
import { type FunctionDefinition, PROJECT_ROOT } from './service-definition.ts';
import { functionEnvironment, type StackInfo } from './stack.ts';

/** The functions' environment: serverless.yml's, pointed at the local stack. */
export function localFunctionEnvironment(options: {
  readonly functions: readonly FunctionDefinition[];
  readonly stack: StackInfo;
  /** Where the functions reach the Lambda Invoke API (replay's self-continuation). */
  readonly lambdaEndpoint: string;
  /** The runtime's own environment, for credentials and the log level when they are set. */
  readonly inherited: Readonly<Record<string, string | undefined>>;
  readonly overrides?: Readonly<Record<string, string>>;
}): Record<string, string> {
  const { stack, inherited } = options;
  const environment: Record<string, string> = {};
  for (const fn of options.functions) Object.assign(environment, fn.environment);
  Object.assign(environment, functionEnvironment(stack), {
    DRIFTLINE_STATE_TABLE: stack.stateTable,
    DRIFTLINE_STATE_BUCKET: stack.stateBucket,
    DRIFTLINE_LAMBDA_ENDPOINT: options.lambdaEndpoint,
    AWS_ACCESS_KEY_ID: inherited.AWS_ACCESS_KEY_ID ?? 'local',
    AWS_SECRET_ACCESS_KEY: inherited.AWS_SECRET_ACCESS_KEY ?? 'local',
    POWERTOOLS_LOG_LEVEL: inherited.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    ...options.overrides,
  });
  return environment;
}

/** Imports each function's handler module, in order, keyed by the function's id. */
export async function importFunctions(
  definitions: readonly FunctionDefinition[],
  wrapHandler?: (functionId: string, handler: LambdaHandler) => LambdaHandler,
): Promise<Map<string, LoadedFunction>> {
  const functions = new Map<string, LoadedFunction>();
  for (const definition of definitions) {
    const handler = await importHandler(definition);
    functions.set(definition.id, {
      definition,
      handler: wrapHandler ? wrapHandler(definition.id, handler) : handler,
    });
  }
  return functions;
}

async function importHandler(definition: FunctionDefinition): Promise<LambdaHandler> {
  const module: Record<string, unknown> = await import(
    pathToFileURL(join(PROJECT_ROOT, definition.handlerModule)).href
  );
  const exported = module[definition.handlerExport];
  if (typeof exported !== 'function') {
    throw new Error(`${definition.handlerModule} exports no function "${definition.handlerExport}"`);
  }
  return exported as LambdaHandler;
}
