/**
 * The local pipeline runtime: the *same* handlers as on AWS, wired from serverless.yml's triggers on
 * the local stack.
 *
 * - `s3` events: S3 notifications (relayed by the stack into a Kafka topic) invoke the function
 *   asynchronously, as S3 → Lambda does: one invocation per object, concurrently, retried twice on
 *   failure. Replays nobody works on any more (running, lease expired: left by a stopped or killed
 *   process, or given up) are continued from their checkpoint, at start and while running
 *   (replay-continuation.ts).
 * - Stopping: every invocation is told it has no time left; a replay then runs to its next
 *   checkpoint row, checkpoints and releases its object before `stop` resolves, so the next start
 *   goes on from there (and sends no row twice).
 * - `msk` events: msk-trigger.ts reproduces the Kafka event source mapping.
 * - `httpApi` events: a local HTTP server turns requests into API Gateway v2 events.
 * - The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) on the same server, so
 *   replay's self-continuation goes through the real Lambda SDK client.
 * Each function runs in a sandbox process of its own (function-sandbox.ts), as on Lambda: a crash or
 * an out-of-memory there fails only that function's invocations in flight, which their caller
 * retries, and the functions use more than one core.
 *
 * This module only composes the steps: function-loader.ts (environment), function-sandbox.ts
 * (the processes), lambda-context.ts (one invocation), async-invoke.ts (queued, retried
 * invocations), http-gateway.ts, s3-trigger.ts, msk-trigger.ts and replay-continuation.ts.
 */
import { createKafka, type Kafka } from '../shared/adapters/kafka.ts';
import { createStateStore } from '../shared/adapters/state-store.ts';
import { loadFunctionConfig } from '../shared/config.ts';
import { continuedObject } from '../shared/pipeline/replay-event.ts';
import { type AsyncInvoker, createAsyncInvoker } from './async-invoke.ts';
import { localFunctionEnvironment } from './function-loader.ts';
import { startFunctionSandboxes } from './function-sandbox.ts';
import { type HttpGateway, listenHttpGateway } from './http-gateway.ts';
import type { KinesisTriggerStats } from './kinesis-trigger.ts';
import { kinesisTriggers } from './kinesis-triggers.ts';
import {
  createLambdaInvoker,
  type InvocationRecord,
  type InvocationStats,
  type LambdaInvoker,
  type LoadedFunction,
} from './lambda-context.ts';
import { type MskDelivery, type RunningMskTrigger, startMskTrigger } from './msk-trigger.ts';
import { type ReplayWatch, replayTarget, watchAbandonedReplays } from './replay-continuation.ts';
import { startS3Triggers } from './s3-trigger.ts';
import { loadServiceDefinition } from './service-definition.ts';
import type { StackInfo } from './stack.ts';

export type { InvocationRecord, InvocationStats, LambdaHandler } from './lambda-context.ts';

export interface RuntimeOptions {
  readonly stack: StackInfo;
  readonly cacheDir: string;
  /** Port of the local HTTP API (and Lambda Invoke API); 0 = any free port. */
  readonly apiPort: number;
  /** Extra environment for the functions (e.g. DRIFTLINE_REPLAY_RATE=0). */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * A module imported in every function's sandbox that exports
   * `wrapHandler(functionId: string, handler: LambdaHandler): LambdaHandler` (tests inject faults
   * with it; it is configured through `environment`, as the sandboxes share no memory with us).
   */
  readonly handlerWrapper?: string;
  /**
   * Extra Node options of every sandbox process, e.g. `--cpu-prof --cpu-prof-dir=<dir>` (the bench's
   * profile: each sandbox writes its CPU profile when it exits at `stop`).
   */
  readonly sandboxExecArgv?: readonly string[];
  /** Told of every finished invocation, timed around it here (the bench's handler times). */
  readonly onInvoked?: (record: InvocationRecord) => void;
  /** Told of every batch a Kafka trigger delivered, with its steps' times (the latency bench). */
  readonly onMskDelivered?: (functionId: string, delivery: MskDelivery) => void;
  /** The Kafka triggers' overrides (`TriggerOverrides`). */
  readonly kafkaTriggers?: TriggerOverrides;
  /** The Kinesis triggers' overrides, the same as the Kafka ones (kinesis stages). */
  readonly kinesisTriggers?: TriggerOverrides;
  /** Serves these static files at `/` (the built dashboard), when given. */
  readonly staticDir?: string;
  /** How often to look for abandoned replays (default replay-continuation.ts's; tests shorten it). */
  readonly replayWatchIntervalMs?: number;
  readonly log: (line: string) => void;
}

/**
 * A test's overrides of one kind of stream trigger: `batchSize` overrides serverless.yml's (e.g. 200
 * to reproduce a source job's maxOffsetsPerTrigger), and so does `batchingWindowMs`; `paused` starts
 * them only at `resumeTriggers()` (replay first, then consume what is already in the topic or
 * stream, as a job started later would).
 */
