/**
 * The local HTTP server, in place of API Gateway and the Lambda service:
 * - `httpApi` routes: a request becomes an API Gateway v2 event, the function's result the response;
 * - the Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`), RequestResponse and
 *   Event, so replay's self-continuation goes through the real Lambda SDK client;
 * - the built dashboard's static files, when given; 404 otherwise.
 * Plain `node:http`: two routes and a translation do not need a router.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { z } from 'zod';
import type { AsyncInvoker } from './async-invoke.ts';
import type { LambdaInvoker, LoadedFunction } from './lambda-context.ts';

/** What the gateway routes requests to. */
export interface GatewayTargets {
  readonly functions: ReadonlyMap<string, LoadedFunction>;
  readonly invoke: LambdaInvoker['invoke'];
  readonly invokeAsync: AsyncInvoker['invokeAsync'];
  readonly isStopping: () => boolean;
  /** Serves these static files (the built dashboard), when given. */
  readonly staticDir?: string;
  readonly log: (line: string) => void;
}

export interface HttpGateway {
  /** `http://127.0.0.1:<port>`, known before the functions are loaded (they need it). */
  readonly url: string;
  /** Starts answering requests. */
  serve(targets: GatewayTargets): void;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (`port` 0 = any free port); requests are answered once `serve` is called. */
export async function listenHttpGateway(port: number): Promise<HttpGateway> {
  const server = createServer();
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(port, '127.0.0.1', () => resolveListen());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    serve(targets) {
      server.on('request', (request: IncomingMessage, response: ServerResponse) => {
        void handleRequest(targets, url, request, response).catch((error) => {
          targets.log(`http: ${error instanceof Error ? error.message : String(error)}`);
          if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ error: 'internal error' }));
        });
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    },
  };
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

async function handleRequest(
  targets: GatewayTargets,
  baseUrl: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', baseUrl);
  const invokeMatch = INVOKE_PATH.exec(url.pathname);
  if (invokeMatch && request.method === 'POST') {
    await handleInvokeApi(targets, decodeURIComponent(invokeMatch[1] ?? ''), request, response);
    return;
  }
  const route = findHttpApiFunction(targets.functions, request.method, url.pathname);
  if (route) {
    await handleHttpApi(targets, route, url, request, response);
    return;
  }
  if (targets.staticDir && request.method === 'GET') {
    const { serveStatic } = await import('./static-files.ts');
    if (await serveStatic(targets.staticDir, url.pathname, response)) return;
  }
  writeJson(response, 404, { error: `no route for ${request.method} ${url.pathname}` });
}

/** The Lambda Invoke API; `name` is the function's name, its id, or an ARN ending in its name. */
async function handleInvokeApi(
  targets: GatewayTargets,
  name: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const target = [...targets.functions.values()].find(
    (entry) =>
      entry.definition.name === name ||
      entry.definition.id === name ||
      name.endsWith(`:${entry.definition.name}`),
  );
  const payload: unknown = JSON.parse((await readBody(request)) || '{}');
  if (!target) {
    writeJson(response, 404, { Type: 'User', message: `Function not found: ${name}` });
    return;
  }
  if (request.headers['x-amz-invocation-type'] === 'Event') {
    // While stopping, accept and drop: the checkpoint makes the next start continue it.
    if (!targets.isStopping()) targets.invokeAsync(target.definition.id, payload, 'an async invocation');
    response.writeHead(202);
    response.end();
    return;
  }
  const result = await targets.invoke(target.definition.id, payload);
  writeJson(response, 200, result ?? null);
}

function findHttpApiFunction(
  functions: ReadonlyMap<string, LoadedFunction>,
  method: string | undefined,
  pathname: string,
): LoadedFunction | undefined {
  return [...functions.values()].find((entry) =>
    entry.definition.httpRoutes.some((candidate) => {
      const prefix = candidate.path.replace(/\{proxy\+\}$/, '');
      return (
        (candidate.method === '*' || candidate.method === method || method === 'OPTIONS') &&
        pathname.startsWith(prefix)
      );
    }),
  );
}

const apiResultSchema = z.object({
  statusCode: z.number(),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.string().optional(),
});

async function handleHttpApi(
  targets: GatewayTargets,
  route: LoadedFunction,
  url: URL,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const result = apiResultSchema.parse(
    await targets.invoke(route.definition.id, apiGatewayEvent(url, request)),
  );
  response.writeHead(result.statusCode, result.headers);
  response.end(result.body ?? '');
}

function apiGatewayEvent(url: URL, request: IncomingMessage): APIGatewayProxyEventV2 {
  const headers = Object.fromEntries(
    Object.entries(request.headers).flatMap(([name, value]) =>
      typeof value === 'string' ? [[name, value]] : [],
    ),
  );
  return {
    version: '2.0',
    routeKey: `${request.method} ${url.pathname}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: url.host,
      domainPrefix: 'local',
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: request.headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: `${request.method} ${url.pathname}`,
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
  };
}

function writeJson(response: ServerResponse, statusCode: number, body: unknown): void {
  response.writeHead(statusCode, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolveBody, rejectBody) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')));
    request.on('error', rejectBody);
  });
}
