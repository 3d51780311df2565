/**
 * A fault-injecting HTTP proxy in front of the DynamoDB emulator: the functions' state store talks
 * to it as it would to DynamoDB, and it answers some requests as DynamoDB does when it is throttled
 * or unreachable, on the wire (the SDK's own parsing, retries and timeouts all take part):
 * - `throughput-exceeded` / `throttling`: a 400 with DynamoDB's error type; nothing is written;
 * - `timeout`: the request is applied by the emulator, its answer never sent (the write happened,
 *   the caller does not know; only its own request timeout ends the wait);
 * - `reset`: the connection is closed before the request is passed on; nothing is written.
 * Every `everyNth` matching request starts a burst of `burst` faults of one kind (the kinds in
 * rotation) on that request and its retries: a burst longer than the SDK's attempts fails the
 * invocation, so the trigger's own retry is exercised too, not only the SDK's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DynamoDbFault } from './faulty-item-store.ts';
import { answerWith, bodyOf, forward, startProxyServer } from './http-proxy.ts';

export interface DynamoDbFaultPlan {
  readonly everyNth: number;
  readonly burst: number;
  /**
   * Bursts in all, then none: each fails an invocation, and an invocation retried whole makes as
   * many requests again, so faults without an end could fail every attempt of a large batch.
   */
  readonly maxBursts: number;
  readonly faults: readonly DynamoDbFault[];
  /** Operations (the X-Amz-Target's action: PutItem, GetItem, Query) that may fail. */
  readonly operations: readonly string[];
  /** Only requests about items whose pk starts with one of these (e.g. aggregate's, not replay's). */
  readonly pkPrefixes: readonly string[];
}

export interface DynamoDbFaultProxy {
  readonly url: string;
  readonly injected: Record<DynamoDbFault, number>;
  close(): Promise<void>;
}

const ERROR_TYPES: Record<'throughput-exceeded' | 'throttling', { type: string; message: string }> = {
  'throughput-exceeded': {
    type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message: 'The level of configured provisioned throughput for the table was exceeded.',
  },
  throttling: {
    type: 'com.amazon.coral.availability#ThrottlingException',
    message: 'Rate of requests exceeds the allowed throughput.',
  },
};

/** The item's pk of a GetItem/PutItem/Query request body (as the pipeline writes them), or ''. */
function pkOf(body: Buffer): string {
  const text = body.toString('utf8');
  const match =
    /"pk":\{"S":"((?:[^"\\]|\\.)*)"\}/.exec(text) ?? /":pk":\{"S":"((?:[^"\\]|\\.)*)"\}/.exec(text);
  return match?.[1] ?? '';
}

/**
 * Decides per request: undefined = pass it on, else the fault to inject. A burst fails one request
 * and its retries (the SDK re-sends the same body), not whichever requests come next: aggregate
 * sends several calls at once, and a burst spread over them would fail each once, which the SDK's
 * own retries absorb, so the trigger's retry of the whole batch would depend on the timing.
 */
function faultPicker(plan: () => DynamoDbFaultPlan | undefined, injected: Record<DynamoDbFault, number>) {
  let matching = 0;
  let rotation = 0;
  // The bursts under way, by request body: each ends after its `burst` faults.
  const bursts = new Map<string, { readonly fault: DynamoDbFault; left: number }>();
  return (operation: string, pk: string, body: string): DynamoDbFault | undefined => {
    const current = plan();
    if (!current?.operations.includes(operation)) return undefined;
    if (!current.pkPrefixes.some((prefix) => pk.startsWith(prefix))) return undefined;
    matching += 1;
    if (!bursts.has(body) && matching % current.everyNth === 0 && rotation < current.maxBursts) {
      const fault = current.faults[rotation++ % current.faults.length];
      if (fault !== undefined) bursts.set(body, { fault, left: current.burst });
    }
    const burst = bursts.get(body);
    if (burst === undefined) return undefined;
    burst.left -= 1;
    if (burst.left === 0) bursts.delete(body);
    injected[burst.fault] += 1;
    return burst.fault;
  };
}

export async function startDynamoDbFaultProxy(options: {
  readonly upstream: string;
  readonly plan: DynamoDbFaultPlan;
}): Promise<DynamoDbFaultProxy> {
  const upstream = new URL(options.upstream);
  const injected: Record<DynamoDbFault, number> = {
    'throughput-exceeded': 0,
    throttling: 0,
    timeout: 0,
    reset: 0,
  };
  let closed = false;
  const pick = faultPicker(() => (closed ? undefined : options.plan), injected);
  const handle = async (incoming: IncomingMessage, response: ServerResponse) => {
    const body = await bodyOf(incoming);
    const operation = String(incoming.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    const fault = pick(operation, pkOf(body), body.toString('utf8'));
    if (fault === 'reset')
      throw new Error('reset: the connection is dropped before the request is passed on');
    if (fault === 'timeout') {
      // Applied, and then silence: the connection stays open until the client closes it.
      await forward(upstream, incoming, body);
      return;
    }
    if (fault === undefined) return answerWith(response, await forward(upstream, incoming, body));
    const error = ERROR_TYPES[fault];
    response.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
    response.end(JSON.stringify({ __type: error.type, message: error.message }));
  };
  const server = await startProxyServer(handle, () => {
    closed = true;
  });
  return { ...server, injected };
}
