/**
 * The local pipeline runtime: the *same* handlers as on AWS, wired from serverless.yml's triggers on
 * the local stack.
 *
 * - `s3` events: S3 notifications (relayed by the stack into a Kafka topic) invoke the function
 *   asynchronously, as S3 → Lambda does: one invocation per object, concurrently, retried twice on
 *   failure. Replays left unfinished by an earlier run (lease expired) are continued at start.
 * - `msk` events: msk-trigger.ts reproduces the Kafka event source mapping.
 * - `httpApi` events: a local HTTP server turns requests into API Gateway v2 events.
 * - The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) on the same server, so
 *   replay's self-continuation goes through the real Lambda SDK client.
 * Handlers read their configuration at import, from the environment this module sets first; one
 * runtime per process.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { z } from 'zod';
import { type Consumer, createKafka } from '../shared/adapters/kafka.ts';
import { createStateStore } from '../shared/adapters/state-store.ts';
import { loadFunctionConfig } from '../shared/config.ts';
import { replayProgressList } from '../shared/pipeline/query.ts';
import { continuationEvent } from '../shared/pipeline/replay-event.ts';
import { type RunningMskTrigger, startMskTrigger } from './msk-trigger.ts';
import {
  type FunctionDefinition,
  loadServiceDefinition,
  PROJECT_ROOT,
  type S3Trigger,
} from './service-definition.ts';
import { functionEnvironment, type StackInfo } from './stack.ts';

export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface RuntimeOptions {
  readonly stack: StackInfo;
  readonly cacheDir: string;
  /** Port of the local HTTP API (and Lambda Invoke API); 0 = any free port. */
  readonly apiPort: number;
  /** Extra environment for the functions (e.g. DRIFTLINE_REPLAY_RATE=0). */
  readonly environment?: Readonly<Record<string, string>>;
  /** Lets tests wrap a handler (e.g. make aggregate fail once). */
  readonly wrapHandler?: (functionId: string, handler: LambdaHandler) => LambdaHandler;
  /**
   * Kafka triggers: `batchSize` overrides serverless.yml's (e.g. 200 to reproduce a source job's
   * maxOffsetsPerTrigger); `paused` starts them only at `resumeTriggers()` (replay first, then
   * consume what is already in the topic, as a job started later would).
   */
  readonly kafkaTriggers?: { readonly batchSize?: number; readonly paused?: boolean };
  /** Serves these static files at `/` (the built dashboard), when given. */
  readonly staticDir?: string;
  readonly log: (line: string) => void;
}

export interface InvocationStats {
  invocations: number;
  failures: number;
  running: number;
}

export interface RunningRuntime {
  readonly apiUrl: string;
  /** Starts the Kafka triggers held back by `kafkaTriggers.paused`. */
  resumeTriggers(): Promise<void>;
  readonly stats: () => {
    readonly functions: Record<string, InvocationStats>;
    readonly triggers: ReturnType<RunningMskTrigger['stats']>[];
  };
  stop(): Promise<void>;
}

/**
 * Waits before the two retries of a failed asynchronous invocation. AWS waits about 1 and 2 minutes;
 * locally that would leave a demo idle for minutes, so shorter, but long enough to ride out what
 * usually causes the failure on one machine (a Kafka leader election, a busy emulator).
 */
const ASYNC_RETRY_DELAYS_MS = [2_000, 10_000];

function matchesS3Trigger(trigger: S3Trigger, bucket: string, eventName: string, key: string): boolean {
  if (trigger.bucket !== bucket) return false;
  const wanted = trigger.event.replace(/^s3:/, '');
  const matchesEvent = wanted.endsWith('*')
    ? eventName.startsWith(wanted.slice(0, -1))
    : eventName === wanted;
  if (!matchesEvent) return false;
  return trigger.rules.every((rule) => {
    if (rule.prefix !== undefined && !key.startsWith(rule.prefix)) return false;
    if (rule.suffix !== undefined && !key.endsWith(rule.suffix)) return false;
    return true;
  });
}

// Loose objects: the notification is forwarded to the function exactly as S3 sent it.
const notificationSchema = z.object({
  Records: z.array(
    z.looseObject({
      eventName: z.string(),
      s3: z.looseObject({
        bucket: z.looseObject({ name: z.string() }),
        object: z.looseObject({ key: z.string() }),
      }),
    }),
  ),
});

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolveBody, rejectBody) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')));
    request.on('error', rejectBody);
  });
}

