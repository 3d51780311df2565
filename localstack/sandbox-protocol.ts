/**
 * The messages between the local runtime and a function's sandbox process (function-sandbox.ts,
 * sandbox-host.ts), over Node's IPC channel: defined once, for both sides.
 */
import type { FunctionDefinition } from './service-definition.ts';

/** Runtime → sandbox. */
export type ToSandbox =
  | {
      readonly type: 'init';
      readonly definition: FunctionDefinition;
      /** A module exporting `wrapHandler(functionId, handler)`, applied after import (tests). */
      readonly handlerWrapper: string | undefined;
    }
  | {
      readonly type: 'invoke';
      readonly invocationId: number;
      readonly requestId: string;
      readonly remainingMs: number;
      /** The event as a value (structured clone), or as JSON text the sandbox parses (`SerializedEvent`). */
      readonly event: { readonly value: unknown } | { readonly json: string };
    }
  /** The runtime is stopping: from now on every invocation has no time left. */
  | { readonly type: 'stopping' };

/** An error as it crosses the process boundary: what Lambda reports of one (errorType, errorMessage). */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
}

/** Sandbox → runtime. */
export type FromSandbox =
  | { readonly type: 'ready' }
  | { readonly type: 'init-error'; readonly error: SerializedError }
  | { readonly type: 'result'; readonly invocationId: number; readonly value: unknown }
  | { readonly type: 'failure'; readonly invocationId: number; readonly error: SerializedError };

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error), stack: undefined };
}

/** The error a caller of the sandbox sees: the handler's name and message, its stack kept. */
export function deserializeError(serialized: SerializedError): Error {
  const error = new Error(serialized.message);
  error.name = serialized.name;
  if (serialized.stack) error.stack = serialized.stack;
  return error;
}
