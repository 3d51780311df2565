import { describe, expect, it } from 'vitest';
import { encodeNotificationKey, normaliseS3rverEvent } from '../../../localstack/s3-notifications.ts';

describe('S3 notifications on the local stack', () => {
  it('encodes keys as AWS does in notifications: spaces as +, slashes kept, the rest percent-encoded', () => {
    expect(encodeNotificationKey('dt/run 1/data=a+b.csv')).toBe('dt/run+1/data%3Da%2Bb.csv');
    // The handler's decoding (+ → space, then percent-decoding) must give the key back.
    const encoded = encodeNotificationKey('sf/calls 2018 (all) ünï.json');
    expect(decodeURIComponent(encoded.replaceAll('+', ' '))).toBe('sf/calls 2018 (all) ünï.json');
  });

  it('rewrites an s3rver event into the shape AWS delivers to Lambda', () => {
    const s3rverEvent = {
      Records: [
        {
          eventVersion: '2.0',
          eventSource: 'aws:s3',
          awsRegion: 'us-east-1',
          eventTime: '2026-11-21T10:00:00.000Z',
          eventName: 'ObjectCreated:Put',
          s3: {
            bucket: { name: 'datasets', arn: 'arn:aws:s3: : :datasets' },
            object: { key: 'dt/a b.csv', size: 12, eTag: 'abc', sequencer: '18F' },
          },
        },
      ],
    };
    expect(normaliseS3rverEvent(s3rverEvent, 'eu-west-1')).toEqual([
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'eu-west-1',
        eventTime: '2026-11-21T10:00:00.000Z',
        eventName: 'ObjectCreated:Put',
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'driftline-local',
          bucket: { name: 'datasets', arn: 'arn:aws:s3:::datasets' },
          object: { key: 'dt/a+b.csv', size: 12, eTag: 'abc', sequencer: '18F' },
        },
      },
    ]);
  });

  it('rejects something that is not an S3 event', () => {
    expect(() => normaliseS3rverEvent({ hello: 'world' }, 'us-east-1')).toThrow();
  });
});
