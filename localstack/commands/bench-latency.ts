/**
 * The latency benchmark: 1000 rows/s replayed into the pipeline while a consumer on data_clean
 * measures, for each batch summary, how long after its rows were produced it was appended there.
 */
import { z } from 'zod';
import { type Consumer, createKafka } from '../../shared/adapters/kafka.ts';
import { percentile } from '../../shared/core/statistics.ts';
import { type CleanBatchSeen, type Hop, hopPercentiles, hopsOf, hopTable } from './bench-latency-hops.ts';
import type { BenchStack } from './bench-stack.ts';

const progressSchema = z.object({
  msg_ID: z.string(),
  run: z.string(),
  progress: z.object({
    firstRecordTimestampMs: z.number(),
    lastRecordTimestampMs: z.number(),
    receivedAtMs: z.number(),
    durationMs: z.record(z.string(), z.number()),
  }),
});

export function percentileOrNaN(values: readonly number[], fraction: number): number {
  return percentile(values, fraction) ?? Number.NaN;
}

/**
 * Listens on data_clean from now on and collects, for each batch summary of `run`, the latency of
 * its oldest and its newest row.
 */
export class LatencyProbe {
  /** The run to measure; summaries of other runs are ignored. */
  run = '';
  readonly oldest: number[] = [];
  readonly newest: number[] = [];
  /** Each summary of `run`, for the per-hop breakdown. */
  readonly batches: CleanBatchSeen[] = [];

  private constructor(private readonly consumer: Consumer) {}

  /** Measures `run` from now on, forgetting what was collected before. */
  measure(run: string): void {
    this.run = run;
    this.oldest.length = 0;
    this.newest.length = 0;
    this.batches.length = 0;
  }

  static async start(brokers: readonly string[]): Promise<LatencyProbe> {
    const kafka = createKafka({ brokers, auth: 'none' }, { clientId: 'bench', logLevel: 'nothing' });
    const consumer = kafka.consumer({ groupId: `bench-latency-${Date.now()}`, maxWaitTimeInMs: 50 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'data_clean', fromBeginning: false });
    const probe = new LatencyProbe(consumer);
    await consumer.run({ eachMessage: async ({ message }) => probe.record(message) });
    return probe;
  }

  private record(message: { readonly value: Buffer | null; readonly timestamp: string }): void {
    const seenAtMs = Date.now();
    const parsed = progressSchema.safeParse(JSON.parse(message.value?.toString('utf8') ?? '{}'));
    if (!parsed.success || parsed.data.run !== this.run) return;
    // The summary's append time on data_clean minus the producer time of the batch's rows.
    const appended = Number(message.timestamp);
    const { progress } = parsed.data;
    this.oldest.push(appended - progress.firstRecordTimestampMs);
    this.newest.push(appended - progress.lastRecordTimestampMs);
    this.batches.push({
      batchId: parsed.data.msg_ID,
      firstRecordTimestampMs: progress.firstRecordTimestampMs,
      receivedAtMs: progress.receivedAtMs,
      durationMs: progress.durationMs,
      appendedAtMs: appended,
      seenAtMs,
    });
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

export async function benchLatency(bench: BenchStack, quick: boolean) {
  const seconds = quick ? 15 : 60;
  const probe = await LatencyProbe.start(bench.info.endpoints.kafkaBrokers);
  const rows = seconds * 1000;
  bench.deliveries.clear();
  const { run } = await bench.upload(rows, 300, { rate: '1000', 'rows-per-record': '1' });
  probe.run = run;
  await bench.waitForRows(run, rows, (seconds + 120) * 1000);
  await probe.stop();
  const { oldest, newest } = probe;
  const joined = probe.batches.flatMap((batch): Record<Hop, number>[] => {
    const delivery = bench.deliveries.get(batch.batchId);
    return delivery ? [hopsOf(batch, delivery)] : [];
  });
  const perHop = hopPercentiles(joined);
  const result = {
    batches: oldest.length,
    oldestRowMs: { p50: percentileOrNaN(oldest, 0.5), p99: percentileOrNaN(oldest, 0.99) },
    newestRowMs: { p50: percentileOrNaN(newest, 0.5), p99: percentileOrNaN(newest, 0.99) },
    perHop: { batches: joined.length, hops: perHop },
  };
  console.log(
    `lat   1000 rows/s for ${seconds} s, ${oldest.length} batches: produce → data_clean ` +
      `p50 ${Math.round(percentileOrNaN(oldest, 0.5))} ms, p99 ${Math.round(percentileOrNaN(oldest, 0.99))} ms (oldest row of a batch); ` +
      `p50 ${Math.round(percentileOrNaN(newest, 0.5))} ms, p99 ${Math.round(percentileOrNaN(newest, 0.99))} ms (newest row)`,
  );
  for (const line of hopTable(perHop, joined.length)) console.log(line);
  return result;
}
