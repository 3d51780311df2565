/**
 * The yardsticks of `driftline bench`: on the bench stack's own broker, in the same run, Kafka's
 * perf tools (ProducerPerformance, ConsumerPerformance from the `kafka-tools` artifact) and a bare
 * kafkajs producer and consumer (eachBatch), each with records the size of ours: one dt row, and
 * 1000 dt rows packed. The e2e figures are then printed as ratios of these (bench.ts).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createKafka, type Kafka } from '../../shared/adapters/kafka.ts';
import { loadStackConfig } from '../../shared/config.ts';
import { ensureKafkaToolsJars } from '../kafka-tools.ts';
import { kafkajsInOwnProcess } from './bench-yardstick-kafkajs.ts';

const execFileAsync = promisify(execFile);

export interface ProducerPerfResult {
  readonly records: number;
  readonly recordsPerSecond: number;
  readonly mbPerSecond: number;
  readonly avgLatencyMs: number;
  readonly p99LatencyMs: number;
}

/**
 * ProducerPerformance's summary, its last line:
 * `N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, … P ms 99th, …`.
 */
export function parseProducerPerformance(output: string): ProducerPerfResult {
  const summary = output
    .trim()
    .split('\n')
    .reverse()
    .find((line) => / records sent, .* ms 99th/.test(line));
  const match = summary
    ? /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency.*?(\d+) ms 99th/.exec(
        summary,
      )
    : null;
  if (!match) throw new Error(`ProducerPerformance printed no summary line:\n${output.slice(-500)}`);
  return {
    records: Number(match[1]),
    recordsPerSecond: Number(match[2]),
    mbPerSecond: Number(match[3]),
    avgLatencyMs: Number(match[4]),
    p99LatencyMs: Number(match[5]),
  };
}

export interface ConsumerPerfResult {
  readonly messages: number;
  /** Messages per second of fetching, the group's join (rebalance) time left out. */
  readonly fetchMessagesPerSecond: number;
  /** Messages per second over the whole run, the group's join included. */
  readonly messagesPerSecond: number;
  readonly rebalanceMs: number;
}

/**
 * ConsumerPerformance's CSV: a header (`start.time, end.time, …, data.consumed.in.nMsg, nMsg.sec,
 * rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec`) and one line of values.
 */
export function parseConsumerPerformance(output: string): ConsumerPerfResult {
  const lines = output.trim().split('\n');
  const headerIndex = lines.findIndex((line) => line.startsWith('start.time'));
  const header = lines[headerIndex]?.split(',').map((name) => name.trim());
  const values = lines[headerIndex + 1]?.split(',').map((value) => value.trim());
  if (headerIndex < 0 || !header || !values || values.length !== header.length)
    throw new Error(`ConsumerPerformance printed no result line:\n${output.slice(-500)}`);
  const field = (name: string): number => {
    const value = Number(values[header.indexOf(name)]);
    if (!header.includes(name) || !Number.isFinite(value))
      throw new Error(`ConsumerPerformance output has no number for ${name}:\n${output.slice(-500)}`);
    return value;
  };
  return {
    messages: field('data.consumed.in.nMsg'),
    fetchMessagesPerSecond: field('fetch.nMsg.sec'),
    messagesPerSecond: field('nMsg.sec'),
    rebalanceMs: field('rebalance.time.ms'),
  };
}

/** The stack's data_raw topic: the yardsticks' topics get as many partitions. */
const RAW_TOPIC = 'data_raw';

async function runTool(classpath: string, mainClass: string, args: readonly string[]): Promise<string> {
  const { javaCommand } = loadStackConfig();
  const { stdout } = await execFileAsync(javaCommand, ['-Xmx512m', '-cp', classpath, mainClass, ...args], {
    maxBuffer: 16 * 1024 * 1024,
    timeout: 300_000,
  });
  return stdout;
}

/** Creates `topics` with as many partitions as data_raw has. */
async function createTopicsLikeRaw(kafka: Kafka, topics: readonly string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [RAW_TOPIC] });
    const partitions = metadata.topics[0]?.partitions.length ?? 1;
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((topic) => ({ topic, numPartitions: partitions })),
    });
    return partitions;
  } finally {
    await admin.disconnect();
  }
}

/** Kafka's own producer and consumer, `records` records of `recordSize` bytes, acks=1, linger 5 ms. */
async function kafkaPerfTools(
  brokers: readonly string[],
  topic: string,
  records: number,
  recordSize: number,
) {
  const config = loadStackConfig();
  const libs = await ensureKafkaToolsJars({
    cacheDir: config.cacheDir,
    mavenCommand: config.mavenCommand,
    log: (line) => console.error(`  ${line}`),
  });
  const classpath = join(libs, '*');
  const bootstrap = brokers.join(',');
  const producer = parseProducerPerformance(
    await runTool(classpath, 'org.apache.kafka.tools.ProducerPerformance', [
      ...['--topic', topic, '--num-records', String(records), '--record-size', String(recordSize)],
      ...['--throughput', '-1', '--producer-props', `bootstrap.servers=${bootstrap}`, 'acks=1'],
      ...['linger.ms=5', 'batch.size=262144', 'max.request.size=8388608'],
    ]),
  );
  const consumer = parseConsumerPerformance(
    await runTool(classpath, 'org.apache.kafka.tools.ConsumerPerformance', [
      ...['--bootstrap-server', bootstrap, '--topic', topic, '--messages', String(records)],
      ...['--group', `yardstick-${Date.now()}`, '--timeout', '60000'],
    ]),
  );
  return { producer, consumer };
}

export interface Yardstick {
  readonly partitions: number;
  readonly recordBytes: number;
  readonly records: number;
  readonly kafkaProducer: ProducerPerfResult;
  readonly kafkaConsumer: ConsumerPerfResult;
  readonly kafkajsProducer: { readonly recordsPerSecond: number };
  readonly kafkajsConsumer: { readonly recordsPerSecond: number };
}

/** All four yardsticks for records of `recordBytes`, each on a fresh topic of its own. */
export async function measureYardstick(
  brokers: readonly string[],
  label: string,
  recordBytes: number,
  records: number,
): Promise<Yardstick> {
  const kafka = createKafka({ brokers, auth: 'none' }, { clientId: 'yardstick', logLevel: 'nothing' });
  const stamp = Date.now();
  const perfTopic = `yardstick-perf-${label}-${stamp}`;
  const jsTopic = `yardstick-kafkajs-${label}-${stamp}`;
  const partitions = await createTopicsLikeRaw(kafka, [perfTopic, jsTopic]);
  const { producer, consumer } = await kafkaPerfTools(brokers, perfTopic, records, recordBytes);
  const { kafkajsProducer, kafkajsConsumer } = await kafkajsInOwnProcess({
    brokers,
    topic: jsTopic,
    records,
    recordBytes,
  });
  const result = {
    partitions,
    recordBytes,
    records,
    kafkaProducer: producer,
    kafkaConsumer: consumer,
    kafkajsProducer,
    kafkajsConsumer,
  };
  console.log(
    `yard  ${label}, ${records} records of ${recordBytes} B, ${partitions} partitions: Kafka ProducerPerformance ${Math.round(producer.recordsPerSecond)} msg/s, ` +
      `ConsumerPerformance ${Math.round(consumer.fetchMessagesPerSecond)} msg/s; kafkajs producer ` +
      `${Math.round(kafkajsProducer.recordsPerSecond)} msg/s, consumer (eachBatch) ${Math.round(kafkajsConsumer.recordsPerSecond)} msg/s`,
  );
  return result;
}
