/**
 * A fault-injecting HTTP proxy in front of the DynamoDB emulator: the functions' state store talks
 * to it as it would to DynamoDB, and it answers some requests as DynamoDB does when it is throttled
 * or unreachable, on the wire (the SDK's own parsing, retries and timeouts all take part):
 * - `throughput-exceeded` / `throttling`: a 400 with DynamoDB's error type; nothing is written;
 * - `timeout`: the request is applied by the emulator, its answer never sent (the write happened,
 *   the caller does not know; only its own request timeout ends the wait);
 * - `reset`: the connection is closed before the request is passed on; nothing is written.
 * Every `everyNth` matching request starts a burst of `burst` faults of one kind (the kinds in
 * rotation): a burst longer than the SDK's attempts (3) fails the invocation, so the trigger's own
 * retry is exercised too, not only the SDK's.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamoDbFault } from './faulty-item-store.ts';

export interface DynamoDbFaultPlan {
  readonly everyNth: number;
  readonly burst: number;
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

async function bodyOf(incoming: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** The item's pk of a GetItem/PutItem/Query request body (as the pipeline writes them), or ''. */
function pkOf(body: Buffer): string {
  const text = body.toString('utf8');
  const match =
    /"pk":\{"S":"((?:[^"\\]|\\.)*)"\}/.exec(text) ?? /":pk":\{"S":"((?:[^"\\]|\\.)*)"\}/.exec(text);
  return match?.[1] ?? '';
}

function forward(
  upstream: URL,
  incoming: IncomingMessage,
  body: Buffer,
  answer: (status: number, headers: IncomingMessage['headers'], body: Buffer) => void,
  failed: (error: Error) => void,
): void {
  const outgoing = request(
    {
      host: upstream.hostname,
      port: upstream.port,
      method: incoming.method,
      path: incoming.url,
      headers: incoming.headers,
    },
    (response) => {
      void bodyOf(response).then((responseBody) =>
        answer(response.statusCode ?? 502, response.headers, responseBody),
      );
    },
  );
  outgoing.on('error', failed);
  outgoing.end(body);
}

/** Decides per request: undefined = pass it on, else the fault to inject. */
function faultPicker(plan: () => DynamoDbFaultPlan | undefined, injected: Record<DynamoDbFault, number>) {
  let matching = 0;
  let rotation = 0;
  let burstLeft = 0;
  let burstFault: DynamoDbFault | undefined;
  return (operation: string, pk: string): DynamoDbFault | undefined => {
    const current = plan();
    if (!current?.operations.includes(operation)) return undefined;
    if (!current.pkPrefixes.some((prefix) => pk.startsWith(prefix))) return undefined;
    matching += 1;
    if (burstLeft === 0 && matching % current.everyNth === 0) {
      burstFault = current.faults[rotation++ % current.faults.length];
      burstLeft = current.burst;
    }
    if (burstLeft === 0 || burstFault === undefined) return undefined;
    burstLeft -= 1;
    injected[burstFault] += 1;
    return burstFault;
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
  const server = createServer((incoming: IncomingMessage, response: ServerResponse) => {
    void bodyOf(incoming).then((body) => {
      const operation = String(incoming.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      const fault = pick(operation, pkOf(body));
      const pass = (status: number, headers: IncomingMessage['headers'], answer: Buffer) => {
        response.writeHead(status, headers);
        response.end(answer);
      };
      const broken = () => incoming.socket.destroy();
      if (fault === undefined) return forward(upstream, incoming, body, pass, broken);
      if (fault === 'reset') return broken();
      if (fault === 'timeout') {
        // Applied, and then silence: the connection stays open until the client closes it.
        return forward(upstream, incoming, body, () => {}, broken);
      }
      const error = ERROR_TYPES[fault];
      response.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify({ __type: error.type, message: error.message }));
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    injected,
    close: () =>
      new Promise<void>((resolveClose) => {
        closed = true;
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}
