/**
 * What the fault-injecting proxies (DynamoDB, Kinesis) share: reading a body, passing a request on
 * to the emulator as it came, and a server on 127.0.0.1 that stops with its connections. Each proxy
 * keeps only its own decision of what to fail.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface UpstreamAnswer {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

export async function bodyOf(incoming: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Sends `body` to `upstream` with the incoming request's method, path and headers. */
export function forward(upstream: URL, incoming: IncomingMessage, body: Buffer): Promise<UpstreamAnswer> {
  return new Promise((resolveForward, rejectForward) => {
    const outgoing = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: { ...incoming.headers, 'content-length': String(body.length) },
      },
      (response) => {
        bodyOf(response).then(
          (answer) =>
            resolveForward({ status: response.statusCode ?? 502, headers: response.headers, body: answer }),
          rejectForward,
        );
      },
    );
    outgoing.on('error', rejectForward);
    outgoing.end(body);
  });
}

export function answerWith(response: ServerResponse, answer: UpstreamAnswer): void {
  response.writeHead(answer.status, answer.headers);
  response.end(answer.body);
}

/**
 * Serves `handle` on a free 127.0.0.1 port. A request whose handling throws has its connection
 * dropped, as a broken network would. `close` first calls `onClose` (the proxy stops injecting, so
 * a client's last retries pass), then stops the server and drops its connections.
 */
export async function startProxyServer(
  handle: (incoming: IncomingMessage, response: ServerResponse) => Promise<void>,
  onClose: () => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((incoming, response) => {
    handle(incoming, response).catch(() => incoming.socket.destroy());
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolveClose) => {
        onClose();
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}
