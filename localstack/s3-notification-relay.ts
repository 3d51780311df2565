/**
 * Relays the S3 emulator's object notifications into the S3 notification topic, one Kafka message
 * per record, so the replay function is triggered as it is by S3 on AWS.
 */
import type { Kafka } from '../shared/adapters/kafka.ts';
import type { RunningEmulators } from './emulators.ts';
import { normaliseS3rverEvent, S3_NOTIFICATION_TOPIC } from './s3-notifications.ts';

export interface RunningS3NotificationRelay {
  stop(): Promise<void>;
}

export async function startS3NotificationRelay(options: {
  readonly kafka: Kafka;
  readonly emulators: RunningEmulators;
  readonly region: string;
  readonly log: (line: string) => void;
}): Promise<RunningS3NotificationRelay> {
  const { log } = options;
  const relay = options.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await relay.connect();
  options.emulators.onS3Event((raw) => {
    let records: ReturnType<typeof normaliseS3rverEvent>;
    try {
      records = normaliseS3rverEvent(raw, options.region);
    } catch (error) {
      log(`ignored an S3 event that could not be read: ${String(error)}`);
      return;
    }
    relay
      .send({
        topic: S3_NOTIFICATION_TOPIC,
        acks: -1,
        messages: records.map((record) => ({
          key: `${record.s3.bucket.name}/${record.s3.object.key}`,
          value: JSON.stringify({ Records: [record] }),
        })),
      })
      .catch((error) => log(`error: could not relay an S3 notification: ${String(error)}`));
  });
  return { stop: () => relay.disconnect() };
}
