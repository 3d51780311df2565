/**
 * Fault injection on the Kinesis transport: PutRecords answers with partial failures as Kinesis
 * does when a shard is throttled (`FailedRecordCount`, per-entry
 * `ProvisionedThroughputExceededException`), and stores the later entries of the same request —
 * same shard included — so every re-sent record lands in its shard *after* a record replay wrote
 * later. The functions and the local Kinesis trigger reach kinesalite through a proxy that does this
 * (test/support/kinesis-fault-proxy.ts). The run's totals must still equal `driftline analyze`.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { listShards } from '../../shared/adapters/kinesis.ts';
import { putObjectFromFile } from '../../shared/adapters/s3.ts';
import { replayRunOf } from '../../shared/pipeline/state-keys.ts';
import { analyzeOffline, waitForRunRows } from '../support/fault-checks.ts';
import { type KinesisFaultProxy, startKinesisFaultProxy } from '../support/kinesis-fault-proxy.ts';
import { pollUntil, stackClients } from '../support/stack-clients.ts';
import { startTestRuntime, type TestRuntime, writeTelescopeCsv } from '../support/test-runtime.ts';

const stack = inject('stack');
const clients = stackClients(stack);
const ROWS = 12_000;

describe('faults: PutRecords fails entries partially, later entries of the shard are stored', () => {
  let proxy: KinesisFaultProxy;
  let test: TestRuntime;

  beforeAll(async () => {
    const stream = clients.config.streams.raw;
    const shardStartKeys = (await listShards(clients.kinesis, stream))
      .map((shard) => shard.HashKeyRange?.StartingHashKey ?? '0')
      .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    proxy = await startKinesisFaultProxy({
      upstream: stack.endpoints.kinesis,
      plan: { stream, everyNthRequest: 2, shardStartKeys },
    });
    const proxied = {
      ...stack,
      stage: 'local-kinesis',
      endpoints: { ...stack.endpoints, kinesis: proxy.url },
    };
    test = await startTestRuntime(proxied, 'faults-kinesis-put', {
      environment: { DRIFTLINE_REPLAY_RATE: '0' },
    });
  });

  afterAll(async () => {
    await test?.stop();
    await proxy?.close();
  });

  it('totals equal driftline analyze, every shard drained', async () => {
    // Arrange
    const file = join(test.workDir, 'telescope.csv');
    await writeTelescopeCsv(file, ROWS, 90911);
    const key = `dt/faults-kinesis-put-${Date.now()}/telescope.csv`;

    // Act
    const etag = await putObjectFromFile(clients.s3, { bucket: stack.datasetBucket, key, file });
    const run = replayRunOf(key, etag);
    const summary = await waitForRunRows({
      apiUrl: () => test.runtime.apiUrl,
      run,
      rows: ROWS,
      explain: async () => `faults injected: ${JSON.stringify(proxy.injected)}\n${await test.explain()}`,
    });

    // Assert
    expect(summary.rows).toBe(ROWS);
    expect(summary.summary).toEqual(await analyzeOffline(file));
    // The faults happened and really reordered shards: re-sent records behind later ones.
    expect(proxy.injected.overtaken).toBeGreaterThan(20);
    // Nothing left running, nothing given up to the on-failure destination.
    const streamTriggers = () => test.runtime.stats().streamTriggers;
    await pollUntil(
      async () => (streamTriggers().every((trigger) => trigger.inFlightInvocations === 0) ? true : undefined),
      {
        timeoutMs: 60_000,
        what: 'the Kinesis triggers to have no invocation in flight',
        explain: () => JSON.stringify(streamTriggers()),
      },
    );
    expect(streamTriggers().reduce((sum, trigger) => sum + trigger.batchesSentToDestination, 0)).toBe(0);
  }, 420_000);
});
