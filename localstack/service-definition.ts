/**
 * Reads serverless.yml (through `serverless print`, so variables and params resolve exactly as they
 * do for `serverless deploy`) and extracts what the local stack needs: functions, their triggers and
 * environment, the tables, the dataset bucket and the topics. The resolved result is cached per
 * (file content, stage), because `serverless print` takes a few seconds.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { z } from 'zod';

const execFileAsync = promisify(execFile);

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const stringMap = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

const s3Event = z.object({
  s3: z.object({
    bucket: z.string(),
    event: z.string().default('s3:ObjectCreated:*'),
    existing: z.boolean().default(false),
    rules: z.array(z.record(z.string(), z.string())).default([]),
  }),
});
const mskEvent = z.object({
  msk: z.object({
    topic: z.string(),
    batchSize: z.number().int().min(1).max(10_000).default(100),
    /** Seconds; AWS uses 500 ms when it is not set, and so does the local trigger. */
    maximumBatchingWindow: z.number().min(0).max(300).optional(),
    startingPosition: z.enum(['LATEST', 'TRIM_HORIZON', 'AT_TIMESTAMP']).default('TRIM_HORIZON'),
    enabled: z.boolean().default(true),
  }),
});
const httpApiEvent = z.object({
  httpApi: z.object({ method: z.string(), path: z.string() }),
});
const anyEvent = z.union([s3Event, mskEvent, httpApiEvent, z.record(z.string(), z.unknown())]);

const functionSchema = z.object({
  handler: z.string().regex(/^[\w/.-]+\.\w+$/, 'expected path/file.export'),
  name: z.string(),
  timeout: z.number().int().default(6),
  memorySize: z.number().int().optional(),
  environment: stringMap.default({}),
  events: z.array(anyEvent).default([]),
});

const keySchemaEntry = z.object({ AttributeName: z.string(), KeyType: z.enum(['HASH', 'RANGE']) });
const attributeDefinition = z.object({ AttributeName: z.string(), AttributeType: z.enum(['S', 'N', 'B']) });
const tableResource = z.object({
  Type: z.literal('AWS::DynamoDB::Table'),
  Properties: z.object({
    TableName: z.string(),
    KeySchema: z.array(keySchemaEntry),
    AttributeDefinitions: z.array(attributeDefinition),
    TimeToLiveSpecification: z.object({ AttributeName: z.string(), Enabled: z.boolean() }).optional(),
  }),
});

const printedSchema = z.object({
  service: z.string(),
  provider: z.object({
    environment: stringMap.default({}),
    // The framework's default when neither the provider nor the function sets it.
    memorySize: z.number().int().default(1024),
  }),
  custom: z.object({
    datasetBucket: z.string(),
    stateBucket: z.string(),
    stateTable: z.string(),
    topics: z.array(z.object({ name: z.string(), partitions: z.coerce.number().int().min(1) })),
  }),
  functions: z.record(z.string(), functionSchema),
  resources: z.object({ Resources: z.record(z.string(), z.unknown()) }),
});

export type S3Trigger = z.infer<typeof s3Event>['s3'];
export type MskTrigger = z.infer<typeof mskEvent>['msk'];
export type HttpApiRoute = z.infer<typeof httpApiEvent>['httpApi'];

export interface FunctionDefinition {
  /** Key in serverless.yml (`replay`). */
  readonly id: string;
  /** Deployed name (`driftline-local-replay`). */
  readonly name: string;
  /** Source module relative to the project root (`functions/replay.ts`) and its export. */
  readonly handlerModule: string;
  readonly handlerExport: string;
  readonly timeoutSeconds: number;
  /** The function's memory (its own, else the provider's): the local sandbox's heap limit. */
  readonly memorySizeMb: number;
  /** provider.environment merged with the function's own, as Lambda sees it. */
  readonly environment: Readonly<Record<string, string>>;
  readonly s3Triggers: readonly S3Trigger[];
  readonly mskTriggers: readonly MskTrigger[];
  readonly httpRoutes: readonly HttpApiRoute[];
}

export interface TableDefinition {
  readonly name: string;
  readonly keySchema: readonly z.infer<typeof keySchemaEntry>[];
  readonly attributeDefinitions: readonly z.infer<typeof attributeDefinition>[];
  readonly ttlAttribute: string | undefined;
}

