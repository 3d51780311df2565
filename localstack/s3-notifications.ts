/**
 * S3 notifications on the local stack. s3rver emits its events in-process and not quite in AWS's
 * shape (keys not URL-encoded, a malformed bucket ARN). The stack normalises each one to the shape
 * AWS delivers to Lambda and relays it into a Kafka topic, so that the pipeline runtime, in another
 * process, receives every notification at least once, in order, even if it starts later — which is
 * S3's own delivery contract.
 */
import { z } from 'zod';

/** Local-only plumbing topic: not part of serverless.yml, never created on AWS. */
export const S3_NOTIFICATION_TOPIC = 'driftline.local.s3-notifications';

const s3rverRecord = z.object({
  eventTime: z.string(),
  eventName: z.string(),
  s3: z.object({
    bucket: z.object({ name: z.string() }),
    object: z.object({
      key: z.string(),
      size: z.number().optional(),
      eTag: z.string().optional(),
      sequencer: z.string().optional(),
    }),
  }),
});
const s3rverEvent = z.object({ Records: z.array(s3rverRecord) });

/** AWS encodes keys in notifications as form-urlencoded text (space → `+`), keeping `/`. */
export function encodeNotificationKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

export interface S3NotificationRecord {
  readonly eventVersion: '2.1';
  readonly eventSource: 'aws:s3';
  readonly awsRegion: string;
  readonly eventTime: string;
  readonly eventName: string;
  readonly s3: {
    readonly s3SchemaVersion: '1.0';
    readonly configurationId: string;
    readonly bucket: { readonly name: string; readonly arn: string };
    readonly object: {
      readonly key: string;
      readonly size?: number;
      readonly eTag?: string;
      readonly sequencer?: string;
    };
  };
}

/** s3rver's event → the records AWS would deliver (one per object). */
export function normaliseS3rverEvent(raw: unknown, region: string): S3NotificationRecord[] {
  const event = s3rverEvent.parse(raw);
  return event.Records.map((record) => ({
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: region,
    eventTime: record.eventTime,
    eventName: record.eventName,
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'driftline-local',
      bucket: { name: record.s3.bucket.name, arn: `arn:aws:s3:::${record.s3.bucket.name}` },
      object: {
        key: encodeNotificationKey(record.s3.object.key),
        ...(record.s3.object.size === undefined ? {} : { size: record.s3.object.size }),
        ...(record.s3.object.eTag === undefined ? {} : { eTag: record.s3.object.eTag }),
        ...(record.s3.object.sequencer === undefined ? {} : { sequencer: record.s3.object.sequencer }),
      },
    },
  }));
}
