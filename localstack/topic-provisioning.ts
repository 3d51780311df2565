/**
 * The topics of serverless.yml on a Kafka cluster (MSK on AWS): compare what exists with what is
 * wanted, and create what is missing. Idempotent: a second run finds everything and creates nothing.
 * A topic with a different partition count is reported, never altered: adding partitions to
 * data_raw would move keys to other partitions (an orbit's hits would no longer stay in order in
 * one partition), and Kafka cannot remove partitions.
 */
import type { Admin } from '../shared/adapters/kafka.ts';

export interface WantedTopic {
  readonly name: string;
  readonly partitions: number;
}

export type TopicState =
  | { readonly name: string; readonly state: 'present'; readonly partitions: number }
  | { readonly name: string; readonly state: 'created'; readonly partitions: number }
  | { readonly name: string; readonly state: 'missing'; readonly partitions: number }
  | {
      readonly name: string;
      readonly state: 'mismatch';
      readonly partitions: number;
      readonly wantedPartitions: number;
    };

/** True when every topic exists with the partitions serverless.yml gives it. */
export function topicsInOrder(report: readonly TopicState[]): boolean {
  return report.every((topic) => topic.state === 'present' || topic.state === 'created');
}

export function describeTopicState(topic: TopicState): string {
  switch (topic.state) {
    case 'present':
      return `${topic.name}: present, ${topic.partitions} partition(s)`;
    case 'created':
      return `${topic.name}: created, ${topic.partitions} partition(s)`;
    case 'missing':
      return `${topic.name}: missing (wants ${topic.partitions} partition(s); --create creates it)`;
    case 'mismatch':
      return (
        `${topic.name}: has ${topic.partitions} partition(s), serverless.yml says ${topic.wantedPartitions} ` +
        '(not changed: recreate the topic by hand if that is what you want)'
      );
  }
}

async function partitionCounts(admin: Admin, names: readonly string[]): Promise<Map<string, number>> {
  const existing = new Set(await admin.listTopics());
  const present = names.filter((name) => existing.has(name));
  if (present.length === 0) return new Map();
  const metadata = await admin.fetchTopicMetadata({ topics: [...present] });
  return new Map(metadata.topics.map((topic) => [topic.name, topic.partitions.length]));
}

/**
 * Compares the cluster's topics with `wanted` and, with `create`, creates the missing ones. The
 * replication factor is the cluster's default (MSK sets it from the number of AZs).
 */
export async function ensureTopics(
  admin: Admin,
  wanted: readonly WantedTopic[],
  options: { readonly create: boolean },
): Promise<TopicState[]> {
  const before = await partitionCounts(
    admin,
    wanted.map((topic) => topic.name),
  );
  const missing = wanted.filter((topic) => !before.has(topic.name));
  if (options.create && missing.length > 0) {
    // A topic created meanwhile by someone else makes createTopics answer false, not throw: the
    // counts read again below say what there is either way.
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({ topic: topic.name, numPartitions: topic.partitions })),
    });
  }
  const after =
    options.create && missing.length > 0
      ? await partitionCounts(
          admin,
          wanted.map((topic) => topic.name),
        )
      : before;
  return wanted.map((topic): TopicState => {
    const partitions = after.get(topic.name);
    if (partitions === undefined) return { name: topic.name, state: 'missing', partitions: topic.partitions };
    if (partitions !== topic.partitions)
      return { name: topic.name, state: 'mismatch', partitions, wantedPartitions: topic.partitions };
    return { name: topic.name, state: before.has(topic.name) ? 'present' : 'created', partitions };
  });
}
