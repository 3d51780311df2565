/**
 * What every case of the fault-injection suite checks once the fault is over (issue 9):
 * 1. the run's cumulative totals equal `driftline analyze` over the same file, exactly;
 * 2. no batch id appears in `data_clean` with two different bodies;
 * 3. no partition is left blocked: the trigger's consumer group has committed every offset of
 *    `data_raw`, and the trigger holds no record and no invocation.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { PROJECT_ROOT } from '../../localstack/service-definition.ts';
import type { StackInfo } from '../../localstack/stack-files.ts';
import type { Kafka } from '../../shared/adapters/kafka.ts';
import { pollUntil, pollWhileProgressing } from './stack-clients.ts';

const execFileAsync = promisify(execFile);

/** The last `cumulative` of `driftline analyze dt FILE`: the reference the live state must equal. */
export async function analyzeOffline(file: string): Promise<Record<string, unknown>> {
  const { stdout } = await execFileAsync(
    process.execPath,
    [join(PROJECT_ROOT, 'localstack/driftline.mjs'), 'analyze', 'dt', file],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const lines = stdout.trim().split('\n');
  const last = z
    .object({ cumulative: z.record(z.string(), z.unknown()) })
    .parse(JSON.parse(lines[lines.length - 1] ?? '{}'));
  return last.cumulative;
}

const summaryAnswer = z.object({ rows: z.number(), summary: z.record(z.string(), z.unknown()) });
export type RunSummary = z.infer<typeof summaryAnswer>;

/** The run's cumulative summary from the API, or undefined while the API does not answer. */
export async function runSummary(apiUrl: () => string, run: string): Promise<RunSummary | undefined> {
  try {
    const response = await fetch(`${apiUrl()}/api/v1/analyses/dt/summary?run=${encodeURIComponent(run)}`);
    return response.ok ? summaryAnswer.parse(await response.json()) : undefined;
  } catch {
    // A runtime being restarted: no API for a moment.
    return undefined;
  }
}

/** Waits while the run's row count grows until it reaches `rows`; fails when it stops moving. */
export async function waitForRunRows(options: {
  readonly apiUrl: () => string;
  readonly run: string;
  readonly rows: number;
  readonly explain: () => Promise<string> | string;
  readonly stallMs?: number;
}): Promise<RunSummary> {
  return pollWhileProgressing(
    async () => {
      const summary = await runSummary(options.apiUrl, options.run);
      const rows = summary?.rows ?? -1;
      return { progress: rows, done: summary && rows >= options.rows ? summary : undefined };
    },
    {
      stallMs: options.stallMs ?? 90_000,
      timeoutMs: 300_000,
      intervalMs: 300,
      what: `the state of ${options.run} to reach ${options.rows} rows`,
      explain: options.explain,
    },
  );
}

/** Batch ids of `data_clean` (the whole topic, from the beginning) published with two different bodies. */
export async function cleanIdsWithTwoBodies(kafka: Kafka, topic: string): Promise<string[]> {
  const offsets = await kafka.admin().fetchTopicOffsets(topic);
  const end = Number(offsets[0]?.high ?? 0);
  if (end === 0) return [];
  const bodies = new Map<string, string>();
  const conflicting = new Set<string>();
  const consumer = kafka.consumer({
    groupId: `fault-check-${Date.now()}-${Math.random()}`,
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolveAll, rejectAll) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            const id = message.key?.toString('utf8') ?? '';
            const body = message.value?.toString('utf8') ?? '';
            const before = bodies.get(id);
            if (before !== undefined && before !== body) conflicting.add(id);
            bodies.set(id, body);
            if (Number(message.offset) + 1 >= end) resolveAll();
          },
        })
        .catch(rejectAll);
    });
  } finally {
    await consumer.disconnect();
  }
  return [...conflicting];
}

/**
 * Waits until the aggregate trigger's group has committed the end of every `data_raw` partition
 * (nothing left unconsumed, no batch stuck in retries); fails naming the partitions that lag.
 */
export async function waitForPartitionsDrained(options: {
  readonly kafka: Kafka;
  readonly stack: Pick<StackInfo, 'stage'>;
  readonly topic: string;
  readonly explain: () => Promise<string> | string;
  readonly timeoutMs?: number;
}): Promise<void> {
  const admin = options.kafka.admin();
  await admin.connect();
  const groupId = `driftline-${options.stack.stage}-aggregate-${options.topic}`;
  let lagging: string[] = [];
  try {
    await pollUntil(
      async () => {
        const [ends, committed] = await Promise.all([
          admin.fetchTopicOffsets(options.topic),
          admin.fetchOffsets({ groupId, topics: [options.topic] }),
        ]);
        const committedBy = new Map(
          (committed[0]?.partitions ?? []).map((entry) => [entry.partition, Number(entry.offset)]),
        );
        lagging = ends
          .filter((end) => Number(end.high) > 0 && (committedBy.get(end.partition) ?? -1) < Number(end.high))
          .map(
            (end) =>
              `${end.partition}: committed ${committedBy.get(end.partition) ?? 'nothing'} of ${end.high}`,
          );
        return lagging.length === 0 ? true : undefined;
      },
      {
        timeoutMs: options.timeoutMs ?? 60_000,
        intervalMs: 250,
        what: `group ${groupId} to commit the end of every ${options.topic} partition`,
        explain: async () => `lagging partitions: ${lagging.join('; ')}\n${await options.explain()}`,
      },
    );
  } finally {
    await admin.disconnect();
  }
}

/** The trigger's stats say nothing is held: no buffered record, no invocation in flight. */
export function triggersIdle(stats: {
  readonly triggers: readonly { readonly bufferedRecords: number; readonly inFlightInvocations: number }[];
}): boolean {
  return stats.triggers.every(
    (trigger) => trigger.bufferedRecords === 0 && trigger.inFlightInvocations === 0,
  );
}
