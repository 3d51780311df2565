/**
 * The one configuration module. Every environment variable driftline reads is declared here,
 * validated once (at cold start for a Lambda function, at launch for the local stack), and handed
 * around as a typed object. Nothing else reads `process.env`.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { MAX_INLINE_BYTES } from './pipeline/overflow-store.ts';

export type Environment = Readonly<Record<string, string | undefined>>;

/** A configuration value is missing or malformed: the message says which and what to do. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const port = z.coerce.number().int().min(0).max(65_535);
const optionalUrl = z
  .string()
  .url()
  .optional()
  .or(z.literal('').transform(() => undefined));
const brokerList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((broker) => broker.trim())
      .filter((broker) => broker.length > 0),
  )
  .refine((brokers) => brokers.every((broker) => /^[\w.-]+:\d+$/.test(broker)), {
    message: 'expected host:port[,host:port…]',
  });

function parseOrThrow<T>(schema: z.ZodType<T>, env: Environment, what: string): T {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  throw new ConfigError(`Invalid ${what} configuration:\n  ${problems.join('\n  ')}`);
}

/* ------------------------------------------------------------------------------------------------
 * Lambda functions (replay, aggregate, api): names come from serverless.yml's `environment`.
 * ---------------------------------------------------------------------------------------------- */

const functionSchema = z.object({
  DRIFTLINE_STAGE: z.string().min(1).default('local'),
  DRIFTLINE_STATE_TABLE: z.string().min(1).default('driftline-state-local'),
  DRIFTLINE_DATASET_BUCKET: z.string().min(1).default('driftline-datasets-local'),
  DRIFTLINE_STATE_BUCKET: z.string().min(1).default('driftline-state-local'),
  /**
   * State items whose JSON is longer than this go to the state bucket behind a pointer item
   * (pipeline/overflow-store.ts). DynamoDB's limit is 400 KB; above ~64 KB S3 is also the cheaper.
   */
  DRIFTLINE_STATE_INLINE_MAX_BYTES: z.coerce.number().int().min(0).max(MAX_INLINE_BYTES).default(65_536),
  DRIFTLINE_RAW_TOPIC: z.string().min(1).default('data_raw'),
  DRIFTLINE_CLEAN_TOPIC: z.string().min(1).default('data_clean'),
  DRIFTLINE_DEAD_TOPIC: z.string().min(1).default('data_dead'),
  DRIFTLINE_RAW_TOPIC_PARTITIONS: z.coerce.number().int().min(1).default(10),
  DRIFTLINE_KAFKA_BROKERS: brokerList.default(['127.0.0.1:7800']),
  /** `iam` = MSK IAM over SASL/TLS (AWS); `none` = plaintext (local broker). */
  DRIFTLINE_KAFKA_AUTH: z.enum(['iam', 'none']).default('none'),
  DRIFTLINE_TRANSPORT: z.enum(['kafka', 'kinesis']).default('kafka'),
  DRIFTLINE_RAW_STREAM: z.string().min(1).default('data_raw'),
  DRIFTLINE_CLEAN_STREAM: z.string().min(1).default('data_clean'),
  DRIFTLINE_DEAD_STREAM: z.string().min(1).default('data_dead'),
  DRIFTLINE_REPLAY_ROWS_PER_RECORD: z.coerce.number().int().min(1).max(100_000).default(1),
  DRIFTLINE_REPLAY_RATE: z.coerce.number().min(0).default(1000),
  /** Width of the time-bucket rollups across partitions (the source job's 5 s trigger). */
  DRIFTLINE_BUCKET_SECONDS: z.coerce.number().int().min(1).max(3600).default(5),
  /** How long recent batch summaries are kept (DynamoDB TTL). */
  DRIFTLINE_BATCH_TTL_HOURS: z.coerce.number().min(0.1).default(24),
  // The dashboard served by `npm start` is same-origin; these are for `npm run dev:frontend` (Vite).
  DRIFTLINE_CORS_ALLOW_ORIGINS: z.string().default('http://localhost:7806,http://127.0.0.1:7806'),
  /** Emulator endpoints; unset on AWS. */
  DRIFTLINE_S3_ENDPOINT: optionalUrl,
  DRIFTLINE_DYNAMODB_ENDPOINT: optionalUrl,
  DRIFTLINE_KINESIS_ENDPOINT: optionalUrl,
  DRIFTLINE_LAMBDA_ENDPOINT: optionalUrl,
  /**
   * How long one DynamoDB request may take before the SDK gives up on it (and retries it). Without
   * one, a request whose answer never comes (a paused or restarted emulator, a lost connection)
   * waits for ever and holds its batch's partitions with it.
   */
  DRIFTLINE_DYNAMODB_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(900_000).default(10_000),
  /** Analysis for data_raw records without driftline headers (produced by another tool). */
  DRIFTLINE_DEFAULT_ANALYSIS: z.string().min(1).optional(),
  AWS_REGION: z.string().min(1).default('us-east-1'),
});

