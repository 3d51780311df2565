/**
 * S3 → Lambda on the local stack: a consumer of the S3 notifications the stack relays into a Kafka
 * topic (see s3-notifications.ts) invokes the function asynchronously, as S3 does: one invocation per
 * object whose bucket, event and key match one of the function's `s3` triggers.
 */
import { z } from 'zod';
import type { Consumer, Kafka } from '../shared/adapters/kafka.ts';
import { decodeNotificationKey } from '../shared/pipeline/replay-event.ts';
import type { AsyncInvoker } from './async-invoke.ts';
import type { LoadedFunction } from './lambda-context.ts';
import type { FunctionDefinition, S3Trigger } from './service-definition.ts';

// Loose objects: the notification is forwarded to the function exactly as S3 sent it.
export const s3NotificationSchema = z.object({
  Records: z.array(
    z.looseObject({
      eventName: z.string(),
      s3: z.looseObject({
        bucket: z.looseObject({ name: z.string() }),
        object: z.looseObject({ key: z.string() }),
      }),
    }),
  ),
});
export type S3Notification = z.infer<typeof s3NotificationSchema>;
type S3NotificationRecord = S3Notification['Records'][number];

/** `key` decoded; `eventName` without the `s3:` of serverless.yml (`ObjectCreated:Put`). */
export function matchesS3Trigger(
  trigger: S3Trigger,
  bucket: string,
  eventName: string,
  key: string,
): boolean {
  if (trigger.bucket !== bucket) return false;
  const wanted = trigger.event.replace(/^s3:/, '');
  const matchesEvent = wanted.endsWith('*')
    ? eventName.startsWith(wanted.slice(0, -1))
    : eventName === wanted;
  if (!matchesEvent) return false;
  return trigger.rules.every((rule) => {
    if (rule.prefix !== undefined && !key.startsWith(rule.prefix)) return false;
    if (rule.suffix !== undefined && !key.endsWith(rule.suffix)) return false;
    return true;
  });
}

export interface S3Invocation {
  /** A notification of the one record, as S3 sends it. */
  readonly event: { readonly Records: readonly [S3NotificationRecord] };
  /** `s3://bucket/key`, the key decoded, for the log lines. */
  readonly what: string;
}

/** The invocations one notification makes: one per record matching any of `triggers`. */
export function s3Invocations(triggers: readonly S3Trigger[], notification: S3Notification): S3Invocation[] {
  return notification.Records.flatMap((record) => {
    const bucket = record.s3.bucket.name;
    const key = decodeNotificationKey(record.s3.object.key);
    const matches = triggers.some((trigger) => matchesS3Trigger(trigger, bucket, record.eventName, key));
    return matches ? [{ event: { Records: [record] as const }, what: `s3://${bucket}/${key}` }] : [];
  });
}

/** One consumer per S3-triggered function, each in a consumer group of its own. */
export async function startS3Triggers(options: {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly stage: string;
  readonly functions: ReadonlyMap<string, LoadedFunction>;
  readonly invokeAsync: AsyncInvoker['invokeAsync'];
  readonly log: (line: string) => void;
}): Promise<Consumer[]> {
  const { stage, functions, ...shared } = options;
  const consumers: Consumer[] = [];
  for (const { definition } of functions.values()) {
    if (definition.s3Triggers.length === 0) continue;
    consumers.push(
      await startS3Trigger({ ...shared, groupId: `driftline-${stage}-${definition.id}-s3`, definition }),
    );
  }
  return consumers;
}

/** Consumes the relayed notifications from the beginning, for one function. */
export async function startS3Trigger(options: {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly groupId: string;
  readonly definition: FunctionDefinition;
  readonly invokeAsync: AsyncInvoker['invokeAsync'];
  readonly log: (line: string) => void;
}): Promise<Consumer> {
  const { definition, invokeAsync, log } = options;
  const consumer = options.kafka.consumer({ groupId: options.groupId, maxWaitTimeInMs: 250 });
  await consumer.connect();
  await consumer.subscribe({ topic: options.topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const parsed = s3NotificationSchema.safeParse(JSON.parse(message.value?.toString('utf8') ?? '{}'));
      if (!parsed.success) {
        log(`ignored a malformed S3 notification: ${parsed.error.message}`);
        return;
      }
      for (const { event, what } of s3Invocations(definition.s3Triggers, parsed.data)) {
        invokeAsync(definition.id, event, what);
      }
    },
  });
  return consumer;
}
