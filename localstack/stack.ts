/**
 * The embedded local cloud, in the foreground: Kafka (KRaft, on the JVM), S3, DynamoDB and Kinesis
 * emulators on 127.0.0.1, provisioned from serverless.yml (topics, bucket, tables, streams), with
 * S3 notifications relayed into a Kafka topic. `stack-daemon.ts` runs this in a process of its own;
 * `stack-control.ts` starts and stops that process.
 */

import { mkdir } from 'node:fs/promises';
import { CreateTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { createDynamoDbClient } from '../shared/adapters/dynamodb.ts';
import { type Admin, createKafka, type Kafka } from '../shared/adapters/kafka.ts';
import { createKinesisClient } from '../shared/adapters/kinesis.ts';
import type { StackConfig, StackPorts } from '../shared/config.ts';
import { startTtlSweeper } from './dynamodb-ttl.ts';
import { type RestartableEmulator, type RunningEmulators, startEmulators } from './emulators.ts';
import {
  brokerStartupFailure,
  checkJava,
  ensureKafkaJars,
  type RunningKafkaBroker,
  startKafkaBroker,
} from './kafka-broker.ts';
import { assertPortFree, freePortOutsideEphemeralRange } from './ports.ts';
import { startS3NotificationRelay } from './s3-notification-relay.ts';
import { S3_NOTIFICATION_TOPIC } from './s3-notifications.ts';
import { loadServiceDefinition, type ServiceDefinition } from './service-definition.ts';
import { StackError } from './stack-error.ts';
import type { StackEndpoints, StackInfo } from './stack-files.ts';

export type { StackEndpoints, StackInfo } from './stack-files.ts';

export const LOCAL_REGION = 'us-east-1';

export interface RunningStack {
  readonly info: StackInfo;
  readonly service: ServiceDefinition;
  /** Resolves if the embedded broker dies on its own (the daemon then shuts everything down). */
  readonly brokerExited: Promise<number | null>;
  /**
   * For the fault-injection tests: `kafka` kills the embedded broker (SIGKILL), an emulator is
   * stopped; each comes back after `downMs` on the same port over the same data. Resolves once it
   * serves again.
   */
  restart(service: RestartableService, downMs: number): Promise<void>;
  stop(): Promise<void>;
}

export type RestartableService = 'kafka' | RestartableEmulator;

const KAFKA_READY_TIMEOUT_MS = 90_000;

/**
 * Port 0 means "any free port"; Kafka cannot bind 0 itself (it must advertise its port), so one is
 * chosen here, outside the ephemeral range (see freePortOutsideEphemeralRange), and two different.
 */
export async function concretePorts(ports: StackPorts): Promise<StackPorts> {
  const kafka = ports.kafka || (await freePortOutsideEphemeralRange({ except: [ports.kafkaController] }));
  const kafkaController = ports.kafkaController || (await freePortOutsideEphemeralRange({ except: [kafka] }));
  return { ...ports, kafka, kafkaController };
}

async function checkPortsFree(ports: StackPorts, embeddedKafka: boolean): Promise<void> {
  const checks: [number, string, string][] = [
    [ports.s3, 'S3 emulator', 'DRIFTLINE_S3_PORT'],
    [ports.dynamodb, 'DynamoDB emulator', 'DRIFTLINE_DYNAMODB_PORT'],
    [ports.kinesis, 'Kinesis emulator', 'DRIFTLINE_KINESIS_PORT'],
  ];
  if (embeddedKafka) {
    checks.push([ports.kafka, 'Kafka broker', 'DRIFTLINE_KAFKA_PORT']);
    checks.push([ports.kafkaController, 'Kafka controller', 'DRIFTLINE_KAFKA_CONTROLLER_PORT']);
  }
  for (const [port, component, variable] of checks) {
    if (port !== 0) await assertPortFree(port, component, variable);
  }
}

async function waitForKafka(
  admin: Admin,
  broker: RunningKafkaBroker | undefined,
  brokers: string,
): Promise<void> {
  const deadline = Date.now() + KAFKA_READY_TIMEOUT_MS;
  let lastError: unknown;
  let brokerDied = false;
  void broker?.exited.then(() => {
    brokerDied = true;
  });
  while (Date.now() < deadline && !brokerDied) {
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.controller !== null && cluster.brokers.length > 0) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 250));
  }
  if (broker) {
    const what = brokerDied
      ? 'exited during startup'
      : `was not ready within ${KAFKA_READY_TIMEOUT_MS / 1000} s`;
    throw new StackError(`The embedded Kafka broker ${what}.\n${await brokerStartupFailure(broker)}`);
  }
  throw new StackError(
    `Kafka at ${brokers} (DRIFTLINE_KAFKA_BROKERS) did not answer within ${KAFKA_READY_TIMEOUT_MS / 1000} s: ` +
      `${lastError instanceof Error ? lastError.message : String(lastError)}`,
  );
}

