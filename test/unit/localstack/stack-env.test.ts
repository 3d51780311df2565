import { describe, expect, it } from 'vitest';
import { stackEnvLines } from '../../../localstack/commands/stack.ts';
import type { StackInfo } from '../../../localstack/stack-files.ts';

const info: StackInfo = {
  pid: 4242,
  dataDir: '/home/me/driftline/.driftline',
  stage: 'local',
  startedAt: '2026-12-01T07:00:00.000Z',
  startupMs: 9000,
  embeddedKafka: true,
  endpoints: {
    kafkaBrokers: ['127.0.0.1:7800'],
    s3: 'http://127.0.0.1:7802',
    dynamodb: 'http://127.0.0.1:7803',
    kinesis: 'http://127.0.0.1:7804',
  },
  ports: { kafka: 7800, kafkaController: 7801, s3: 7802, dynamodb: 7803, kinesis: 7804, api: 7805 },
  datasetBucket: 'driftline-datasets-local',
  stateBucket: 'driftline-state-local',
  stateTable: 'driftline-state-local',
  topics: [{ name: 'data_raw', partitions: 10 }],
  s3NotificationTopic: 'driftline.local.s3-notifications',
};

describe('driftline stack env', () => {
  it('exports what the AWS CLI, boto3 and the SDKs read, beside the functions’ own variables', () => {
    const exported = new Map(
      stackEnvLines(info).flatMap((line) => {
        const match = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
        return match?.[1] && match[2] !== undefined ? [[match[1], match[2]] as const] : [];
      }),
    );
    expect(Object.fromEntries(exported)).toMatchObject({
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:7802',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:7803',
      AWS_ENDPOINT_URL_KINESIS: 'http://127.0.0.1:7804',
      // s3rver accepts only these; the other emulators accept any.
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required',
      DRIFTLINE_S3_ENDPOINT: 'http://127.0.0.1:7802',
      DRIFTLINE_DATASET_BUCKET: 'driftline-datasets-local',
    });
    // Every other line is a comment: the output can be given to `eval` as it is.
    expect(stackEnvLines(info).every((line) => /^(export [A-Z0-9_]+=\S+|# .*)$/.test(line))).toBe(true);
  });
});
