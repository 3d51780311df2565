/**
 * A real `serverless deploy` and `serverless remove` of stage dev, against moto (an AWS API
 * emulator from PyPI, on 127.0.0.1, in its own process group, started and stopped here).
 *
 * What this proves: the template goes through osls's whole deploy path (artifact upload,
 * ValidateTemplate, which moto implements with cfn-lint, stack create and update) and creates what
 * it says: the three functions with their handler, memory, environment, role and VPC; one role per
 * function with its policy; the table; the buckets; the four VPC endpoints on the cluster's VPC; the
 * dashboard published with its config.json; and `serverless remove` deletes all of it, buckets
 * emptied first. What moto cannot create, and what checks it instead:
 * - the MSK trigger: moto accepts only SQS, DynamoDB and Kinesis sources, so this deploy sets
 *   `--param mskTrigger=false`; serverless-package.test.ts asserts the mapping in the template;
 * - CloudFront (no CloudFormation support in moto): `--param dashboardCdn=false`; the distribution,
 *   its origin access control and bucket policy are asserted in the template;
 * - the HTTP API (moto skips ApiGatewayV2 resources), so the dashboard is given its API URL with
 *   `--param dashboardApiUrl=…`; the API, its CORS and throttling are asserted in the template.
 * moto does not enforce IAM, run the functions (no Docker) or check that MSK, VPC endpoints or
 * CloudFront work: that needs AWS (README "Deploying").
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../localstack/service-definition.ts';
import {
  missingDeployTools,
  paramArgs,
  SERVERLESS_BIN,
  serverlessEnvironment,
  TEST_AWS_PARAMS,
  tool,
} from '../support/deploy-tools.ts';

const execFileAsync = promisify(execFile);

interface FunctionView {
  handler: string;
  runtime: string;
  memory: number;
  timeout: number;
  role: string;
  environment: Record<string, string>;
  vpc: { SubnetIds: string[]; SecurityGroupIds: string[] } | null;
}
type Statement = { Sid?: string; Action: string | string[]; Resource: string | string[] };
interface AccountView {
  functions: Record<string, FunctionView>;
  roles: Record<string, { name: string; policies: Record<string, { Statement: Statement[] }> }>;
  tables: Record<string, { keySchema: unknown; billing: string | undefined }>;
  buckets: Record<string, Record<string, { contentType: string; cacheControl: string }>>;
  endpoints: { service: string; type: string; vpcId: string; routeTableIds: string[]; subnetIds: string[] }[];
  eventSourceMappings: unknown[];
  stacks: Record<string, string>;
  dashboardConfig: { apiBaseUrl: string } | null;
}
interface Network {
  vpcId: string;
  subnetIds: string[];
  securityGroupId: string;
  routeTableId: string;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, rejectPort) => {
    const server = createServer();
    server.on('error', rejectPort);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

async function waitUntilAnswering(url: string, deadlineMs: number): Promise<void> {
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch (error) {
      if (Date.now() > deadlineMs) throw new Error(`moto did not answer at ${url}`, { cause: error });
      await new Promise((resolveWait) => setTimeout(resolveWait, 200));
    }
  }
}

const skip = missingDeployTools('python', 'moto_server');

describe.skipIf(skip !== '')('serverless deploy / remove of stage dev on an AWS API emulator (moto)', () => {
  let moto: ChildProcess | undefined;
  let endpoint = '';
  let network: Network = { vpcId: '', subnetIds: [], securityGroupId: '', routeTableId: '' };
  let deployed: AccountView | undefined;
  const API_URL = 'https://api.example.test';
  const DASHBOARD_ORIGIN = 'https://dashboard.example.test';

  const account = async (command: 'prepare' | 'inspect') => {
    const { stdout } = await execFileAsync(
      tool('python'),
      ['test/support/moto_account.py', endpoint, command],
      {
        cwd: PROJECT_ROOT,
        maxBuffer: 16 << 20,
      },
    );
    return JSON.parse(stdout);
  };
  const serverless = (command: 'deploy' | 'remove') => {
    const params = {
      ...TEST_AWS_PARAMS,
      vpcId: network.vpcId,
      vpcSubnetIds: network.subnetIds.join(','),
      vpcSecurityGroupIds: network.securityGroupId,
      vpcRouteTableIds: network.routeTableId,
      mskTrigger: 'false',
      dashboardCdn: 'false',
      corsAllowOrigins: DASHBOARD_ORIGIN,
      dashboardApiUrl: API_URL,
    };
    return execFileAsync(
      SERVERLESS_BIN,
      [command, '--stage', 'dev', '--region', 'eu-west-1', ...paramArgs(params)],
      {
        cwd: PROJECT_ROOT,
        maxBuffer: 16 << 20,
        env: serverlessEnvironment({
          AWS_ENDPOINT_URL: endpoint,
          AWS_ACCESS_KEY_ID: 'testing',
          AWS_SECRET_ACCESS_KEY: 'testing',
          AWS_REGION: 'eu-west-1',
        }),
      },
    );
  };

  beforeAll(async () => {
    if (!existsSync(join(PROJECT_ROOT, 'frontend', 'dist', 'index.html')))
      await execFileAsync('npm', ['run', 'build:frontend'], { cwd: PROJECT_ROOT });
    const port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    // Its own process group (detached), so that afterAll stops moto and anything it started.
    moto = spawn(tool('python'), ['deploy/moto-server.py', '-H', '127.0.0.1', '-p', String(port)], {
      cwd: PROJECT_ROOT,
      detached: true,
      stdio: 'ignore',
    });
    await waitUntilAnswering(`${endpoint}/moto-api/`, Date.now() + 30_000);
    network = await account('prepare');
    await serverless('deploy');
    deployed = await account('inspect');
  }, 240_000);

  afterAll(() => {
    if (moto?.pid) {
      try {
        process.kill(-moto.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
  });

  const view = (): AccountView => {
    if (!deployed) throw new Error('the deploy did not complete');
    return deployed;
  };
  const fn = (name: string): FunctionView => {
    const found = view().functions[`driftline-dev-${name}`];
    if (!found)
      throw new Error(`no function driftline-dev-${name}: ${Object.keys(view().functions).join(', ')}`);
    return found;
  };
  const roleOf = (name: string) => {
    const role = view().roles[fn(name).role];
    if (!role) throw new Error(`the role of ${name} does not exist`);
    return role;
  };
  const actionsOf = (name: string) =>
    Object.values(roleOf(name).policies).flatMap((policy) =>
      policy.Statement.flatMap((statement) =>
        Array.isArray(statement.Action) ? statement.Action : [statement.Action],
      ),
    );

  it('creates the three functions with their handler, runtime, memory and timeout', () => {
    expect(fn('replay')).toMatchObject({
      handler: 'functions/replay.handler',
      runtime: 'nodejs22.x',
      memory: 1024,
      timeout: 900,
    });
    expect(fn('aggregate')).toMatchObject({
      handler: 'functions/aggregate.handler',
      memory: 512,
      timeout: 120,
    });
    expect(fn('api')).toMatchObject({ handler: 'functions/api.handler', memory: 512, timeout: 10 });
  });

  it('puts replay and aggregate in the cluster VPC and leaves api outside it', () => {
    const inVpc = { SubnetIds: network.subnetIds, SecurityGroupIds: [network.securityGroupId] };
    expect(fn('replay').vpc).toEqual(inVpc);
    expect(fn('aggregate').vpc).toEqual(inVpc);
    expect(fn('api').vpc).toBeNull();
  });

  it('gives each function its environment: brokers with IAM auth, names, and the dashboard origin for CORS', () => {
    for (const name of ['replay', 'aggregate', 'api'])
      expect(fn(name).environment).toMatchObject({
        DRIFTLINE_STAGE: 'dev',
        DRIFTLINE_STATE_TABLE: 'driftline-state-dev',
        DRIFTLINE_STATE_BUCKET: 'driftline-state-dev',
        DRIFTLINE_KAFKA_BROKERS: TEST_AWS_PARAMS.mskBootstrapServers,
        DRIFTLINE_KAFKA_AUTH: 'iam',
      });
    expect(fn('replay').environment).toMatchObject({
      DRIFTLINE_RAW_TOPIC_PARTITIONS: '10',
      DRIFTLINE_REPLAY_RATE: '1000',
    });
    expect(fn('api').environment.DRIFTLINE_CORS_ALLOW_ORIGINS).toBe(DASHBOARD_ORIGIN);
  });

  it('gives each function a role of its own with its own policy', () => {
    const roles = new Set(['replay', 'aggregate', 'api'].map((name) => fn(name).role));
    expect(roles.size).toBe(3);
    expect(actionsOf('api')).not.toContain('dynamodb:PutItem');
    expect(actionsOf('api')).not.toContain('lambda:InvokeFunction');
    expect(actionsOf('replay')).toContain('lambda:InvokeFunction');
    expect(actionsOf('aggregate')).toContain('kafka-cluster:ReadData');
    expect(actionsOf('replay')).not.toContain('kafka-cluster:ReadData');
  });

  it('creates the state table and the stack buckets beside the existing dataset bucket', () => {
    expect(view().tables['driftline-state-dev']).toMatchObject({
      keySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    });
    expect(Object.keys(view().buckets)).toEqual(
      expect.arrayContaining([
        'driftline-datasets-dev',
        'driftline-state-dev',
        'driftline-failed-batches-dev',
        'driftline-dashboard-dev',
      ]),
    );
  });

  it("creates the S3 and DynamoDB gateway endpoints on the cluster's route table, Lambda and STS in its subnets", () => {
    const byService = Object.fromEntries(view().endpoints.map((found) => [found.service, found]));
    for (const service of ['s3', 'dynamodb'])
      expect(byService[`com.amazonaws.eu-west-1.${service}`]).toMatchObject({
        type: 'Gateway',
        vpcId: network.vpcId,
        routeTableIds: [network.routeTableId],
      });
    for (const service of ['lambda', 'sts'])
      expect(byService[`com.amazonaws.eu-west-1.${service}`]).toMatchObject({
        type: 'Interface',
        vpcId: network.vpcId,
        subnetIds: network.subnetIds,
      });
  });

  it('publishes the dashboard with config.json naming the API; hashed assets immutable, the rest no-cache', () => {
    const objects = view().buckets['driftline-dashboard-dev'] ?? {};
    expect(objects['index.html']).toEqual({
      contentType: 'text/html; charset=utf-8',
      cacheControl: 'no-cache',
    });
    expect(objects['config.json']).toEqual({ contentType: 'application/json', cacheControl: 'no-cache' });
    const assets = Object.entries(objects).filter(([key]) => key.startsWith('assets/'));
    expect(assets.length).toBeGreaterThan(0);
    for (const [, object] of assets) expect(object.cacheControl).toBe('public, max-age=31536000, immutable');
    expect(view().dashboardConfig).toEqual({ apiBaseUrl: API_URL });
  });

  it('creates no event source mapping in this variant (moto cannot create an MSK one)', () => {
    expect(view().eventSourceMappings).toEqual([]);
  });

  it('serverless remove empties the stack buckets and deletes everything the stack created', async () => {
    await serverless('remove');
    const after: AccountView = await account('inspect');
    expect(Object.keys(after.functions)).toEqual([]);
    expect(Object.keys(after.tables)).toEqual([]);
    expect(Object.keys(after.buckets)).toEqual(['driftline-datasets-dev']);
    expect(Object.values(after.roles).map((role) => role.name)).toEqual([]);
    expect(after.stacks['driftline-dev']).toBe('DELETE_COMPLETE');
    // (moto 5.2.5 has no delete handler for AWS::EC2::VPCEndpoint, so the endpoints outlive the
    // stack there; CloudFormation deletes them with it.)
  }, 120_000);
});