export interface TriggerOverrides {
  readonly batchSize?: number;
  readonly batchingWindowMs?: number;
  readonly paused?: boolean;
}

export interface RunningRuntime {
  readonly apiUrl: string;
  /** Starts the triggers held back by `kafkaTriggers.paused` or `kinesisTriggers.paused`. */
  resumeTriggers(): Promise<void>;
  readonly stats: () => {
    readonly functions: Record<string, InvocationStats>;
    readonly triggers: ReturnType<RunningMskTrigger['stats']>[];
    readonly streamTriggers: KinesisTriggerStats[];
    /** The pid of each function's sandbox process (function-sandbox.ts), while it runs. */
    readonly sandboxes: Record<string, number>;
  };
  stop(): Promise<void>;
}

/**
 * How long `stop` waits for the asynchronous invocations still running. A replay told it has no
 * time left needs at most one checkpoint interval at full speed (10,000 rows with one row per
 * record: about a second); this bounds a stop when something is stuck.
 */
const STOP_WAIT_FOR_INVOCATIONS_MS = 15_000;

export async function startPipelineRuntime(options: RuntimeOptions): Promise<RunningRuntime> {
  const { stack, log } = options;
  const service = await loadServiceDefinition({ stage: stack.stage, cacheDir: options.cacheDir });
  // Listening first: the functions' environment needs the Lambda endpoint, before their init.
  const gateway = await listenHttpGateway(options.apiPort);
  const environment = localFunctionEnvironment({
    functions: service.functions,
    stack,
    lambdaEndpoint: gateway.url,
    inherited: process.env,
    overrides: options.environment,
  });
  const sandboxes = await startFunctionSandboxes(service.functions, {
    environment: { ...inheritedProcessEnvironment(), ...environment },
    handlerWrapper: options.handlerWrapper,
    execArgv: options.sandboxExecArgv,
    log,
  }).catch(async (error: unknown) => {
    await gateway.close();
    throw error;
  });
  const { functions } = sandboxes;

  let stopping = false;
  const isStopping = () => stopping;
  const lambda = createLambdaInvoker({ functions, isStopping, onInvoked: options.onInvoked });
  const { invoke } = lambda;
  const asyncInvoker = createAsyncInvoker({ invoke, isStopping, log });
  const { invokeAsync } = asyncInvoker;
  gateway.serve({
    functions,
    invoke,
    invokeAsync: namedByObject(invokeAsync),
    isStopping,
    staticDir: options.staticDir,
    log,
  });

  const kafka = createKafka(
    { brokers: stack.endpoints.kafkaBrokers, auth: 'none' },
    { clientId: 'driftline-runtime', logLevel: 'error' },
  );
  const triggers = kafkaTriggers({ kafka, stack, functions, invoke, options });
  const streamTriggers = kinesisTriggers({
    stack,
    functions,
    invoke,
    log,
    overrides: options.kinesisTriggers,
  });
  const resumeTriggers = () => Promise.all([triggers.resume(), streamTriggers.resume()]).then(() => {});
  if (!options.kafkaTriggers?.paused) await triggers.resume();
  if (!options.kinesisTriggers?.paused) await streamTriggers.resume();

  // S3-triggered functions, through the relayed notifications.
  const consumers = await startS3Triggers({
    kafka,
    topic: stack.s3NotificationTopic,
    stage: stack.stage,
    functions,
    invokeAsync,
    log,
  });

  const store = createStateStore(loadFunctionConfig(environment));
  const replayWatch = watchAbandonedReplays({
    functions,
    store,
    invoker: asyncInvoker,
    log,
    ...(options.replayWatchIntervalMs === undefined ? {} : { intervalMs: options.replayWatchIntervalMs }),
  });
  await replayWatch.scan();

  return {
    apiUrl: gateway.url,
    resumeTriggers,
    stats: () => ({
      functions: lambda.stats(),
      triggers: triggers.stats(),
      streamTriggers: streamTriggers.stats(),
      sandboxes: sandboxes.pids(),
    }),
    async stop() {
      stopping = true;
      sandboxes.stopping();
      await Promise.all([
        stopParts({ replayWatch, asyncInvoker, consumers, triggers, lambda, gateway, log }),
        streamTriggers.stop(),
      ]);
      await sandboxes.close();
    },
  };
}

/**
 * Replay's self-continuation arrives through the Lambda Invoke API: named by its object, as the S3
 * trigger names its invocations, so that the replay watch knows the object is being worked on.
 */
function namedByObject(invokeAsync: AsyncInvoker['invokeAsync']): AsyncInvoker['invokeAsync'] {
  return (functionId, event, what) => {
    const object = continuedObject(event);
    invokeAsync(functionId, event, object ? replayTarget(object) : what);
  };
}

