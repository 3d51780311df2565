/** Clients for the running test stack, built with the project's own adapters. */

import { functionEnvironment } from '../../localstack/stack.ts';
import type { StackInfo } from '../../localstack/stack-files.ts';
import { createDynamoDbClient } from '../../shared/adapters/dynamodb.ts';
import { createKafka } from '../../shared/adapters/kafka.ts';
import { createKinesisClient } from '../../shared/adapters/kinesis.ts';
import { createS3Client } from '../../shared/adapters/s3.ts';
import { type FunctionConfig, loadFunctionConfig } from '../../shared/config.ts';

export function stackFunctionConfig(stack: StackInfo): FunctionConfig {
  return loadFunctionConfig({ ...functionEnvironment(stack), DRIFTLINE_STATE_TABLE: stack.stateTable });
}

export function stackClients(stack: StackInfo) {
  const config = stackFunctionConfig(stack);
  return {
    config,
    kafka: createKafka(config.kafka, { clientId: 'driftline-test', logLevel: 'error' }),
    s3: createS3Client(config.aws),
    dynamodb: createDynamoDbClient(config.aws),
    kinesis: createKinesisClient(config.aws),
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  options: { readonly timeoutMs: number; readonly intervalMs?: number; readonly what: string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, options.intervalMs ?? 100));
  }
}

/** Resolves like `promise`, or rejects with `message` after `timeoutMs` (the timer is always cleared). */
export async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  message: () => string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rejectTimeout) => {
    timer = setTimeout(() => rejectTimeout(new Error(message())), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