export async function startPipelineRuntime(options: RuntimeOptions): Promise<RunningRuntime> {
  const { stack, log } = options;
  const service = await loadServiceDefinition({ stage: stack.stage, cacheDir: options.cacheDir });
  const server: Server = createServer();
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.apiPort, '127.0.0.1', () => resolveListen());
  });
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // The functions' environment: serverless.yml's, pointed at the local stack.
  const environment: Record<string, string> = {};
  for (const fn of service.functions) Object.assign(environment, fn.environment);
  Object.assign(environment, functionEnvironment(stack), {
    DRIFTLINE_STATE_TABLE: stack.stateTable,
    DRIFTLINE_STATE_BUCKET: stack.stateBucket,
    DRIFTLINE_LAMBDA_ENDPOINT: apiUrl,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'local',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    ...options.environment,
  });
  Object.assign(process.env, environment);

  const handlers = new Map<string, { definition: FunctionDefinition; handler: LambdaHandler }>();
  for (const definition of service.functions) {
    const module: Record<string, unknown> = await import(
      pathToFileURL(join(PROJECT_ROOT, definition.handlerModule)).href
    );
    const exported = module[definition.handlerExport];
    if (typeof exported !== 'function') {
      throw new Error(`${definition.handlerModule} exports no function "${definition.handlerExport}"`);
    }
    const handler = exported as LambdaHandler;
    handlers.set(definition.id, {
      definition,
      handler: options.wrapHandler ? options.wrapHandler(definition.id, handler) : handler,
    });
  }

  const stats: Record<string, InvocationStats> = {};
  let stopping = false;
  const inFlight = new Set<Promise<unknown>>();
  const invoke = async (
    functionId: string,
    event: unknown,
    requestId: string = randomUUID(),
  ): Promise<unknown> => {
    const entry = handlers.get(functionId);
    if (!entry) throw new Error(`no function ${functionId}`);
    stats[functionId] ??= { invocations: 0, failures: 0, running: 0 };
    const counters = stats[functionId];
    const deadline = Date.now() + entry.definition.timeoutSeconds * 1000;
    const context: Context = {
      callbackWaitsForEmptyEventLoop: false,
      functionName: entry.definition.name,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${entry.definition.name}`,
      memoryLimitInMB: '1024',
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${entry.definition.name}`,
      logStreamName: 'local',
      // While stopping, report no time left: replay then checkpoints at once and stops.
      getRemainingTimeInMillis: () => (stopping ? 0 : Math.max(0, deadline - Date.now())),
      done: () => {},
      fail: () => {},
      succeed: () => {},
    };
    counters.invocations += 1;
    counters.running += 1;
    try {
      return await entry.handler(event, context);
    } catch (error) {
      counters.failures += 1;
      throw error;
    } finally {
      counters.running -= 1;
    }
  };
  /**
   * Lambda's asynchronous invocation: queued, retried twice, failures logged (no DLQ locally). As on
   * AWS, the retries carry the first attempt's request id, so a handler can recognise its own work
   * (replay's lease) — a new id would find the object "held" by the failed attempt.
   */
  const invokeAsync = (functionId: string, event: unknown, what: string) => {
    const requestId = randomUUID();
    const run = (async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await invoke(functionId, event, requestId);
          return;
        } catch (error) {
          const delay = ASYNC_RETRY_DELAYS_MS[attempt];
          log(
            `${functionId} failed for ${what} (attempt ${attempt + 1}): ${error instanceof Error ? error.message : String(error)}`,
          );
          if (stopping) return;
          if (delay === undefined) {
            log(
              `${functionId} gave up on ${what} after ${attempt + 1} attempts, as Lambda does (no dead-letter queue locally); an unfinished replay is continued at the next start`,
            );
            return;
          }
          await new Promise((resolveDelay) => setTimeout(resolveDelay, delay));
        }
      }
    })();
    inFlight.add(run);
    void run.finally(() => inFlight.delete(run));
  };

  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    void handleHttp(request, response).catch((error) => {
      log(`http: ${error instanceof Error ? error.message : String(error)}`);
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: 'internal error' }));
    });
  });
  const handleHttp = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', apiUrl);
    const invokeMatch = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    if (invokeMatch && request.method === 'POST') {
      const name = decodeURIComponent(invokeMatch[1] ?? '');
      const target = [...handlers.values()].find(
        (entry) =>
          entry.definition.name === name ||
          entry.definition.id === name ||
          name.endsWith(`:${entry.definition.name}`),
      );
      const payload: unknown = JSON.parse((await readBody(request)) || '{}');
      if (!target) {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ Type: 'User', message: `Function not found: ${name}` }));
        return;
      }
      if (request.headers['x-amz-invocation-type'] === 'Event') {
        // While stopping, accept and drop: the checkpoint makes the next start continue it.
        if (!stopping) invokeAsync(target.definition.id, payload, 'an async invocation');
        response.writeHead(202);
        response.end();
        return;
      }
      const result = await invoke(target.definition.id, payload);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(result ?? null));
      return;
    }
    const route = [...handlers.values()].find((entry) =>
      entry.definition.httpRoutes.some((candidate) => {
        const prefix = candidate.path.replace(/\{proxy\+\}$/, '');
        return (
          (candidate.method === '*' || candidate.method === request.method || request.method === 'OPTIONS') &&
          url.pathname.startsWith(prefix)
        );
      }),
    );
    if (route) {
      const headers = Object.fromEntries(
        Object.entries(request.headers).flatMap(([name, value]) =>
          typeof value === 'string' ? [[name, value]] : [],
        ),
      );
      const event: APIGatewayProxyEventV2 = {
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
      const result = z
        .object({
          statusCode: z.number(),
          headers: z.record(z.string(), z.string()).optional(),
          body: z.string().optional(),
        })
        .parse(await invoke(route.definition.id, event));
      response.writeHead(result.statusCode, result.headers);
      response.end(result.body ?? '');
      return;
    }
    if (options.staticDir && request.method === 'GET') {
      const { serveStatic } = await import('./static-files.ts');
      if (await serveStatic(options.staticDir, url.pathname, response)) return;
    }
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: `no route for ${request.method} ${url.pathname}` }));
  };

  // Kafka-triggered functions.
  const kafka = createKafka(
    { brokers: stack.endpoints.kafkaBrokers, auth: 'none' },
    { clientId: 'driftline-runtime', logLevel: 'error' },
  );
  const triggers: RunningMskTrigger[] = [];
  const startTriggers = async () => {
    for (const { definition } of handlers.values()) {
      for (const trigger of definition.mskTriggers) {
        if (!trigger.enabled) continue;
        triggers.push(
          await startMskTrigger({
            kafka,
            topic: trigger.topic,
            groupId: `driftline-${stack.stage}-${definition.id}-${trigger.topic}`,
            batchSize: options.kafkaTriggers?.batchSize ?? trigger.batchSize,
            ...(trigger.maximumBatchingWindow === undefined
              ? {}
              : { batchingWindowMs: trigger.maximumBatchingWindow * 1000 }),
            startingPosition: trigger.startingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON',
            eventSourceArn: `arn:aws:kafka:us-east-1:000000000000:cluster/driftline-local/${stack.stage}`,
            bootstrapServers: stack.endpoints.kafkaBrokers.join(','),
            invoke: (event) => invoke(definition.id, event),
            // AWS invokes a Kafka-triggered function for several partitions at once; never two
            // batches of one partition (the trigger guarantees that).
            maxConcurrentInvocations: 3,
            log: (line) => log(`${definition.id} trigger: ${line}`),
          }),
        );
      }
    }
  };
  let triggersStarted = false;
  const resumeTriggers = async () => {
    if (triggersStarted) return;
    triggersStarted = true;
    await startTriggers();
  };
  if (!options.kafkaTriggers?.paused) await resumeTriggers();

  // S3-triggered functions, through the relayed notifications.
  const consumers: Consumer[] = [];
  for (const { definition } of handlers.values()) {
    if (definition.s3Triggers.length === 0) continue;
    const consumer = kafka.consumer({
      groupId: `driftline-${stack.stage}-${definition.id}-s3`,
      maxWaitTimeInMs: 250,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: stack.s3NotificationTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const parsed = notificationSchema.safeParse(JSON.parse(message.value?.toString('utf8') ?? '{}'));
        if (!parsed.success) {
          log(`ignored a malformed S3 notification: ${parsed.error.message}`);
          return;
        }
        for (const record of parsed.data.Records) {
          const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
          if (
            definition.s3Triggers.some((trigger) =>
              matchesS3Trigger(trigger, record.s3.bucket.name, record.eventName, key),
            )
          ) {
            invokeAsync(definition.id, { Records: [record] }, `s3://${record.s3.bucket.name}/${key}`);
          }
        }
      },
    });
    consumers.push(consumer);
  }

  // Replays an earlier run left unfinished: continue them, as AWS's async retry would.
  const functionConfig = loadFunctionConfig(process.env);
  const store = createStateStore(functionConfig);
  const replayFunction = [...handlers.values()].find((entry) => entry.definition.s3Triggers.length > 0);
  if (replayFunction) {
    for (const replay of await replayProgressList(store)) {
      if (replay.status === 'running' && replay.leaseUntilMs < Date.now()) {
        log(
          `continuing the unfinished replay of s3://${replay.bucket}/${replay.key} from row ${replay.rowsSent}`,
        );
        invokeAsync(
          replayFunction.definition.id,
          continuationEvent(replay),
          `s3://${replay.bucket}/${replay.key}`,
        );
      }
    }
  }

  return {
    apiUrl,
    resumeTriggers,
    stats: () => ({ functions: { ...stats }, triggers: triggers.map((trigger) => trigger.stats()) }),
    async stop() {
      stopping = true;
      await Promise.allSettled(consumers.map((consumer) => consumer.disconnect()));
      await Promise.allSettled(triggers.map((trigger) => trigger.stop()));
      await Promise.race([
        Promise.allSettled([...inFlight]),
        new Promise((resolveWait) => setTimeout(resolveWait, 15_000)),
      ]);
      server.closeAllConnections();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    },
  };
}
