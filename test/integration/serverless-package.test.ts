// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${…} are CloudFormation Fn::Sub placeholders.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../localstack/service-definition.ts';
import {
  packageStage,
  type Resource,
  readTemplate,
  SERVERLESS_BIN,
  serverlessEnvironment,
  TEST_AWS_PARAMS,
  type Template,
} from '../support/deploy-tools.ts';

const execFileAsync = promisify(execFile);

type Statement = { Sid?: string; Action: string | string[]; Resource: unknown };

describe('serverless package --stage dev (offline, no AWS credentials)', () => {
  let outDir = '';
  let template: Template = { Parameters: {}, Conditions: {}, Resources: {}, Outputs: {} };
  const resources = () => template.Resources;
  const ofType = (type: string) => Object.values(resources()).filter((resource) => resource.Type === type);
  const resource = (logicalId: string): Resource => {
    const found = resources()[logicalId];
    if (!found) throw new Error(`no ${logicalId} in the template`);
    return found;
  };
  const ourFunctions = () =>
    Object.fromEntries(
      ofType('AWS::Lambda::Function')
        .filter((fn) => String(fn.Properties.Handler).startsWith('functions/'))
        .map((fn) => [String(fn.Properties.FunctionName).replace('driftline-dev-', ''), fn]),
    );
  const statementsOf = (role: string): Statement[] => {
    const policies = resource(role).Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[];
    return policies.flatMap((policy) => policy.PolicyDocument.Statement);
  };
  const actionsOf = (role: string) =>
    statementsOf(role).flatMap((statement) =>
      Array.isArray(statement.Action) ? statement.Action : [statement.Action],
    );

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'driftline-package-'));
    template = await readTemplate(await packageStage('dev', TEST_AWS_PARAMS, outDir));
  });
  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('refuses to package an AWS stage without its cluster and VPC params, naming each', async () => {
    const failed = await execFileAsync(
      SERVERLESS_BIN,
      ['package', '--stage', 'dev', '--region', 'eu-west-1', '--package', join(outDir, 'unused')],
      { cwd: PROJECT_ROOT, env: serverlessEnvironment() },
    ).then(
      () => '',
      (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
    );
    for (const name of ['MskClusterArn', 'VpcId', 'VpcSubnetIds', 'VpcSecurityGroupIds', 'VpcRouteTableIds'])
      expect(failed).toContain(`resources.Parameters.${name}.Default": Value not found at "param" source`);
    expect(failed).toContain('DRIFTLINE_KAFKA_BROKERS": Value not found at "param" source');
  });

  it('triggers aggregate from data_raw with the documented batch settings, its own consumer group and failure handling', () => {
    const mapping = resource('AggregateEventSourceMappingMSKMskClusterArnDataraw');
    expect(mapping?.Properties).toMatchObject({
      EventSourceArn: { Ref: 'MskClusterArn' },
      Topics: ['data_raw'],
      BatchSize: 10000,
      StartingPosition: 'TRIM_HORIZON',
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'driftline-dev-aggregate' },
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['FailedBatchesBucket', 'Arn'] } } },
      // Provisioned mode only (dev is on-demand: AggregateMinPollers 0): pollers, retry limit, bisect.
      ProvisionedPollerConfig: {
        'Fn::If': ['ProvisionedPollers', expect.anything(), { Ref: 'AWS::NoValue' }],
      },
      MaximumRetryAttempts: {
        'Fn::If': ['ProvisionedPollers', { Ref: 'AggregateMaxRetries' }, expect.anything()],
      },
      BisectBatchOnFunctionError: { 'Fn::If': ['ProvisionedPollers', true, expect.anything()] },
    });
    // Unset on purpose: AWS then batches for up to 500 ms, which the local trigger reproduces.
    expect(mapping?.Properties).not.toHaveProperty('MaximumBatchingWindowInSeconds');
    // Whole-event retries, not partial batch responses (serverless.yml says why).
    expect(mapping?.Properties).not.toHaveProperty('FunctionResponseTypes');
    expect(mapping?.Condition).toBe('HasMskTrigger');
    // The Kinesis mapping is in every stage's template, created only where the transport is kinesis.
    expect(resource('AggregateEventSourceMappingKinesisRawStream').Condition).toBe('UsesKinesis');
    expect(template.Parameters.Transport?.Default).toBe('kafka');
    expect(template.Parameters.AggregateMinPollers?.Default).toBe(0);
    expect(JSON.stringify(mapping?.Properties.FunctionName)).toContain('AggregateLambdaFunction');
  });

  it('triggers replay on ObjectCreated in the existing dataset bucket', () => {
    const [trigger] = ofType('Custom::S3');
    expect(trigger?.Properties).toMatchObject({
      BucketName: 'driftline-datasets-dev',
      BucketConfigs: [{ Event: 's3:ObjectCreated:*', Rules: [] }],
    });
    expect(JSON.stringify(trigger?.Properties.FunctionName)).toContain('replay');
    expect(ofType('AWS::S3::Bucket').map((bucket) => bucket.Properties.BucketName)).not.toContain(
      'driftline-datasets-dev',
    );
  });

  it('routes GET /api/v1/* to api through an HTTP API with CORS for the dashboard origin, ETag exposed', () => {
    const routes = ofType('AWS::ApiGatewayV2::Route').map((route) => route.Properties.RouteKey);
    expect(routes).toEqual(['GET /api/v1/{proxy+}']);
    const origin = {
      'Fn::If': [
        'HasDashboardCdn',
        { 'Fn::Sub': 'https://${DashboardDistribution.DomainName}' },
        'https://no-dashboard-cdn.invalid',
      ],
    };
    expect(resource('HttpApi').Properties.CorsConfiguration).toEqual({
      AllowOrigins: { 'Fn::Split': [',', origin] },
      AllowMethods: ['GET'],
      AllowHeaders: ['If-None-Match'],
      ExposeHeaders: ['ETag'],
      MaxAge: 600,
    });
    // The same one value is the function's own allow-list.
    expect(ourFunctions().api?.Properties.Environment).toMatchObject({
      Variables: { DRIFTLINE_CORS_ALLOW_ORIGINS: origin },
    });
  });

  it('creates the state table keyed by pk/sk, on demand, with a TTL attribute', () => {
    const [table] = ofType('AWS::DynamoDB::Table');
    expect(table?.Properties).toMatchObject({
      TableName: 'driftline-state-dev',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('creates private state, failed-batch and dashboard buckets; CloudFront alone reads the dashboard', () => {
    // The framework adds its own deployment bucket (no BucketName); ours are named.
    const buckets = ofType('AWS::S3::Bucket').filter((bucket) => bucket.Properties?.BucketName !== undefined);
    expect(buckets.map((bucket) => bucket.Properties.BucketName).sort()).toEqual([
      'driftline-dashboard-dev',
      'driftline-failed-batches-dev',
      'driftline-state-dev',
    ]);
    for (const bucket of buckets)
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
    expect(resource('StateBucket').Properties).toMatchObject({
      LifecycleConfiguration: { Rules: [{ Prefix: 'expiring/', Status: 'Enabled', ExpirationInDays: 2 }] },
    });
    const policy = JSON.stringify(resource('DashboardBucketPolicy').Properties);
    expect(policy).toContain('cloudfront.amazonaws.com');
    expect(policy).toContain('AWS:SourceArn');
    const distribution = resource('DashboardDistribution').Properties.DistributionConfig;
    expect(distribution).toMatchObject({
      DefaultRootObject: 'index.html',
      Origins: [{ OriginAccessControlId: { 'Fn::GetAtt': ['DashboardOriginAccessControl', 'Id'] } }],
      DefaultCacheBehavior: { ViewerProtocolPolicy: 'redirect-to-https' },
    });
  });

  it('runs replay and aggregate in the cluster VPC, api outside it, with S3/DynamoDB gateway endpoints', () => {
    const functions = ourFunctions();
    const inVpc = {
      SubnetIds: { 'Fn::Split': [',', { 'Fn::Join': [',', { Ref: 'VpcSubnetIds' }] }] },
      SecurityGroupIds: { 'Fn::Split': [',', { 'Fn::Join': [',', { Ref: 'VpcSecurityGroupIds' }] }] },
    };
    expect(functions.replay?.Properties.VpcConfig).toEqual(inVpc);
    expect(functions.aggregate?.Properties.VpcConfig).toEqual(inVpc);
    expect(functions.api?.Properties).not.toHaveProperty('VpcConfig');
    expect(template.Parameters.VpcSubnetIds).toMatchObject({
      Type: 'List<AWS::EC2::Subnet::Id>',
      Default: TEST_AWS_PARAMS.vpcSubnetIds,
    });
    const endpoints = ofType('AWS::EC2::VPCEndpoint').map((endpoint) => ({
      service: JSON.stringify(endpoint.Properties.ServiceName),
      type: endpoint.Properties.VpcEndpointType,
    }));
    expect(endpoints).toEqual([
      { service: JSON.stringify({ 'Fn::Sub': 'com.amazonaws.${AWS::Region}.s3' }), type: 'Gateway' },
      { service: JSON.stringify({ 'Fn::Sub': 'com.amazonaws.${AWS::Region}.dynamodb' }), type: 'Gateway' },
      { service: JSON.stringify({ 'Fn::Sub': 'com.amazonaws.${AWS::Region}.lambda' }), type: 'Interface' },
      { service: JSON.stringify({ 'Fn::Sub': 'com.amazonaws.${AWS::Region}.sts' }), type: 'Interface' },
    ]);
  });

  it('gives each function its own role, scoped to what it touches', () => {
    const functions = ourFunctions();
    expect(functions.replay?.Properties.Role).toEqual({ 'Fn::Sub': '${ReplayRole.Arn}' });
    expect(functions.aggregate?.Properties.Role).toEqual({ 'Fn::Sub': '${AggregateRole.Arn}' });
    expect(functions.api?.Properties.Role).toEqual({ 'Fn::Sub': '${ApiRole.Arn}' });
    expect(resources()).not.toHaveProperty('IamRoleLambdaExecution');

    // The public API reads; it never writes state, produces to Kafka or invokes anything.
    const api = actionsOf('ApiRole');
    expect(api.sort()).toEqual(
      ['dynamodb:GetItem', 'dynamodb:Query', 'logs:CreateLogStream', 'logs:PutLogEvents']
        .concat(['s3:GetObject', 's3:GetObject', 's3:ListBucket'])
        .sort(),
    );
    // Nobody is granted what nobody calls.
    for (const role of ['ReplayRole', 'AggregateRole', 'ApiRole'])
      for (const unused of ['dynamodb:UpdateItem', 'dynamodb:BatchGetItem'])
        expect(actionsOf(role)).not.toContain(unused);
    // The idempotent producers, and only they, may write idempotently; only the trigger's group is altered.
    expect(actionsOf('ReplayRole')).toContain('kafka-cluster:WriteDataIdempotently');
    expect(actionsOf('AggregateRole')).toContain('kafka-cluster:WriteDataIdempotently');
    expect(actionsOf('ReplayRole')).not.toContain('kafka-cluster:AlterGroup');
    expect(actionsOf('AggregateRole')).not.toContain('lambda:InvokeFunction');
    // Topics and the group are this cluster's: arn:…:cluster/NAME/UUID → arn:…:topic/NAME/UUID/data_raw.
    const produce = statementsOf('ReplayRole').find((statement) => statement.Sid === 'KafkaProduceRaw');
    expect(produce?.Resource).toEqual({
      'Fn::Join': [
        '/',
        [{ 'Fn::Join': [':topic/', { 'Fn::Split': [':cluster/', { Ref: 'MskClusterArn' }] }] }, 'data_raw'],
      ],
    });
    const group = statementsOf('AggregateRole').find((statement) => statement.Sid === 'TriggerConsumerGroup');
    expect(JSON.stringify(group?.Resource)).toContain('driftline-dev-aggregate');
  });

  it('runs every function on a supported Node.js runtime with its configuration in the environment', () => {
    const functions = ourFunctions();
    expect(Object.keys(functions).sort()).toEqual(['aggregate', 'api', 'replay']);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      expect(fn.Properties.Environment).toMatchObject({
        Variables: {
          DRIFTLINE_STATE_TABLE: 'driftline-state-dev',
          DRIFTLINE_STATE_BUCKET: 'driftline-state-dev',
          DRIFTLINE_RAW_TOPIC: 'data_raw',
          DRIFTLINE_KAFKA_BROKERS: TEST_AWS_PARAMS.mskBootstrapServers,
          DRIFTLINE_KAFKA_AUTH: 'iam',
        },
      });
    }
  });
});

describe('serverless package --stage localstack (offline): the Kinesis transport', () => {
  let outDir = '';
  let template: Template = { Parameters: {}, Conditions: {}, Resources: {}, Outputs: {} };
  const resource = (logicalId: string): Resource => {
    const found = template.Resources[logicalId];
    if (!found) throw new Error(`no ${logicalId} in the template`);
    return found;
  };
  const statementsOf = (role: string): Statement[] => {
    const policies = resource(role).Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[];
    return policies.flatMap((policy) => policy.PolicyDocument.Statement);
  };

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'driftline-package-localstack-'));
    template = await readTemplate(await packageStage('localstack', {}, outDir));
  });
  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('creates the three streams, one shard per data_raw partition, only where the transport is kinesis', () => {
    expect(template.Parameters.Transport?.Default).toBe('kinesis');
    expect(template.Conditions.UsesKinesis).toEqual({ 'Fn::Equals': [{ Ref: 'Transport' }, 'kinesis'] });
    expect(resource('RawStream')).toMatchObject({
      Type: 'AWS::Kinesis::Stream',
      Condition: 'UsesKinesis',
      Properties: { Name: 'data_raw', ShardCount: 10 },
    });
    expect(resource('CleanStream').Properties).toMatchObject({ Name: 'data_clean', ShardCount: 1 });
    expect(resource('DeadStream').Properties).toMatchObject({ Name: 'data_dead', ShardCount: 1 });
    expect(resource('FailedBatchesQueue')).toMatchObject({
      Type: 'AWS::SQS::Queue',
      Condition: 'UsesKinesis',
    });
  });

  it('triggers aggregate from the raw stream with the batch, retry, bisect and failure settings; the MSK trigger is off', () => {
    expect(resource('AggregateEventSourceMappingKinesisRawStream')).toMatchObject({
      Condition: 'UsesKinesis',
      Properties: {
        EventSourceArn: { 'Fn::GetAtt': ['RawStream', 'Arn'] },
        BatchSize: 1000,
        MaximumBatchingWindowInSeconds: 1,
        StartingPosition: 'TRIM_HORIZON',
        ParallelizationFactor: 1,
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 10,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['FailedBatchesQueue', 'Arn'] } } },
      },
    });
    expect(resource('AggregateEventSourceMappingMSKMskClusterArnDataraw').Condition).toBe('HasMskTrigger');
    expect(template.Parameters.MskTrigger?.Default).toBe('false');
  });

  it('exposes api through a REST API (v1), which LocalStack’s free tier serves: GET and the CORS preflight on /api/v1/{proxy+}, no HTTP API', () => {
    const ofType = (type: string) =>
      Object.entries(template.Resources).filter(([, found]) => found.Type === type);
    expect(ofType('AWS::ApiGateway::RestApi')).toHaveLength(1);
    // /api, /api/v1, /api/v1/{proxy+}: each a resource under its parent, the first under the root.
    const paths = ofType('AWS::ApiGateway::Resource').map(([, found]) => found.Properties.PathPart);
    expect(paths.sort()).toEqual(['api', 'v1', '{proxy+}']);
    const methods = ofType('AWS::ApiGateway::Method').map(([, found]) => found.Properties);
    expect(methods.map((method) => method.HttpMethod).sort()).toEqual(['GET', 'OPTIONS']);
    for (const method of methods) {
      expect(method).toMatchObject({
        ResourceId: { Ref: 'ApiGatewayResourceApiV1ProxyVar' },
        AuthorizationType: 'NONE',
        Integration: { Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' },
      });
      expect(JSON.stringify(method.Integration)).toContain('ApiLambdaFunction');
    }
    expect(ofType('AWS::ApiGateway::Deployment')).toHaveLength(1);
    expect(template.Outputs).toHaveProperty('ServiceEndpoint');
    // No HTTP API (v2) on this stage: LocalStack serves those only in its paid tiers.
    expect(
      Object.values(template.Resources).filter((found) => found.Type.startsWith('AWS::ApiGatewayV2::')),
    ).toEqual([]);
    expect(template.Outputs).not.toHaveProperty('HttpApiUrl');
    // The function answers the preflight itself, from the same allow-list.
    expect(resource('ApiLambdaFunction').Properties.Environment).toMatchObject({
      Variables: {
        DRIFTLINE_CORS_ALLOW_ORIGINS:
          'http://driftline-dashboard-localstack.s3.localhost.localstack.cloud:4566',
      },
    });
  });

  it('tells every function its transport and streams, and lets each role reach only its streams', () => {
    const aggregate = resource('AggregateLambdaFunction').Properties.Environment;
    expect(aggregate).toMatchObject({
      Variables: {
        DRIFTLINE_TRANSPORT: 'kinesis',
        DRIFTLINE_RAW_STREAM: 'data_raw',
        DRIFTLINE_CLEAN_STREAM: 'data_clean',
        DRIFTLINE_DEAD_STREAM: 'data_dead',
      },
    });
    const sids = (role: string) => statementsOf(role).map((statement) => statement.Sid);
    expect(sids('ReplayRole')).toContain('KinesisProduceRaw');
    expect(sids('AggregateRole')).toEqual(
      expect.arrayContaining([
        'KinesisTriggerReadsRaw',
        'KinesisProduceSummariesAndRejects',
        'KinesisFailedBatches',
      ]),
    );
    const reads = statementsOf('AggregateRole').find(
      (statement) => statement.Sid === 'KinesisTriggerReadsRaw',
    );
    expect(JSON.stringify(reads?.Resource)).toContain(':stream/data_raw');
    expect(sids('ApiRole').some((sid) => sid?.startsWith('Kinesis'))).toBe(false);
  });
});
