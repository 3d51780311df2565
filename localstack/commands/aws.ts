/**
 * `driftline aws topics`: the topics of serverless.yml (data_raw with its partitions, data_clean,
 * data_dead) on the deployed MSK cluster, checked or created. The stack cannot do it: CloudFormation
 * has no resource for a topic on an MSK cluster, and the brokers are reachable only from inside the
 * cluster's VPC, so this runs where the person is (a host in the VPC), with their credentials.
 */
import { parseArgs } from 'node:util';
import { createKafka } from '../../shared/adapters/kafka.ts';
import { loadStackConfig } from '../../shared/config.ts';
import { loadServiceDefinition } from '../service-definition.ts';
import { describeTopicState, ensureTopics, topicsInOrder } from '../topic-provisioning.ts';
import { UsageError } from './usage-error.ts';

export const awsUsage = `Usage: driftline aws topics [--create] [--stage STAGE] [--param name=value …]
                            [--bootstrap HOST:PORT[,…]] [--auth iam|none] [--region REGION]

Checks that the Kafka topics of serverless.yml exist on the cluster with their partition counts
(exit 0), or says what is missing or different (exit 1). With --create, creates the missing ones
(a second run creates nothing). A topic with another partition count is reported, never changed.

Options:
  --create           create the topics that are missing
  --stage STAGE      the stage whose serverless.yml values are used (default dev)
  --param name=value as given to \`serverless deploy\`, repeated (an AWS stage needs its params)
  --bootstrap LIST   brokers (default: the stage's mskBootstrapServers param)
  --auth iam|none    MSK IAM over SASL/TLS (default), or plaintext for a local broker
  --region REGION    signs MSK IAM tokens (default: AWS_REGION)
  -h, --help         this text

With IAM, the caller needs kafka-cluster:Connect on the cluster and kafka-cluster:DescribeTopic
and CreateTopic on its topics; the brokers answer only inside the cluster's VPC.`;

export async function awsCommand(args: string[]): Promise<number> {
  const [subcommand, ...rest] = args;
  if (!subcommand || subcommand === '--help' || subcommand === '-h') {
    console.log(awsUsage);
    return subcommand ? 0 : 2;
  }
  if (subcommand !== 'topics') throw new UsageError(`unknown subcommand "aws ${subcommand}" (see --help)`);
  return topicsCommand(rest);
}

async function topicsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      create: { type: 'boolean', default: false },
      stage: { type: 'string', default: 'dev' },
      param: { type: 'string', multiple: true, default: [] },
      bootstrap: { type: 'string' },
      auth: { type: 'string', default: 'iam' },
      region: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(awsUsage);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument(s): ${positionals.join(' ')}`);
  const auth = values.auth;
  if (auth !== 'iam' && auth !== 'none') throw new UsageError(`--auth must be iam or none, not "${auth}"`);
  for (const param of values.param)
    if (!/^[A-Za-z0-9]+=/.test(param)) throw new UsageError(`--param wants name=value, not "${param}"`);

  const service = await loadServiceDefinition({
    stage: values.stage,
    cacheDir: loadStackConfig().cacheDir,
    params: values.param,
  });
  const bootstrap = values.bootstrap ?? service.functions[0]?.environment.DRIFTLINE_KAFKA_BROKERS ?? '';
  const brokers = bootstrap
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker.length > 0);
  if (brokers.length === 0)
    throw new UsageError('no brokers: give --bootstrap or the stage its mskBootstrapServers');
  const region = values.region ?? process.env.AWS_REGION;
  if (auth === 'iam' && !region) throw new UsageError('MSK IAM needs a region: --region or AWS_REGION');

  const kafka = createKafka(
    { brokers, auth, ...(region ? { region } : {}) },
    { clientId: 'driftline-aws-topics', logLevel: 'error' },
  );
  const admin = kafka.admin();
  await admin.connect();
  try {
    const report = await ensureTopics(admin, service.topics, { create: values.create });
    for (const topic of report) console.log(describeTopicState(topic));
    return topicsInOrder(report) ? 0 : 1;
  } finally {
    await admin.disconnect();
  }
}
