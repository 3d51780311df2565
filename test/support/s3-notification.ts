/**
 * S3's ObjectCreated notification of one object, as the stack's relay writes it into its topic
 * (keyed `bucket/key`, see localstack/s3-notification-relay.ts). S3 delivers at least once, in no
 * promised order: tests send copies of it to show that an object is still replayed once.
 */
import { encodeNotificationKey } from '../../localstack/s3-notifications.ts';
import type { Producer } from '../../shared/adapters/kafka.ts';

export interface RelayedNotification {
  readonly key: string;
  readonly value: string;
}

export function objectCreatedNotification(bucket: string, key: string, etag: string): RelayedNotification {
  const record = {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: new Date().toISOString(),
    eventName: 'ObjectCreated:Put',
    s3: {
      s3SchemaVersion: '1.0',
      bucket: { name: bucket },
      object: { key: encodeNotificationKey(key), eTag: etag },
    },
  };
  return { key: `${bucket}/${key}`, value: JSON.stringify({ Records: [record] }) };
}

/** Sends the notifications on a producer of its own (connected for this send only). */
export async function sendNotifications(
  producer: Producer,
  topic: string,
  notifications: readonly RelayedNotification[],
): Promise<void> {
  await producer.connect();
  try {
    await producer.send({ topic, messages: [...notifications] });
  } finally {
    await producer.disconnect();
  }
}