async function provisionTopics(
  admin: Admin,
  topics: readonly { name: string; partitions: number }[],
  log: (line: string) => void,
) {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((topic) => !existing.has(topic.name));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({
        topic: topic.name,
        numPartitions: topic.partitions,
        replicationFactor: 1,
      })),
    });
  }
  const metadata = await admin.fetchTopicMetadata({ topics: topics.map((topic) => topic.name) });
  for (const topic of topics) {
    const found = metadata.topics.find((entry) => entry.name === topic.name);
    if (found && found.partitions.length !== topic.partitions) {
      log(
        `warning: topic ${topic.name} has ${found.partitions.length} partitions, serverless.yml says ${topic.partitions} ` +
          '(start with --fresh to recreate it)',
      );
    }
  }
}

async function provisionTables(endpoint: string, service: ServiceDefinition): Promise<void> {
  const client = createDynamoDbClient({ region: LOCAL_REGION, dynamodbEndpoint: endpoint });
  try {
    const existing = new Set((await client.send(new ListTablesCommand({}))).TableNames ?? []);
    for (const table of service.tables) {
      if (existing.has(table.name)) continue;
      // dynalite has no UpdateTimeToLive: the stack deletes expired items itself (dynamodb-ttl.ts).
      await client.send(
        new CreateTableCommand({
          TableName: table.name,
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [...table.keySchema],
          AttributeDefinitions: [...table.attributeDefinitions],
        }),
      );
    }
  } finally {
    client.destroy();
  }
}

/** The Kinesis transport uses streams named like the topics, one shard per partition. */
async function provisionStreams(endpoint: string, service: ServiceDefinition): Promise<void> {
  const client = createKinesisClient({ region: LOCAL_REGION, kinesisEndpoint: endpoint });
  try {
    const existing = new Set((await client.send(new ListStreamsCommand({}))).StreamNames ?? []);
    for (const topic of service.topics) {
      if (existing.has(topic.name)) continue;
      await client.send(new CreateStreamCommand({ StreamName: topic.name, ShardCount: topic.partitions }));
    }
  } finally {
    client.destroy();
  }
}

/** What runStack settles before it starts anything: the ports, serverless.yml's resources, the Kafka jars. */
interface StackPlan {
  readonly embeddedKafka: boolean;
  readonly ports: StackPorts;
  readonly service: ServiceDefinition;
  /** The Kafka jars, when the stack runs its own broker (no DRIFTLINE_KAFKA_BROKERS). */
  readonly libsDir: string | undefined;
}

async function planStack(config: StackConfig, log: (line: string) => void): Promise<StackPlan> {
  await mkdir(config.dataDir, { recursive: true });
  const embeddedKafka = config.externalKafkaBrokers === undefined;
  await checkPortsFree(config.ports, embeddedKafka);
  const ports = embeddedKafka ? await concretePorts(config.ports) : config.ports;

  const servicePromise = loadServiceDefinition({
    stage: config.stage,
    cacheDir: config.cacheDir,
    params: config.params,
  });
  const libsPromise = embeddedKafka
    ? checkJava(config.javaCommand).then(() =>
        ensureKafkaJars({ cacheDir: config.cacheDir, mavenCommand: config.mavenCommand, log }),
      )
    : Promise.resolve(undefined);
  const [service, libsDir] = await Promise.all([servicePromise, libsPromise]);
  return { embeddedKafka, ports, service, libsDir };
}

/** Stops what was started, the last first; a failing stop is logged and the others still run. */
class StopList {
  private readonly stops: (() => Promise<void>)[] = [];

  constructor(private readonly log: (line: string) => void) {}

  push(stop: () => Promise<void>): void {
    this.stops.push(stop);
  }

  async stopAll(): Promise<void> {
    for (const stop of this.stops.reverse())
      await stop().catch((error) => this.log(`stop failed: ${String(error)}`));
    this.stops.length = 0;
  }
}

interface StackServices {
  readonly broker: SupervisedBroker | undefined;
  readonly emulators: RunningEmulators;
  readonly endpoints: StackEndpoints;
}

