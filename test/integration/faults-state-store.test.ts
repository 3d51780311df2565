/**
 * Fault-injection suite: throttled and failing state writes on the real stack. The functions reach
 * DynamoDB through a proxy that answers bursts of aggregate's state requests as DynamoDB does when
 * throttled (`ProvisionedThroughputExceededException`, `ThrottlingException`), or never answers
 * (after the write was applied: only the client's request timeout ends the wait; before the
 * adapter set one, the batch waited for ever and held its partition), or resets the connection. Bursts outlast the SDK's own
 * retries, so invocations fail and the trigger retries them. The totals must still equal
 * `driftline analyze`, each batch id keep one body, and every partition drain.
 */

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { putObjectFromFile } from '../../shared/adapters/s3.ts';
import { replayRunOf } from '../../shared/pipeline/state-keys.ts';
import { type DynamoDbFaultProxy, startDynamoDbFaultProxy } from '../support/dynamodb-fault-proxy.ts';
import {
  analyzeOffline,
  cleanIdsWithTwoBodies,
  triggersIdle,
  waitForPartitionsDrained,
  waitForRunRows,
} from '../support/fault-checks.ts';
import { stackClients } from '../support/stack-clients.ts';
import { startTestRuntime, type TestRuntime, writeTelescopeCsv } from '../support/test-runtime.ts';

const stack = inject('stack');
const clients = stackClients(stack);
const ROWS = 20_000;
const REQUEST_TIMEOUT_MS = 2_000;

describe('faults: throttled, timed-out and reset state requests', () => {
  let proxy: DynamoDbFaultProxy;
  let test: TestRuntime;

  beforeAll(async () => {
    proxy = await startDynamoDbFaultProxy({
      upstream: stack.endpoints.dynamodb,
      plan: {
        everyNth: 20,
        // More than the SDK's attempts (4 for DynamoDB here, measured): the invocation fails, and a
        // fault left over fails the same request of the trigger's retry (a read repeats its body).
        burst: 6,
        // Twice each kind.
        maxBursts: 8,
        faults: ['throughput-exceeded', 'timeout', 'throttling', 'reset'],
        operations: ['PutItem', 'GetItem', 'Query'],
        // aggregate's items; replay's checkpoints (pk `replay`) pass, so the replay is not slowed.
        pkPrefixes: ['state#', 'rollup#', 'batch#'],
      },
    });
    const proxied = { ...stack, endpoints: { ...stack.endpoints, dynamodb: proxy.url } };
    test = await startTestRuntime(proxied, 'faults-state', {
      environment: {
        DRIFTLINE_REPLAY_RATE: '0',
        DRIFTLINE_DYNAMODB_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      },
    });
  });

  afterAll(async () => {
    await test?.stop();
    await proxy?.close();
  });

  it('totals equal driftline analyze, one body per batch id, every partition drained', async () => {
    // Arrange
    const file = join(test.workDir, 'telescope.csv');
    await writeTelescopeCsv(file, ROWS, 90901);
    const key = `dt/faults-state-${Date.now()}/telescope.csv`;

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
    for (const [kind, count] of Object.entries(proxy.injected)) {
      expect(count, `${kind} faults injected (all: ${JSON.stringify(proxy.injected)})`).toBeGreaterThan(0);
    }
    // The bursts outlasted the SDK's retries: the trigger retried whole batches.
    const trigger = test.runtime.stats().triggers[0];
    expect(trigger?.retries ?? 0, 'whole-batch retries by the trigger').toBeGreaterThan(0);
    await waitForPartitionsDrained({ kafka: clients.kafka, stack, topic: 'data_raw', explain: test.explain });
    expect(triggersIdle(test.runtime.stats())).toBe(true);
    expect(await cleanIdsWithTwoBodies(clients.kafka, clients.config.topics.clean)).toEqual([]);
  }, 420_000);
});