export interface ServiceDefinition {
  readonly service: string;
  readonly stage: string;
  readonly datasetBucket: string;
  /** State items too large for the table (created by the stack, unlike the dataset bucket). */
  readonly stateBucket: string;
  readonly stateTable: string;
  readonly topics: readonly { readonly name: string; readonly partitions: number }[];
  readonly functions: readonly FunctionDefinition[];
  readonly tables: readonly TableDefinition[];
}

export function parseServiceDefinition(printed: unknown, stage: string): ServiceDefinition {
  const doc = printedSchema.parse(printed);
  const functions = Object.entries(doc.functions).map(([id, fn]): FunctionDefinition => {
    const lastDot = fn.handler.lastIndexOf('.');
    const events = fn.events;
    return {
      id,
      name: fn.name,
      handlerModule: `${fn.handler.slice(0, lastDot)}.ts`,
      handlerExport: fn.handler.slice(lastDot + 1),
      timeoutSeconds: fn.timeout,
      memorySizeMb: fn.memorySize ?? doc.provider.memorySize,
      environment: { ...doc.provider.environment, ...fn.environment },
      s3Triggers: events.flatMap((event) => {
        const parsed = s3Event.safeParse(event);
        return parsed.success ? [parsed.data.s3] : [];
      }),
      mskTriggers: events.flatMap((event) => {
        const parsed = mskEvent.safeParse(event);
        return parsed.success ? [parsed.data.msk] : [];
      }),
      httpRoutes: events.flatMap((event) => {
        const parsed = httpApiEvent.safeParse(event);
        return parsed.success ? [parsed.data.httpApi] : [];
      }),
    };
  });
  const tables = Object.values(doc.resources.Resources).flatMap((resource): TableDefinition[] => {
    const parsed = tableResource.safeParse(resource);
    if (!parsed.success) return [];
    const props = parsed.data.Properties;
    return [
      {
        name: props.TableName,
        keySchema: props.KeySchema,
        attributeDefinitions: props.AttributeDefinitions,
        ttlAttribute: props.TimeToLiveSpecification?.Enabled
          ? props.TimeToLiveSpecification.AttributeName
          : undefined,
      },
    ];
  });
  return {
    service: doc.service,
    stage,
    datasetBucket: doc.custom.datasetBucket,
    stateBucket: doc.custom.stateBucket,
    stateTable: doc.custom.stateTable,
    topics: doc.custom.topics,
    functions,
    tables,
  };
}

/**
 * Resolves serverless.yml for `stage` with `serverless print` (offline: no credentials needed),
 * caching the JSON under `cacheDir`. `params` are passed as `--param name=value`, as to
 * `serverless deploy` (an AWS stage resolves only with its required params).
 */
export async function loadServiceDefinition(options: {
  readonly stage: string;
  readonly cacheDir: string;
  readonly projectRoot?: string;
  readonly params?: readonly string[];
}): Promise<ServiceDefinition> {
  const root = options.projectRoot ?? PROJECT_ROOT;
  const params = options.params ?? [];
  const source = await readFile(join(root, 'serverless.yml'));
  const digest = createHash('sha256')
    .update(source)
    .update(options.stage)
    .update(JSON.stringify(params))
    .digest('hex')
    .slice(0, 16);
  const cacheFile = join(options.cacheDir, `serverless-print-${options.stage}-${digest}.json`);
  let printed: unknown;
  try {
    printed = JSON.parse(await readFile(cacheFile, 'utf8'));
  } catch {
    printed = await printServerless(root, options.stage, params);
    await mkdir(dirname(cacheFile), { recursive: true });
    await writeFile(cacheFile, JSON.stringify(printed));
  }
  return parseServiceDefinition(printed, options.stage);
}

async function printServerless(root: string, stage: string, params: readonly string[]): Promise<unknown> {
  const bin = join(root, 'node_modules', '.bin', 'serverless');
  try {
    const { stdout } = await execFileAsync(
      bin,
      [
        'print',
        '--stage',
        stage,
        '--region',
        'us-east-1',
        '--format',
        'json',
        ...params.flatMap((param) => ['--param', param]),
      ],
      { cwd: root, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' } },
    );
    return JSON.parse(stdout);
  } catch (error) {
    const stderr = error instanceof Error && 'stderr' in error ? String(error.stderr) : '';
    throw new Error(`Could not resolve serverless.yml with \`serverless print\`:\n${stderr.trim()}`, {
      cause: error,
    });
  }
}
