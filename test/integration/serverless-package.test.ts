import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../localstack/service-definition.ts';

const execFileAsync = promisify(execFile);

type Resource = { Type: string; Properties: Record<string, unknown> };

describe('serverless package (offline, no AWS credentials)', () => {
  let outDir = '';
  let resources: Record<string, Resource> = {};
  const ofType = (type: string) => Object.values(resources).filter((resource) => resource.Type === type);

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'driftline-package-'));
    const env: Record<string, string | undefined> = { ...process.env, SLS_TELEMETRY_DISABLED: '1' };
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
      delete env[name];
    await execFileAsync(
      join(PROJECT_ROOT, 'node_modules', '.bin', 'serverless'),
      ['package', '--stage', 'ci', '--region', 'eu-west-1', '--package', outDir],
      { cwd: PROJECT_ROOT, env, maxBuffer: 16 * 1024 * 1024 },
    );
    const template = JSON.parse(
      await readFile(join(outDir, 'cloudformation-template-update-stack.json'), 'utf8'),
    );
    resources = template.Resources;
  });
  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('triggers aggregate from the data_raw topic with the documented batch settings', () => {
    const [mapping] = ofType('AWS::Lambda::EventSourceMapping');
    expect(mapping?.Properties).toMatchObject({
      Topics: ['data_raw'],
      BatchSize: 10000,
      StartingPosition: 'TRIM_HORIZON',
    });
    // Unset on purpose: AWS then batches for up to 500 ms, which the local trigger reproduces.
    expect(mapping?.Properties).not.toHaveProperty('MaximumBatchingWindowInSeconds');
    expect(JSON.stringify(mapping?.Properties.FunctionName)).toContain('AggregateLambdaFunction');
  });

  it('triggers replay on ObjectCreated in the existing dataset bucket', () => {
    const [trigger] = ofType('Custom::S3');
    expect(trigger?.Properties).toMatchObject({
      BucketName: 'driftline-datasets-ci',
      BucketConfigs: [{ Event: 's3:ObjectCreated:*', Rules: [] }],
    });
    expect(JSON.stringify(trigger?.Properties.FunctionName)).toContain('replay');
    expect(ofType('AWS::S3::Bucket').map((bucket) => bucket.Properties.BucketName)).not.toContain(
      'driftline-datasets-ci',
    );
  });

  it('routes GET /api/v1/* to the api function through an HTTP API', () => {
    const routes = ofType('AWS::ApiGatewayV2::Route').map((route) => route.Properties.RouteKey);
    expect(routes).toEqual(['GET /api/v1/{proxy+}']);
  });

  it('creates the state table keyed by pk/sk, on demand, with a TTL attribute', () => {
    const [table] = ofType('AWS::DynamoDB::Table');
    expect(table?.Properties).toMatchObject({
      TableName: 'driftline-state-ci',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('creates a private state bucket whose TTL-bound blobs expire, and lets the functions use it', () => {
    // The framework adds its own deployment bucket (no BucketName); ours is named.
    const buckets = ofType('AWS::S3::Bucket').filter((bucket) => bucket.Properties?.BucketName !== undefined);
    expect(buckets).toHaveLength(1);
    expect(buckets[0]?.Properties).toMatchObject({
      BucketName: 'driftline-state-ci',
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: [{ Prefix: 'expiring/', Status: 'Enabled', ExpirationInDays: 2 }] },
    });
    const policies = JSON.stringify(ofType('AWS::IAM::Role').map((role) => role.Properties.Policies));
    for (const action of ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'])
      expect(policies).toContain(action);
    expect(policies).toContain('"StateBucket","Arn"');
  });

  it('runs every function on a supported Node.js runtime with its configuration in the environment', () => {
    // The framework adds a helper function for `existing: true` S3 triggers; ours are under functions/.
    const functions = ofType('AWS::Lambda::Function').filter((fn) =>
      String(fn.Properties.Handler).startsWith('functions/'),
    );
    expect(functions.map((fn) => fn.Properties.FunctionName).sort()).toEqual([
      'driftline-ci-aggregate',
      'driftline-ci-api',
      'driftline-ci-replay',
    ]);
    for (const fn of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      expect(fn.Properties.Environment).toMatchObject({
        Variables: {
          DRIFTLINE_STATE_TABLE: 'driftline-state-ci',
          DRIFTLINE_STATE_BUCKET: 'driftline-state-ci',
          DRIFTLINE_RAW_TOPIC: 'data_raw',
        },
      });
    }
  });
});
