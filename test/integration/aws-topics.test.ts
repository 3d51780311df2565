/**
 * `driftline aws topics` against the real local Kafka broker (auth none; on AWS the same code path
 * signs MSK IAM tokens): the topics of serverless.yml, created once, found the second time, and a
 * partition count that differs from serverless.yml reported rather than changed. The topic names
 * are this run's own (params), so the stack's own data_raw is not touched.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { stackClients } from '../support/stack-clients.ts';
import { runCli } from '../unit/cli/run-cli.ts';

const stack = inject('stack');

describe('driftline aws topics (real Kafka broker, auth none)', { timeout: 120_000 }, () => {
  const { kafka } = stackClients(stack);
  const admin = kafka.admin();
  const prefix = `it-topics-${Date.now()}`;
  const names = { raw: `${prefix}-raw`, clean: `${prefix}-clean`, dead: `${prefix}-dead` };
  const topicsArgs = (...extra: string[]) => [
    'aws',
    'topics',
    '--stage',
    'local',
    '--auth',
    'none',
    '--bootstrap',
    stack.endpoints.kafkaBrokers.join(','),
    '--param',
    `rawTopic=${names.raw}`,
    '--param',
    `cleanTopic=${names.clean}`,
    '--param',
    `deadTopic=${names.dead}`,
    ...extra,
  ];

  afterAll(async () => {
    await admin.deleteTopics({ topics: Object.values(names) }).catch(() => undefined);
    await admin.disconnect();
  });

  it('says what is missing, and exits 1, without --create', async () => {
    const run = await runCli(topicsArgs());
    expect(run.code, run.stderr).toBe(1);
    expect(run.out).toContain(`${names.raw}: missing (wants 10 partition(s)`);
    await admin.connect();
    expect(await admin.listTopics()).not.toContain(names.raw);
  });

  it('creates data_raw with 10 partitions and the other two with 1; a second run creates nothing', async () => {
    const first = await runCli(topicsArgs('--create'));
    expect(first.code, first.stderr).toBe(0);
    expect(first.out.trim().split('\n')).toEqual([
      `${names.raw}: created, 10 partition(s)`,
      `${names.clean}: created, 1 partition(s)`,
      `${names.dead}: created, 1 partition(s)`,
    ]);
    const metadata = await admin.fetchTopicMetadata({ topics: Object.values(names) });
    const partitions = Object.fromEntries(
      metadata.topics.map((topic) => [topic.name, topic.partitions.length]),
    );
    expect(partitions).toEqual({ [names.raw]: 10, [names.clean]: 1, [names.dead]: 1 });

    const second = await runCli(topicsArgs('--create'));
    expect(second.code, second.stderr).toBe(0);
    expect(second.out).toContain(`${names.raw}: present, 10 partition(s)`);
    expect(second.out).not.toContain('created');
  });

  it('reports a topic whose partition count differs from serverless.yml, and leaves it as it is', async () => {
    const run = await runCli(topicsArgs('--create', '--param', 'rawTopicPartitions=12'));
    expect(run.code, run.stderr).toBe(1);
    expect(run.out).toContain(`${names.raw}: has 10 partition(s), serverless.yml says 12`);
    const metadata = await admin.fetchTopicMetadata({ topics: [names.raw] });
    expect(metadata.topics[0]?.partitions).toHaveLength(10);
  });
});
