/**
 * What a handler test needs of the Lambda runtime: the `Context` it passes to each invocation, and a
 * Powertools Logger whose lines are kept for assertions instead of going to CloudWatch.
 */
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { z } from 'zod';

/** One invocation's context: its request id and, from `remainingMs`, its deadline. */
export function fakeLambdaContext(
  options: {
    readonly requestId?: string;
    readonly functionName?: string;
    readonly remainingMs?: () => number;
  } = {},
): Context {
  const {
    requestId = '8476a536-e9f4-11e8-9739-2dfe598c3fcd',
    functionName = 'driftline-test-function',
    remainingMs = () => 60_000,
  } = options;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/12/01/[$LATEST]2b1b1c1a3d4e4f5a6b7c8d9e0f1a2b3c',
    getRemainingTimeInMillis: remainingMs,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

const logLineSchema = z.looseObject({ level: z.string(), message: z.string() });

/** A log line as Powertools prints it (its JSON, parsed). */
export type LogLine = z.infer<typeof logLineSchema>;

/**
 * A Powertools Logger that keeps each line it would print, exactly as printed (the same item, the
 * same JSON replacer), instead of printing it. The level is DEBUG whatever the environment says.
 */
export class CapturingLogger extends Logger {
  readonly lines: LogLine[] = [];

  constructor(serviceName = 'driftline-test') {
    super({ serviceName, logLevel: 'DEBUG' });
  }

  protected override printLog(_logLevel: number, log: LogItem): void {
    log.prepareForPrint();
    this.lines.push(
      logLineSchema.parse(JSON.parse(JSON.stringify(log.getAttributes(), this.getJsonReplacer()))),
    );
  }

  /** The lines whose message is `message`. */
  linesWith(message: string): LogLine[] {
    return this.lines.filter((line) => line.message === message);
  }
}