/**
 * The stop, once `stopping` is set: from then on every invocation has no time left
 * (lambda-context.ts), so replays hurry to their next checkpoint row, write it with the lease
 * released, and their continuation is dropped (http-gateway.ts); the next start, or another running
 * runtime, goes on from there. Nothing new is started meanwhile (no watch, no retry, no trigger).
 */
async function stopParts(parts: {
  readonly replayWatch: ReplayWatch;
  readonly asyncInvoker: AsyncInvoker;
  readonly consumers: readonly { disconnect(): Promise<void> }[];
  readonly triggers: KafkaTriggers;
  readonly lambda: LambdaInvoker;
  readonly gateway: HttpGateway;
  readonly log: (line: string) => void;
}): Promise<void> {
  const { asyncInvoker, lambda, log } = parts;
  parts.replayWatch.stop();
  asyncInvoker.dropWaitingRetries();
  await Promise.allSettled(parts.consumers.map((consumer) => consumer.disconnect()));
  await Promise.all([parts.triggers.stop(), asyncInvoker.settled(STOP_WAIT_FOR_INVOCATIONS_MS)]);
  const running = Object.values(lambda.stats()).reduce((sum, counters) => sum + counters.running, 0);
  if (running > 0) {
    log(
      `${running} invocation(s) still running after ${STOP_WAIT_FOR_INVOCATIONS_MS / 1000} s; a replay among ` +
        'them is free again once its lease expires (at most 2 minutes after its last checkpoint), then continued',
    );
  }
  await parts.gateway.close();
}

/** The trigger's batching window in ms: the override, else serverless.yml's (in seconds), else AWS's default. */
function batchingWindow(
  overrideMs: number | undefined,
  seconds: number | undefined,
): { batchingWindowMs?: number } {
  if (overrideMs !== undefined) return { batchingWindowMs: overrideMs };
  return seconds === undefined ? {} : { batchingWindowMs: seconds * 1000 };
}

interface KafkaTriggers {
  /** Starts the triggers, once; `stats` and `stop` see those started so far. */
  resume(): Promise<void>;
  stats(): ReturnType<RunningMskTrigger['stats']>[];
  stop(): Promise<void>;
}

/** The consumer group of a function's Kafka trigger (the event source mapping's own group on AWS). */
export function triggerGroupId(stage: string, functionId: string, topic: string): string {
  return `driftline-${stage}-${functionId}-${topic}`;
}

/** Kafka-triggered functions: each enabled `msk` trigger of serverless.yml, started on `resume`. */
function kafkaTriggers(deps: {
  readonly kafka: Kafka;
  readonly stack: StackInfo;
  readonly functions: ReadonlyMap<string, LoadedFunction>;
  readonly invoke: LambdaInvoker['invoke'];
  readonly options: Pick<RuntimeOptions, 'kafkaTriggers' | 'log' | 'onMskDelivered'>;
}): KafkaTriggers {
  const { kafka, stack, invoke, options } = deps;
  const triggers: RunningMskTrigger[] = [];
  let started = false;
  const start = async () => {
    for (const { definition } of deps.functions.values()) {
      for (const trigger of definition.mskTriggers) {
        if (!trigger.enabled) continue;
        triggers.push(
          await startMskTrigger({
            kafka,
            topic: trigger.topic,
            groupId: triggerGroupId(stack.stage, definition.id, trigger.topic),
            batchSize: options.kafkaTriggers?.batchSize ?? trigger.batchSize,
            ...batchingWindow(options.kafkaTriggers?.batchingWindowMs, trigger.maximumBatchingWindow),
            startingPosition: trigger.startingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON',
            eventSourceArn: `arn:aws:kafka:us-east-1:000000000000:cluster/driftline-local/${stack.stage}`,
            bootstrapServers: stack.endpoints.kafkaBrokers.join(','),
            invoke: (event) => invoke(definition.id, event),
            // AWS invokes a Kafka-triggered function for several partitions at once; never two
            // batches of one partition (the trigger guarantees that).
            maxConcurrentInvocations: 3,
            log: (line) => options.log(`${definition.id} trigger: ${line}`),
            onDelivered: (delivery) => options.onMskDelivered?.(definition.id, delivery),
          }),
        );
      }
    }
  };
  return {
    async resume() {
      if (started) return;
      started = true;
      await start();
    },
    stats: () => triggers.map((trigger) => trigger.stats()),
    async stop() {
      await Promise.allSettled(triggers.map((trigger) => trigger.stop()));
    },
  };
}

/** The runtime's own environment (PATH, HOME, proxies, credentials), as a Lambda's base environment. */
function inheritedProcessEnvironment(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}
