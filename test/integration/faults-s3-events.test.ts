/**
 * Fault-injection suite: S3 events duplicated, reordered and delayed, on the real stack. S3
 * delivers at least once, in no promised order, sometimes late. Here the objects are uploaded
 * while no pipeline runs (their events wait: delayed), copies of their notifications go into the
 * relayed notification topic (duplicated), among them the event of an object's first version after
 * that of its second (reordered), and one more copy after everything was replayed. Each object must
 * be replayed once, as it is now, with totals equal to `driftline analyze` of its content.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Producer } from '../../shared/adapters/kafka.ts';
import { putObjectFromFile } from '../../shared/adapters/s3.ts';
import { replayRunOf } from '../../shared/pipeline/state-keys.ts';
import {
  analyzeOffline,
  cleanIdsWithTwoBodies,
  runSummary,
  triggersIdle,
  waitForPartitionsDrained,
  waitForRunRows,
} from '../support/fault-checks.ts';
import { objectCreatedNotification } from '../support/s3-notification.ts';
import { pollUntil, stackClients } from '../support/stack-clients.ts';
import { startTestRuntime, type TestRuntime, writeTelescopeCsv } from '../support/test-runtime.ts';

const stack = inject('stack');
const clients = stackClients(stack);

/** The notification S3 sends for one object (as the stack's relay writes it into the topic). */
function notification(key: string, etag: string) {
  return objectCreatedNotification(stack.datasetBucket, key, etag);
}

interface Uploaded {
  readonly key: string;
  readonly file: string;
  readonly rows: number;
  readonly etag: string;
}

describe('faults: S3 events duplicated, reordered and delayed', () => {
  let test: TestRuntime | undefined;
  let producer: Producer;
  let workDir = '';

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'driftline-faults-s3-'));
    producer = clients.kafka.producer();
    await producer.connect();
  });

  afterAll(async () => {
    await test?.stop();
    await producer?.disconnect();
    await rm(workDir, { recursive: true, force: true });
  });

  async function upload(key: string, rows: number, seed: number): Promise<Uploaded> {
    const file = join(workDir, `${seed}.csv`);
    await writeTelescopeCsv(file, rows, seed);
    const etag = await putObjectFromFile(clients.s3, { bucket: stack.datasetBucket, key, file });
    return { key, file, rows, etag };
  }

  it('each object is replayed once, as it is now; totals equal driftline analyze', async () => {
    // Arrange: uploads while no pipeline runs; D is overwritten before its first event is handled.
    const prefix = `dt/faults-s3-${Date.now()}`;
    const a = await upload(`${prefix}/a.csv`, 6_000, 7101);
    const b = await upload(`${prefix}/b.csv`, 5_000, 7102);
    const dFirst = await upload(`${prefix}/d.csv`, 4_000, 7103);
    const d = await upload(`${prefix}/d.csv`, 7_000, 7104);
    await producer.send({
      topic: stack.s3NotificationTopic,
      messages: [
        notification(b.key, b.etag),
        notification(a.key, a.etag),
        notification(d.key, d.etag),
        notification(dFirst.key, dFirst.etag), // the first version's event, after the second's
        notification(b.key, b.etag),
        notification(a.key, a.etag),
      ],
    });

    // Act: the pipeline starts late, with every event (S3's and the copies) waiting for it
    test = await startTestRuntime(stack, 'faults-s3');
    const running = test;
    const explain = () => running.explain();
    const apiUrl = () => running.runtime.apiUrl;
    const runOf = (object: Uploaded) => replayRunOf(object.key, object.etag);
    const summaries = [];
    for (const object of [a, b, d]) {
      summaries.push(await waitForRunRows({ apiUrl, run: runOf(object), rows: object.rows, explain }));
    }
    // Once more, after everything was replayed.
    await producer.send({ topic: stack.s3NotificationTopic, messages: [notification(a.key, a.etag)] });
    await pollUntil(
      async () => {
        const replay = running.runtime.stats().functions.replay;
        // 6 copies + 4 uploads + the late copy = 11 events, each one invocation (or more, if retried).
        return replay && replay.invocations >= 11 && replay.running === 0 ? true : undefined;
      },
      { timeoutMs: 60_000, what: 'every S3 event to be handled', explain },
    );

    // Assert
    const expected = await Promise.all([a, b, d].map((object) => analyzeOffline(object.file)));
    const after = await Promise.all([a, b, d].map((object) => runSummary(apiUrl, runOf(object))));
    expect(summaries.map((summary) => summary.rows)).toEqual([a.rows, b.rows, d.rows]);
    expect(after.map((summary) => summary?.rows)).toEqual([a.rows, b.rows, d.rows]);
    expect(after.map((summary) => summary?.summary)).toEqual(expected);
    // D's first version was never replayed under its own run: the object had changed by then.
    expect((await runSummary(apiUrl, runOf(dFirst)))?.rows ?? 0).toBe(0);
    await waitForPartitionsDrained({ kafka: clients.kafka, stack, topic: 'data_raw', explain });
    expect(triggersIdle(running.runtime.stats())).toBe(true);
    expect(await cleanIdsWithTwoBodies(clients.kafka, clients.config.topics.clean)).toEqual([]);
  }, 420_000);
});
