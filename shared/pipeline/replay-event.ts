/**
 * What can trigger replay: an S3 notification (one or more ObjectCreated records) or replay's own
 * continuation (`{ continueReplay: { bucket, key } }`) sent near the Lambda deadline.
 */
import { z } from 'zod';
import type { ReplayRequest } from './replay.ts';

const s3Notification = z.object({
  Records: z.array(
    z.object({
      eventSource: z.literal('aws:s3'),
      eventName: z.string(),
      s3: z.object({ bucket: z.object({ name: z.string() }), object: z.object({ key: z.string() }) }),
    }),
  ),
});
const continuation = z.object({ continueReplay: z.object({ bucket: z.string(), key: z.string() }) });

/** Keys in S3 notifications arrive URL-encoded, with `+` for spaces. */
export function decodeNotificationKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

export function decodeReplayEvent(event: unknown): ReplayRequest[] {
  const resumed = continuation.safeParse(event);
  if (resumed.success) return [resumed.data.continueReplay];
  const notification = s3Notification.parse(event);
  return notification.Records.filter((record) => record.eventName.startsWith('ObjectCreated:')).map(
    (record) => ({
      bucket: record.s3.bucket.name,
      key: decodeNotificationKey(record.s3.object.key),
    }),
  );
}

/** The object a continuation event asks to go on with; undefined for any other event. */
export function continuedObject(event: unknown): ReplayRequest | undefined {
  const parsed = continuation.safeParse(event);
  return parsed.success ? parsed.data.continueReplay : undefined;
}

export function continuationEvent(request: ReplayRequest): { continueReplay: ReplayRequest } {
  return { continueReplay: { bucket: request.bucket, key: request.key } };
}
