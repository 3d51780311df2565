import { describe, expect, it } from 'vitest';
import { matchesS3Trigger, s3Invocations, s3NotificationSchema } from '../../../localstack/s3-trigger.ts';
import type { S3Trigger } from '../../../localstack/service-definition.ts';
import { decodeNotificationKey } from '../../../shared/pipeline/replay-event.ts';

function s3Trigger(fields: Partial<S3Trigger> = {}): S3Trigger {
  return { bucket: 'datasets', event: 's3:ObjectCreated:*', existing: true, rules: [], ...fields };
}

/** A record as AWS delivers it (and the stack relays it): the key URL-encoded, `+` for spaces. */
function notificationRecord(bucket: string, key: string, eventName = 'ObjectCreated:Put') {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: '2026-11-21T10:00:00.000Z',
    eventName,
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'driftline-local',
      bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
      object: { key, size: 12, eTag: 'abc', sequencer: '18F' },
    },
  };
}

describe('matchesS3Trigger', () => {
  it('matches every event under a wildcard, and only that family', () => {
    const trigger = s3Trigger({ event: 's3:ObjectCreated:*' });
    expect(matchesS3Trigger(trigger, 'datasets', 'ObjectCreated:Put', 'a.csv')).toBe(true);
    expect(matchesS3Trigger(trigger, 'datasets', 'ObjectCreated:CompleteMultipartUpload', 'a.csv')).toBe(
      true,
    );
    expect(matchesS3Trigger(trigger, 'datasets', 'ObjectRemoved:Delete', 'a.csv')).toBe(false);
  });

  it('matches a named event exactly', () => {
    const trigger = s3Trigger({ event: 's3:ObjectCreated:Put' });
    expect(matchesS3Trigger(trigger, 'datasets', 'ObjectCreated:Put', 'a.csv')).toBe(true);
    expect(matchesS3Trigger(trigger, 'datasets', 'ObjectCreated:Copy', 'a.csv')).toBe(false);
  });

  it('needs every prefix and suffix rule to hold', () => {
    const trigger = s3Trigger({ rules: [{ prefix: 'dt/' }, { suffix: '.csv' }] });
    expect(matchesS3Trigger(trigger, 'datasets', 'ObjectCreated:Put', 'dt/run 1.csv')).toBe(true);
    expect(matchesS3Trigger(trigger, 'datasets', 'ObjectCreated:Put', 'sf/run 1.csv')).toBe(false);
    expect(matchesS3Trigger(trigger, 'datasets', 'ObjectCreated:Put', 'dt/run 1.json')).toBe(false);
  });

  it('matches any key without rules', () => {
    expect(matchesS3Trigger(s3Trigger(), 'datasets', 'ObjectCreated:Put', 'anything/at all')).toBe(true);
  });

  it('ignores another bucket', () => {
    expect(matchesS3Trigger(s3Trigger(), 'state', 'ObjectCreated:Put', 'a.csv')).toBe(false);
  });
});

describe('decodeNotificationKey', () => {
  it('turns + into a space and percent-decodes the rest, %2B into a literal +', () => {
    expect(decodeNotificationKey('dt/run+1/a%20b%2Bc.csv')).toBe('dt/run 1/a b+c.csv');
  });
});

describe('s3Invocations', () => {
  it('invokes once per matching record, matching on the decoded key, forwarding the record as sent', () => {
    const triggers = [s3Trigger({ rules: [{ prefix: 'dt/run 1/' }, { suffix: '.csv' }] })];
    const matching = notificationRecord('datasets', 'dt/run+1/a%20b.csv');
    const notification = s3NotificationSchema.parse({
      Records: [
        matching,
        notificationRecord('datasets', 'dt/run+1/a%20b.json'),
        notificationRecord('state', 'dt/run+1/a%20b.csv'),
      ],
    });

    const invocations = s3Invocations(triggers, notification);

    expect(invocations).toEqual([{ event: { Records: [matching] }, what: 's3://datasets/dt/run 1/a b.csv' }]);
  });

  it('makes no invocation for a record of another event', () => {
    const notification = s3NotificationSchema.parse({
      Records: [notificationRecord('datasets', 'a.csv', 'ObjectRemoved:Delete')],
    });
    expect(s3Invocations([s3Trigger()], notification)).toEqual([]);
  });

  it('refuses a notification without records', () => {
    expect(s3NotificationSchema.safeParse({ hello: 'world' }).success).toBe(false);
  });
});