export interface FunctionConfig {
  readonly stage: string;
  readonly stateTable: string;
  /** Where state items too large for the table are kept, and the size from which they go there. */
  readonly stateBucket: string;
  readonly stateInlineMaxBytes: number;
  /** Where datasets are dropped, and where reference data (sf radio codes) is read from. */
  readonly datasetBucket: string;
  readonly topics: { readonly raw: string; readonly clean: string; readonly dead: string };
  readonly rawTopicPartitions: number;
  readonly kafka: {
    readonly brokers: readonly string[];
    readonly auth: 'iam' | 'none';
    readonly region: string;
  };
  readonly transport: 'kafka' | 'kinesis';
  /** The Kinesis streams of the same roles as the topics (DRIFTLINE_TRANSPORT=kinesis). */
  readonly streams: { readonly raw: string; readonly clean: string; readonly dead: string };
  readonly replay: { readonly rowsPerRecord: number; readonly rate: number };
  readonly bucketSeconds: number;
  readonly batchTtlHours: number;
  readonly corsAllowOrigins: readonly string[];
  readonly aws: {
    readonly region: string;
    readonly s3Endpoint: string | undefined;
    readonly dynamodbEndpoint: string | undefined;
    readonly kinesisEndpoint: string | undefined;
    readonly lambdaEndpoint: string | undefined;
    /** Unset: the adapter's default (tools that build this object themselves). */
    readonly dynamodbRequestTimeoutMs?: number;
  };
  readonly defaultAnalysis: string | undefined;
}

export function loadFunctionConfig(env: Environment = process.env): FunctionConfig {
  const raw = parseOrThrow(functionSchema, env, 'function');
  return {
    stage: raw.DRIFTLINE_STAGE,
    stateTable: raw.DRIFTLINE_STATE_TABLE,
    stateBucket: raw.DRIFTLINE_STATE_BUCKET,
    stateInlineMaxBytes: raw.DRIFTLINE_STATE_INLINE_MAX_BYTES,
    datasetBucket: raw.DRIFTLINE_DATASET_BUCKET,
    topics: {
      raw: raw.DRIFTLINE_RAW_TOPIC,
      clean: raw.DRIFTLINE_CLEAN_TOPIC,
      dead: raw.DRIFTLINE_DEAD_TOPIC,
    },
    rawTopicPartitions: raw.DRIFTLINE_RAW_TOPIC_PARTITIONS,
    kafka: { brokers: raw.DRIFTLINE_KAFKA_BROKERS, auth: raw.DRIFTLINE_KAFKA_AUTH, region: raw.AWS_REGION },
    transport: raw.DRIFTLINE_TRANSPORT,
    streams: {
      raw: raw.DRIFTLINE_RAW_STREAM,
      clean: raw.DRIFTLINE_CLEAN_STREAM,
      dead: raw.DRIFTLINE_DEAD_STREAM,
    },
    replay: { rowsPerRecord: raw.DRIFTLINE_REPLAY_ROWS_PER_RECORD, rate: raw.DRIFTLINE_REPLAY_RATE },
    bucketSeconds: raw.DRIFTLINE_BUCKET_SECONDS,
    batchTtlHours: raw.DRIFTLINE_BATCH_TTL_HOURS,
    corsAllowOrigins: raw.DRIFTLINE_CORS_ALLOW_ORIGINS.split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin.length > 0),
    aws: {
      region: raw.AWS_REGION,
      s3Endpoint: raw.DRIFTLINE_S3_ENDPOINT,
      dynamodbEndpoint: raw.DRIFTLINE_DYNAMODB_ENDPOINT,
      kinesisEndpoint: raw.DRIFTLINE_KINESIS_ENDPOINT,
      lambdaEndpoint: raw.DRIFTLINE_LAMBDA_ENDPOINT,
      dynamodbRequestTimeoutMs: raw.DRIFTLINE_DYNAMODB_REQUEST_TIMEOUT_MS,
    },
    defaultAnalysis: raw.DRIFTLINE_DEFAULT_ANALYSIS,
  };
}

/* ------------------------------------------------------------------------------------------------
 * The embedded local stack (localstack/): ports, folders, the Kafka broker.
 * ---------------------------------------------------------------------------------------------- */

