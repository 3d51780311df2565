/** Clients for the running test stack, built with the project's own adapters. */

import { functionEnvironment } from '../../localstack/stack.ts';
import type { StackInfo } from '../../localstack/stack-files.ts';
import { createDynamoDbClient } from '../../shared/adapters/dynamodb.ts';
import { createKafka } from '../../shared/adapters/kafka.ts';
import { createKinesisClient } from '../../shared/adapters/kinesis.ts';
import { createS3Client } from '../../shared/adapters/s3.ts';
import { type FunctionConfig, loadFunctionConfig } from '../../shared/config.ts';

export function stackFunctionConfig(stack: StackInfo): FunctionConfig {
  return loadFunctionConfig({
    ...functionEnvironment(stack),
    DRIFTLINE_STATE_TABLE: stack.stateTable,
    DRIFTLINE_STATE_BUCKET: stack.stateBucket,
  });
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
  options: {
    readonly timeoutMs: number;
    readonly intervalMs?: number;
    readonly what: string;
    /** Appended to the timeout error: what the system was doing (logs, progress), so CI says why. */
    readonly explain?: () => Promise<string> | string;
  },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const explanation = options.explain ? `\n${await options.explain()}` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${explanation}`);
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, options.intervalMs ?? 100));
  }
}

/**
 * Polls a long job that reports a progress number: waits as long as the number keeps growing, and
 * fails when it has not grown for `stallMs` (or after `timeoutMs` in all). A shared CI machine may
 * be several times slower than a laptop; a job that stopped moving is a failure on any machine.
 */
export async function pollWhileProgressing<T>(
  probe: () => Promise<{ readonly progress: number; readonly done: T | undefined }>,
  options: {
    readonly stallMs: number;
    readonly timeoutMs: number;
    readonly intervalMs?: number;
    readonly what: string;
    readonly explain?: () => Promise<string> | string;
  },
): Promise<T> {
  const startedAt = Date.now();
  let best = Number.NEGATIVE_INFINITY;
  let lastMoveAt = startedAt;
  for (;;) {
    const { progress, done } = await probe();
    if (done !== undefined) return done;
    const now = Date.now();
    if (progress > best) {
      best = progress;
      lastMoveAt = now;
    }
    const stalled = now - lastMoveAt > options.stallMs;
    if (stalled || now - startedAt > options.timeoutMs) {
      const why = stalled
        ? `no progress for ${options.stallMs} ms (stuck at ${best})`
        : `still at ${best} after ${options.timeoutMs} ms`;
      const explanation = options.explain ? `\n${await options.explain()}` : '';
      throw new Error(`gave up waiting for ${options.what}: ${why}${explanation}`);
    }
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
