import { join } from 'node:path';
import { z } from 'zod';

/** Written by a running stack, removed when it stops: pid, ports, endpoints. */
export function stackInfoFile(dataDir: string): string {
  return join(dataDir, 'stack.json');
}

/** The stack process's own output (the broker logs to kafka/server.log). */
export function stackLogFile(dataDir: string): string {
  return join(dataDir, 'stack.log');
}

const portsSchema = z.object({
  kafka: z.number(),
  kafkaController: z.number(),
  s3: z.number(),
  dynamodb: z.number(),
  kinesis: z.number(),
  api: z.number(),
});

/** What a running stack publishes (in `stack.json`, over IPC, and to tests through `inject`). */
export const stackInfoSchema = z.object({
  pid: z.number().int(),
  dataDir: z.string(),
  stage: z.string(),
  startedAt: z.string(),
  startupMs: z.number(),
  embeddedKafka: z.boolean(),
  kafkaLogFile: z.string().optional(),
  endpoints: z.object({
    kafkaBrokers: z.array(z.string()),
    s3: z.string(),
    dynamodb: z.string(),
    kinesis: z.string(),
  }),
  ports: portsSchema,
  datasetBucket: z.string(),
  stateBucket: z.string(),
  stateTable: z.string(),
  topics: z.array(z.object({ name: z.string(), partitions: z.number() })),
  s3NotificationTopic: z.string(),
});
export type StackInfo = z.infer<typeof stackInfoSchema>;
export type StackEndpoints = StackInfo['endpoints'];

/** Asks an attached stack's daemon (over IPC) to restart one service; it answers `restartedSchema`. */
export const restartRequestSchema = z.object({
  type: z.literal('restart'),
  id: z.number().int(),
  service: z.enum(['kafka', 's3', 'dynamodb']),
  downMs: z.number().int().min(0),
});
export const restartedSchema = z.object({
  type: z.literal('restarted'),
  id: z.number().int(),
  error: z.string().optional(),
});

/**
 * Asks an attached stack's daemon for its `process.memoryUsage()` (the soak bench splits its RSS
 * into V8 heap, external buffers and the rest: native memory such as LevelDB's); it answers
 * `memoryUsageSchema`.
 */
export const memoryRequestSchema = z.object({ type: z.literal('memory'), id: z.number().int() });
export const memoryUsageSchema = z.object({
  type: z.literal('memory-usage'),
  id: z.number().int(),
  rss: z.number(),
  heapTotal: z.number(),
  heapUsed: z.number(),
  external: z.number(),
  arrayBuffers: z.number(),
});
export type DaemonMemoryUsage = Omit<z.infer<typeof memoryUsageSchema>, 'type' | 'id'>;
