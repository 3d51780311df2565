import { describe, expect, it } from 'vitest';
import { parseServiceDefinition } from '../../../localstack/service-definition.ts';

/** `serverless print` output, cut to what the local stack reads, with both triggers on aggregate. */
function printed(transport: string, streamLogicalId = 'RawStream') {
  return {
    service: 'driftline',
    provider: { environment: { DRIFTLINE_TRANSPORT: transport } },
    custom: {
      datasetBucket: 'datasets',
      stateBucket: 'state',
      stateTable: 'table',
      topics: [{ name: 'data_raw', partitions: 10 }],
    },
    functions: {
      aggregate: {
        handler: 'functions/aggregate.handler',
        name: 'driftline-local-aggregate',
        events: [
          { msk: { arn: { Ref: 'MskClusterArn' }, topic: 'data_raw', batchSize: 10_000 } },
          {
            stream: {
              type: 'kinesis',
              arn: { 'Fn::GetAtt': [streamLogicalId, 'Arn'] },
              batchSize: '1000',
              batchWindow: 1,
              bisectBatchOnFunctionError: true,
              maximumRetryAttempts: 10,
            },
          },
        ],
      },
    },
    resources: {
      Resources: {
        RawStream: { Type: 'AWS::Kinesis::Stream', Properties: { Name: 'data_raw', ShardCount: 10 } },
      },
    },
  };
}

describe('the service definition of a stage', () => {
  it('gives aggregate its Kinesis trigger, the stream resolved by name, on a kinesis stage (and no MSK trigger)', () => {
    const [aggregate] = parseServiceDefinition(printed('kinesis'), 'local-kinesis').functions;
    expect(aggregate?.mskTriggers).toEqual([]);
    expect(aggregate?.kinesisTriggers).toEqual([
      {
        stream: 'data_raw',
        batchSize: 1000,
        batchWindow: 1,
        startingPosition: 'TRIM_HORIZON',
        bisectBatchOnFunctionError: true,
        maximumRetryAttempts: 10,
        enabled: true,
      },
    ]);
  });

  it('gives it the MSK trigger alone on a kafka stage', () => {
    const [aggregate] = parseServiceDefinition(printed('kafka'), 'local').functions;
    expect(aggregate?.kinesisTriggers).toEqual([]);
    expect(aggregate?.mskTriggers).toEqual([
      expect.objectContaining({ topic: 'data_raw', batchSize: 10_000 }),
    ]);
  });

  it('refuses a stream event that names no Kinesis stream of the template', () => {
    expect(() => parseServiceDefinition(printed('kinesis', 'NoSuchStream'), 'local-kinesis')).toThrow(
      /NoSuchStream/,
    );
  });
});