/** The embedded broker, which a test may kill and start again: its exit counts only when unplanned. */
interface SupervisedBroker {
  readonly current: () => RunningKafkaBroker;
  /** Resolves when the running broker exits by itself (not killed by `restart`). */
  readonly unplannedExit: Promise<number | null>;
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

function superviseBroker(
  first: RunningKafkaBroker,
  startAgain: () => Promise<RunningKafkaBroker>,
): SupervisedBroker {
  let current = first;
  let restarting = false;
  let reportExit: (code: number | null) => void = () => {};
  const unplannedExit = new Promise<number | null>((resolveExit) => {
    reportExit = resolveExit;
  });
  const watch = (broker: RunningKafkaBroker) =>
    void broker.exited.then((code) => {
      if (broker === current && !restarting) reportExit(code);
    });
  watch(first);
  return {
    current: () => current,
    unplannedExit,
    async restart(downMs) {
      restarting = true;
      try {
        current.process.kill('SIGKILL');
        await current.exited;
        await new Promise((resolveWait) => setTimeout(resolveWait, downMs));
        current = await startAgain();
        watch(current);
      } finally {
        restarting = false;
      }
    },
    stop: () => current.stop(),
  };
}

/** The broker (unless an existing Kafka is used) and the AWS emulators. */
async function startServices(config: StackConfig, plan: StackPlan, stops: StopList): Promise<StackServices> {
  const { libsDir, ports, service } = plan;
  const startBroker = (libs: string) =>
    startKafkaBroker({
      libsDir: libs,
      dataDir: config.dataDir,
      port: ports.kafka,
      controllerPort: ports.kafkaController,
      heap: config.kafkaHeap,
      javaCommand: config.javaCommand,
    });
  const broker =
    libsDir === undefined
      ? undefined
      : superviseBroker(await startBroker(libsDir), () => startBroker(libsDir));
  if (broker) stops.push(() => broker.stop());

  const emulators = await startEmulators({
    dataDir: config.dataDir,
    s3Port: ports.s3,
    dynamodbPort: ports.dynamodb,
    kinesisPort: ports.kinesis,
    buckets: [service.datasetBucket, service.stateBucket],
  });
  stops.push(() => emulators.stop());
  const endpoints: StackEndpoints = {
    kafkaBrokers: broker ? [broker.current().bootstrapServers] : [...(config.externalKafkaBrokers ?? [])],
    s3: `http://127.0.0.1:${emulators.s3Port}`,
    dynamodb: `http://127.0.0.1:${emulators.dynamodbPort}`,
    kinesis: `http://127.0.0.1:${emulators.kinesisPort}`,
  };
  return { broker, emulators, endpoints };
}

/** DynamoDB's TTL deletion, which dynalite lacks (dynamodb-ttl.ts), unless turned off. */
function startTableTtl(
  config: StackConfig,
  endpoint: string,
  service: ServiceDefinition,
  stops: StopList,
  log: (line: string) => void,
): void {
  if (config.ttlSweepSeconds === 0) return;
  const client = createDynamoDbClient({ region: LOCAL_REGION, dynamodbEndpoint: endpoint });
  const sweeper = startTtlSweeper({
    client,
    tables: service.tables,
    intervalMs: config.ttlSweepSeconds * 1000,
    log,
  });
  stops.push(async () => {
    await sweeper.stop();
    client.destroy();
  });
}

/** Waits for Kafka, then creates the topics, tables and streams that are missing. */
async function provision(
  kafka: Kafka,
  services: StackServices,
  service: ServiceDefinition,
  stops: StopList,
  log: (line: string) => void,
): Promise<void> {
  const { broker, endpoints } = services;
  const admin = kafka.admin();
  stops.push(() => admin.disconnect());
  await waitForKafka(admin, broker?.current(), endpoints.kafkaBrokers.join(','));
  await provisionTopics(admin, [...service.topics, { name: S3_NOTIFICATION_TOPIC, partitions: 1 }], log);
  await Promise.all([
    provisionTables(endpoints.dynamodb, service),
    provisionStreams(endpoints.kinesis, service),
  ]);
}

function stackInfo(
  config: StackConfig,
  plan: StackPlan,
  services: StackServices,
  started: number,
): StackInfo {
  const { broker, emulators, endpoints } = services;
  const { service } = plan;
  return {
    pid: process.pid,
    dataDir: config.dataDir,
    stage: config.stage,
    startedAt: new Date().toISOString(),
    startupMs: Date.now() - started,
    embeddedKafka: plan.embeddedKafka,
    ...(broker ? { kafkaLogFile: broker.current().logFile } : {}),
    endpoints,
    ports: {
      ...plan.ports,
      s3: emulators.s3Port,
      dynamodb: emulators.dynamodbPort,
      kinesis: emulators.kinesisPort,
    },
    datasetBucket: service.datasetBucket,
    stateBucket: service.stateBucket,
    stateTable: service.stateTable,
    topics: service.topics.map((topic) => ({ ...topic })),
    s3NotificationTopic: S3_NOTIFICATION_TOPIC,
  };
}

async function restartService(
  kafka: Kafka,
  services: StackServices,
  service: RestartableService,
  downMs: number,
): Promise<void> {
  if (service !== 'kafka') return services.emulators.restart(service, downMs);
  const { broker } = services;
  if (!broker)
    throw new StackError('This stack uses an external Kafka: it has no broker of its own to restart.');
  await broker.restart(downMs);
  const admin = kafka.admin();
  try {
    await waitForKafka(admin, broker.current(), services.endpoints.kafkaBrokers.join(','));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Starts the stack. No retry when the broker exits while starting: the flake that once had one
 * (a restart over the same data on a loaded machine, "exited during startup") was the broker's
 * ports being taken between their choice and the JVM's bind, now closed by choosing them outside
 * the ephemeral range (concretePorts); any other exit is a fault to see, and its message quotes the
 * first ERROR/FATAL lines of that start.
 */
export async function runStack(config: StackConfig, log: (line: string) => void): Promise<RunningStack> {
  const started = Date.now();
  const plan = await planStack(config, log);
  return runPlannedStack(config, plan, started, log);
}

async function runPlannedStack(
  config: StackConfig,
  plan: StackPlan,
  started: number,
  log: (line: string) => void,
): Promise<RunningStack> {
  const stops = new StopList(log);
  try {
    const services = await startServices(config, plan, stops);
    const kafka = createKafka(
      { brokers: services.endpoints.kafkaBrokers, auth: 'none' },
      { clientId: 'driftline-stack', logLevel: 'nothing' },
    );
    await provision(kafka, services, plan.service, stops, log);
    startTableTtl(config, services.endpoints.dynamodb, plan.service, stops, log);
    const relay = await startS3NotificationRelay({
      kafka,
      emulators: services.emulators,
      region: LOCAL_REGION,
      log,
    });
    stops.push(() => relay.stop());
    return {
      info: stackInfo(config, plan, services, started),
      service: plan.service,
      brokerExited: services.broker ? services.broker.unplannedExit : new Promise<never>(() => {}),
      restart: (service, downMs) => restartService(kafka, services, service, downMs),
      stop: () => stops.stopAll(),
    };
  } catch (error) {
    await stops.stopAll();
    throw error;
  }
}

/**
 * What the AWS CLI, boto3 and the AWS SDKs read to talk to the local cloud instead of AWS, with no
 * other setting: the service-specific endpoints (AWS_ENDPOINT_URL_<SERVICE>, read by every current
 * SDK and CLI), credentials the emulators accept (s3rver accepts only `S3RVER`/`S3RVER`; dynalite
 * and kinesalite accept any), the region (AWS_REGION for most SDKs, AWS_DEFAULT_REGION for the CLI
 * and boto3), and checksums only where an operation requires one: by default newer SDKs upload
 * aws-chunked with a checksum trailer, which s3rver stores inside the object.
 */
export function sdkEnvironment(info: StackInfo): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: info.endpoints.s3,
    AWS_ENDPOINT_URL_DYNAMODB: info.endpoints.dynamodb,
    AWS_ENDPOINT_URL_KINESIS: info.endpoints.kinesis,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required',
  };
}

/** The environment a function sees on the local stack (besides serverless.yml's own variables). */
export function functionEnvironment(info: StackInfo): Record<string, string> {
  return {
    DRIFTLINE_STAGE: info.stage,
    DRIFTLINE_KAFKA_BROKERS: info.endpoints.kafkaBrokers.join(','),
    DRIFTLINE_KAFKA_AUTH: 'none',
    DRIFTLINE_S3_ENDPOINT: info.endpoints.s3,
    DRIFTLINE_DYNAMODB_ENDPOINT: info.endpoints.dynamodb,
    DRIFTLINE_KINESIS_ENDPOINT: info.endpoints.kinesis,
    AWS_REGION: LOCAL_REGION,
  };
}