/** The Kafka release the embedded broker runs (jars resolved from Maven Central on first use). */
export const EMBEDDED_KAFKA_VERSION = '3.9.1';

const stackSchema = z.object({
  DRIFTLINE_DATA_DIR: z.string().min(1).default('.driftline'),
  DRIFTLINE_CACHE_DIR: z.string().min(1).optional(),
  XDG_CACHE_HOME: z.string().min(1).optional(),
  DRIFTLINE_STAGE: z.string().min(1).default('local'),
  DRIFTLINE_KAFKA_PORT: port.default(7800),
  DRIFTLINE_KAFKA_CONTROLLER_PORT: port.default(7801),
  DRIFTLINE_S3_PORT: port.default(7802),
  DRIFTLINE_DYNAMODB_PORT: port.default(7803),
  DRIFTLINE_KINESIS_PORT: port.default(7804),
  DRIFTLINE_API_PORT: port.default(7805),
  /** Use this Kafka instead of starting the embedded broker (host:port[,host:port…]). */
  DRIFTLINE_KAFKA_BROKERS: brokerList.optional(),
  DRIFTLINE_KAFKA_HEAP: z
    .string()
    .regex(/^\d+[mMgG]$/, 'expected a JVM heap size such as 768m or 1g')
    .default('512m'),
  /** How often the stack deletes expired DynamoDB items (dynalite has no TTL of its own); 0: never. */
  DRIFTLINE_TTL_SWEEP_SECONDS: z.coerce.number().int().min(0).default(600),
  DRIFTLINE_JAVA: z.string().min(1).default('java'),
  DRIFTLINE_MAVEN: z.string().min(1).default('mvn'),
  /**
   * serverless.yml params for the stack, as `serverless deploy --param` takes them, separated by
   * spaces (`rawTopicPartitions=5`): the bench sweep provisions data_raw with N partitions so.
   */
  DRIFTLINE_SERVERLESS_PARAMS: z
    .string()
    .default('')
    .transform((text) => text.split(/\s+/).filter((param) => param !== ''))
    .pipe(z.array(z.string().regex(/^[A-Za-z0-9]+=/, 'expected name=value params separated by spaces'))),
});

export interface StackPorts {
  readonly kafka: number;
  readonly kafkaController: number;
  readonly s3: number;
  readonly dynamodb: number;
  readonly kinesis: number;
  readonly api: number;
}

export interface StackConfig {
  /** Absolute folder holding all stack state (Kafka logs, S3 objects, tables, streams, logs). */
  readonly dataDir: string;
  /** Absolute folder for downloads that outlive `--fresh` (the Kafka jars). */
  readonly cacheDir: string;
  readonly stage: string;
  readonly ports: StackPorts;
  /** Set when an existing Kafka is used; the embedded broker is then not started. */
  readonly externalKafkaBrokers: readonly string[] | undefined;
  readonly kafkaHeap: string;
  /** Seconds between the local TTL sweeps of the tables (localstack/dynamodb-ttl.ts); 0 turns them off. */
  readonly ttlSweepSeconds: number;
  readonly javaCommand: string;
  readonly mavenCommand: string;
  /** serverless.yml params (`name=value`) the stack resolves its resources with. */
  readonly params: readonly string[];
}

export function loadStackConfig(env: Environment = process.env, cwd: string = process.cwd()): StackConfig {
  const raw = parseOrThrow(stackSchema, env, 'local stack');
  const cacheRoot =
    raw.DRIFTLINE_CACHE_DIR ?? join(raw.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'driftline');
  return {
    dataDir: resolve(cwd, raw.DRIFTLINE_DATA_DIR),
    cacheDir: resolve(cwd, cacheRoot),
    stage: raw.DRIFTLINE_STAGE,
    ports: {
      kafka: raw.DRIFTLINE_KAFKA_PORT,
      kafkaController: raw.DRIFTLINE_KAFKA_CONTROLLER_PORT,
      s3: raw.DRIFTLINE_S3_PORT,
      dynamodb: raw.DRIFTLINE_DYNAMODB_PORT,
      kinesis: raw.DRIFTLINE_KINESIS_PORT,
      api: raw.DRIFTLINE_API_PORT,
    },
    externalKafkaBrokers: raw.DRIFTLINE_KAFKA_BROKERS,
    kafkaHeap: raw.DRIFTLINE_KAFKA_HEAP,
    ttlSweepSeconds: raw.DRIFTLINE_TTL_SWEEP_SECONDS,
    javaCommand: raw.DRIFTLINE_JAVA,
    mavenCommand: raw.DRIFTLINE_MAVEN,
    params: raw.DRIFTLINE_SERVERLESS_PARAMS,
  };
}
