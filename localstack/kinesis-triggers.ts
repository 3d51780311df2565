/**
 * The runtime's Kinesis-triggered functions: each `stream` (kinesis) event of a function on a
 * kinesis stage (service-definition.ts) becomes a local Kinesis trigger on the stack's kinesalite.
 * Checkpoints are kept in the stack's data folder, so a restarted runtime resumes where it stopped;
 * the on-failure destination is a folder there too (one JSON file per batch given up on, with what
 * AWS sends to SQS: the batch's metadata). Tests may override the batch size and window, as for the
 * Kafka triggers (runtime.ts `TriggerOverrides`), and move a trigger's checkpoints while it has not
 * started (`kinesisTriggerCheckpoints`), as they move a paused Kafka trigger's group offsets.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createKinesisClient } from '../shared/adapters/kinesis.ts';
import type { CheckpointStore, KinesisTriggerStats, RunningKinesisTrigger } from './kinesis-trigger.ts';
import { startKinesisTrigger } from './kinesis-trigger.ts';
import type { LambdaInvoker, LoadedFunction } from './lambda-context.ts';
import type { StackInfo } from './stack-files.ts';

const LOCAL_REGION = 'us-east-1';
const LOCAL_ACCOUNT = '000000000000';

/** One JSON file of `{ shardId: sequenceNumber }`, replaced whole on every checkpoint. */
function fileCheckpoints(file: string): CheckpointStore {
  let loaded: Promise<Record<string, string>> | undefined;
  let writing: Promise<void> = Promise.resolve();
  const all = () => {
    loaded ??= readFile(file, 'utf8').then(
      (text): Record<string, string> => JSON.parse(text),
      () => ({}),
    );
    return loaded;
  };
  return {
    get: async (shardId) => (await all())[shardId],
    async put(shardId, sequenceNumber) {
      const checkpoints = await all();
      checkpoints[shardId] = sequenceNumber;
      // Writes one after another: a later checkpoint never lands under an earlier one.
      writing = writing.then(async () => {
        await mkdir(dirname(file), { recursive: true });
        await writeFile(`${file}.tmp`, JSON.stringify(checkpoints));
        await rename(`${file}.tmp`, file);
      });
      await writing;
    },
  };
}

/** The checkpoints of `functionId`'s trigger on `stream`: the same file its trigger reads at start. */
export function kinesisTriggerCheckpoints(
  dataDir: string,
  functionId: string,
  stream: string,
): CheckpointStore {
  return fileCheckpoints(join(dataDir, 'kinesis-triggers', `${functionId}-${stream}.checkpoints.json`));
}

/** serverless.yml's settings, unless overridden (a test reproducing a source job's batches of 200). */
export interface KinesisTriggerOverrides {
  readonly batchSize?: number;
  readonly batchingWindowMs?: number;
}

export interface KinesisTriggers {
  resume(): Promise<void>;
  stats(): KinesisTriggerStats[];
  stop(): Promise<void>;
}

export function kinesisTriggers(deps: {
  readonly stack: StackInfo;
  readonly functions: ReadonlyMap<string, LoadedFunction>;
  readonly invoke: LambdaInvoker['invoke'];
  readonly log: (line: string) => void;
  readonly overrides?: KinesisTriggerOverrides;
}): KinesisTriggers {
  const { stack, invoke, log, overrides } = deps;
  const client = createKinesisClient({ region: LOCAL_REGION, kinesisEndpoint: stack.endpoints.kinesis });
  const running: RunningKinesisTrigger[] = [];
  const folder = join(stack.dataDir, 'kinesis-triggers');
  let started = false;
  const start = async () => {
    await mkdir(join(folder, 'failed-batches'), { recursive: true });
    for (const { definition } of deps.functions.values()) {
      for (const trigger of definition.kinesisTriggers) {
        if (!trigger.enabled) continue;
        const name = `${definition.id}-${trigger.stream}`;
        const batchingWindowMs =
          overrides?.batchingWindowMs ??
          (trigger.batchWindow === undefined ? undefined : trigger.batchWindow * 1000);
        running.push(
          await startKinesisTrigger({
            client,
            stream: trigger.stream,
            batchSize: overrides?.batchSize ?? trigger.batchSize,
            ...(batchingWindowMs === undefined ? {} : { batchingWindowMs }),
            startingPosition: trigger.startingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON',
            bisectBatchOnFunctionError: trigger.bisectBatchOnFunctionError,
            maximumRetryAttempts: trigger.maximumRetryAttempts,
            streamArn: `arn:aws:kinesis:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stream/${trigger.stream}`,
            region: LOCAL_REGION,
            invokeIdentityArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/${definition.name}`,
            functionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${definition.name}`,
            checkpoints: kinesisTriggerCheckpoints(stack.dataDir, definition.id, trigger.stream),
            onFailure: (failure) =>
              writeFile(
                join(folder, 'failed-batches', `${name}-${Date.now()}.json`),
                JSON.stringify(failure),
              ),
            invoke: (event) => invoke(definition.id, event),
            log: (line) => log(`${definition.id} trigger: ${line}`),
          }),
        );
      }
    }
  };
  return {
    async resume() {
      if (started) return;
      started = true;
      await start();
    },
    stats: () => running.map((trigger) => trigger.stats()),
    async stop() {
      await Promise.allSettled(running.map((trigger) => trigger.stop()));
      client.destroy();
    },
  };
}
