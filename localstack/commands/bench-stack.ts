/**
 * The stack the pipeline benchmarks run on: isolated (a temporary folder, free ports), with the
 * pipeline runtime attached, and the two things every benchmark does with it: upload a generated
 * dt file, and wait until the aggregated state holds all its rows.
 */

import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { createS3Client, putObjectFromFile } from '../../shared/adapters/s3.ts';
import { generateDt } from '../../shared/analyses/dt/generator.ts';
import { replayRunOf } from '../../shared/pipeline/state-keys.ts';
import { type RunningRuntime, startPipelineRuntime } from '../runtime.ts';
import { loadServiceDefinition } from '../service-definition.ts';
import { LOCAL_REGION, type StackInfo } from '../stack.ts';
import { type StackHandle, startStack } from '../stack-control.ts';
import { DeliveryLog, HandlerTimings } from './bench-timings.ts';

/** A stack of the bench's own: a data folder in `workDir`, every port a free one (it may run beside a stack). */
export function isolatedStackEnvironment(workDir: string): Record<string, string> {
  return {
    DRIFTLINE_DATA_DIR: join(workDir, 'stack'),
    DRIFTLINE_KAFKA_PORT: '0',
    DRIFTLINE_KAFKA_CONTROLLER_PORT: '0',
    DRIFTLINE_S3_PORT: '0',
    DRIFTLINE_DYNAMODB_PORT: '0',
    DRIFTLINE_KINESIS_PORT: '0',
  };
}

export const summarySchema = z.object({ rows: z.number() });

/** How the sweep varies the stack: data_raw's partitions and the aggregate trigger's batching. */
export interface BenchStackOptions {
  /** serverless.yml's rawTopicPartitions, for the stack's topic provisioning and the replay. */
  readonly partitions?: number;
  readonly batchSize?: number;
  readonly batchingWindowMs?: number;
  /** Extra Node options of the function sandboxes (the profile's `--cpu-prof`). */
  readonly sandboxExecArgv?: readonly string[];
}

export class BenchStack {
  private constructor(
    private readonly workDir: string,
    private readonly stack: StackHandle,
    private readonly runtime: RunningRuntime,
    readonly s3: S3Client,
    /** Every handler invocation, timed (reset between measurements). */
    readonly timings: HandlerTimings,
    /** Every batch the aggregate trigger delivered, with its steps' times (the latency bench). */
    readonly deliveries: DeliveryLog,
  ) {}

  static async start(options: BenchStackOptions = {}): Promise<BenchStack> {
    const workDir = await mkdtemp(join(tmpdir(), 'driftline-bench-'));
    const env = {
      ...isolatedStackEnvironment(workDir),
      ...(options.partitions === undefined
        ? {}
        : { DRIFTLINE_SERVERLESS_PARAMS: `rawTopicPartitions=${options.partitions}` }),
    };
    const stack = await startStack({ attached: true, env });
    const timings = new HandlerTimings();
    const deliveries = new DeliveryLog();
    const runtime = await startPipelineRuntime({
      stack: stack.info,
      cacheDir: join(workDir, 'cache'),
      apiPort: 0,
      onInvoked: timings.observe,
      onMskDelivered: deliveries.observe,
      ...(options.sandboxExecArgv ? { sandboxExecArgv: options.sandboxExecArgv } : {}),
      ...(options.partitions === undefined
        ? {}
        : { environment: { DRIFTLINE_RAW_TOPIC_PARTITIONS: String(options.partitions) } }),
      kafkaTriggers: { batchSize: options.batchSize, batchingWindowMs: options.batchingWindowMs },
      log: (line) => console.error(`  runtime: ${line}`),
    });
    const s3 = createS3Client({ region: LOCAL_REGION, s3Endpoint: stack.info.endpoints.s3 });
    return new BenchStack(workDir, stack, runtime, s3, timings, deliveries);
  }

  get info(): StackInfo {
    return this.stack.info;
  }

  /** serverless.yml's memorySize of each function, in MB (what Lambda bills GB-s at). */
  async memorySizes(): Promise<{ replay: number; aggregate: number }> {
    const service = await loadServiceDefinition({
      stage: this.info.stage,
      cacheDir: join(this.workDir, 'cache'),
    });
    const memory = (id: string) => service.functions.find((fn) => fn.id === id)?.memorySizeMb ?? 1024;
    return { replay: memory('replay'), aggregate: memory('aggregate') };
  }

  /** The pid of each function's sandbox process (the profile names their profiles by it). */
  sandboxPids(): Record<string, number> {
    return { ...this.runtime.stats().sandboxes };
  }

  get apiUrl(): string {
    return this.runtime.apiUrl;
  }

  /** Generates a dt file and uploads it, which starts its replay; returns the run and the PUT time. */
  async upload(rows: number, seed: number, metadata: Record<string, string>) {
    return this.put(await this.generate(rows, seed), seed, metadata);
  }

  /** Writes a generated dt file of `rows` rows into the bench folder; returns its path. */
  async generate(rows: number, seed: number): Promise<string> {
    const file = join(this.workDir, `dt-${seed}-${rows}.csv`);
    await pipeline(Readable.from(generateDt({ rows, seed, format: 'csv' })), createWriteStream(file));
    return file;
  }

  /** Uploads a generated file, which starts its replay; returns the run and the PUT time. */
  async put(file: string, seed: number, metadata: Record<string, string>) {
    const key = `dt/bench-${seed}-${Date.now()}.csv`;
    const started = Date.now();
    const etag = await putObjectFromFile(this.s3, { bucket: this.info.datasetBucket, key, file, metadata });
    return { run: replayRunOf(key, etag), started };
  }

  /** Resolves with the time the dt summary of `run` first counted `rows` rows. */
  async waitForRows(run: string, rows: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = await fetch(
        `${this.apiUrl}/api/v1/analyses/dt/summary?run=${encodeURIComponent(run)}`,
      );
      const body = summarySchema.parse(await response.json());
      if (body.rows >= rows) return Date.now();
      if (Date.now() > deadline)
        throw new Error(`only ${body.rows} of ${rows} rows aggregated within ${timeoutMs / 1000} s`);
      await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    }
  }

  async stop(): Promise<void> {
    this.s3.destroy();
    await this.runtime.stop();
    await this.stack.stop();
    await rm(this.workDir, { recursive: true, force: true });
  }
}
