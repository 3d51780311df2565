/** `driftline stack up|down|status|env`: the embedded local cloud as a background service. */
import { parseArgs } from 'node:util';
import { EMBEDDED_KAFKA_VERSION, loadStackConfig, type StackConfig } from '../../shared/config.ts';
import { checkJava, ensureKafkaJars } from '../kafka-broker.ts';
import { ensureKafkaToolsJars } from '../kafka-tools.ts';
import { functionEnvironment, type StackInfo, sdkEnvironment } from '../stack.ts';
import { readStackInfo, startStack, stopStack, wipeData } from '../stack-control.ts';
import { stackLogFile } from '../stack-files.ts';

export const stackUsage = `Usage: driftline stack <up|down|status|env|install> [--fresh] [--json]

  up       start Kafka (KRaft, on this machine's Java), the S3, DynamoDB and Kinesis emulators on
           127.0.0.1, create the topics, bucket, tables and streams of serverless.yml, and return
           (the stack keeps running in the background; a second \`up\` reuses its data)
  down     stop the stack started from this data folder (and everything it started)
  status   say whether it runs, with its endpoints
  env      print the environment variables that point the functions, the AWS CLI, boto3 and the
           AWS SDKs at the stack: eval "$(npx driftline stack env)"
  install  check Java and resolve the Kafka jars, and Kafka's perf tools (the yardstick of
           \`driftline bench\`), from Maven Central now (otherwise done by the first \`up\` and the
           first bench); for CI and for preparing a machine before going offline

Options:
  --fresh  (up) wipe the data folder first: topics, objects, tables and streams start empty
  --json   (status) machine-readable output

Environment: DRIFTLINE_DATA_DIR (default .driftline), DRIFTLINE_*_PORT, DRIFTLINE_KAFKA_BROKERS
(use an existing Kafka), DRIFTLINE_CACHE_DIR (Kafka jars). See README "Configuration".`;

export function describeStack(info: StackInfo): string {
  return [
    `Stack running (pid ${info.pid}, data ${info.dataDir}, started in ${(info.startupMs / 1000).toFixed(1)} s):`,
    `  Kafka     ${info.endpoints.kafkaBrokers.join(',')}${info.embeddedKafka ? ' (embedded KRaft broker)' : ' (existing)'}`,
    `  S3        ${info.endpoints.s3}   buckets ${info.datasetBucket} (datasets), ${info.stateBucket} (large state)`,
    `  DynamoDB  ${info.endpoints.dynamodb}   table ${info.stateTable}`,
    `  Kinesis   ${info.endpoints.kinesis}`,
    `  topics    ${info.topics.map((topic) => `${topic.name}(${topic.partitions})`).join(' ')}`,
    `  log       ${stackLogFile(info.dataDir)}`,
  ].join('\n');
}

async function stackUp(config: StackConfig, fresh: boolean): Promise<number> {
  const running = await readStackInfo(config.dataDir);
  if (running) {
    console.log(describeStack(running));
    return 0;
  }
  if (fresh) await wipeData(config);
  console.error(`Starting the local stack (data in ${config.dataDir})…`);
  const handle = await startStack({ fresh: false });
  console.log(describeStack(handle.info));
  return 0;
}

async function stackDown(config: StackConfig): Promise<number> {
  const stopped = await stopStack();
  console.log(stopped ? 'Stack stopped.' : `No stack is running from ${config.dataDir}.`);
  return 0;
}

async function stackStatus(config: StackConfig, json: boolean): Promise<number> {
  const info = await readStackInfo(config.dataDir);
  if (json) console.log(JSON.stringify(info ?? null, null, 2));
  else console.log(info ? describeStack(info) : `No stack is running from ${config.dataDir}.`);
  return info ? 0 : 3;
}

async function stackEnv(config: StackConfig): Promise<number> {
  const info = await readStackInfo(config.dataDir);
  if (!info) {
    console.error(`No stack is running from ${config.dataDir}: start it with \`npx driftline stack up\`.`);
    return 3;
  }
  console.log(stackEnvLines(info).join('\n'));
  return 0;
}

/** A value as the shell reads it back: bare when it is plain, else in single quotes. */
function shellValue(value: string): string {
  return /^[\w@%+=:,./-]*$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}

/**
 * `stack env`'s output, for `eval "$(npx driftline stack env)"`: the functions' variables (our own
 * tools read them), then those the AWS CLI, boto3 and the SDKs read (stack.ts, sdkEnvironment).
 */
export function stackEnvLines(info: StackInfo): string[] {
  const exports = (variables: Record<string, string>) =>
    Object.entries(variables).map(([name, value]) => `export ${name}=${shellValue(value)}`);
  return [
    '# driftline: the functions and tools of this project',
    ...exports(functionEnvironment(info)),
    `export DRIFTLINE_DATASET_BUCKET=${shellValue(info.datasetBucket)}`,
    '# the AWS CLI, boto3 and the AWS SDKs (e.g. aws s3 cp FILE s3://$DRIFTLINE_DATASET_BUCKET/dt/)',
    ...exports(sdkEnvironment(info)),
  ];
}

async function stackInstall(config: StackConfig): Promise<number> {
  await checkJava(config.javaCommand);
  const libs = await ensureKafkaJars({
    cacheDir: config.cacheDir,
    mavenCommand: config.mavenCommand,
    log: console.error,
  });
  console.log(`Kafka ${EMBEDDED_KAFKA_VERSION} jars ready in ${libs}`);
  // Kafka's own perf tools, the yardstick of `driftline bench`.
  const tools = await ensureKafkaToolsJars({
    cacheDir: config.cacheDir,
    mavenCommand: config.mavenCommand,
    log: console.error,
  });
  console.log(`Kafka ${EMBEDDED_KAFKA_VERSION} perf tools ready in ${tools}`);
  return 0;
}

export async function stackCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      fresh: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const action = positionals[0];
  if (values.help || !action) {
    console.log(stackUsage);
    return values.help ? 0 : 2;
  }
  const config = loadStackConfig();
  switch (action) {
    case 'up':
      return stackUp(config, values.fresh);
    case 'down':
      return stackDown(config);
    case 'status':
      return stackStatus(config, values.json);
    case 'env':
      return stackEnv(config);
    case 'install':
      return stackInstall(config);
    default:
      console.error(`Unknown stack action "${action}".\n\n${stackUsage}`);
      return 2;
  }
}
