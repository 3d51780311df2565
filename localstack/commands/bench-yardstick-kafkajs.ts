/**
 * The bare kafkajs yardstick (a producer, then a consumer with eachBatch, on a topic of its own)
 * in a process of its own, as a person's own client would run: its own event loop and its own heap,
 * with kafkajs's defaults. In the bench's process it shared both with the runtime, and it ran out
 * of heap there under the runtime's bound (runtime-heap.ts), in its 1-row run; likely its consumer,
 * which holds a whole fetch of small messages as objects (10 MB of 31-byte records: ~330,000).
 *
 * The parent forks this file (kafkajsInOwnProcess); the child gets one request over IPC, answers
 * with the figures or the error, and exits.
 */
import { fork } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createKafka, type Kafka } from '../../shared/adapters/kafka.ts';
import { TSX_LOADER } from '../function-sandbox.ts';

export interface KafkajsRequest {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly records: number;
  readonly recordBytes: number;
}

export interface KafkajsYardstick {
  readonly kafkajsProducer: { readonly records: number; readonly recordsPerSecond: number };
  readonly kafkajsConsumer: { readonly records: number; readonly recordsPerSecond: number };
}

type KafkajsReply =
  | { readonly type: 'result'; readonly result: KafkajsYardstick }
  | { readonly type: 'error'; readonly message: string };

const CONSUME_TIMEOUT_MS = 120_000;

/** A bare kafkajs producer: sends of 10,000 messages (≤ 5 MB), 4 in flight, acks=1. */
async function kafkajsProduce(kafka: Kafka, topic: string, records: number, value: Buffer) {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  // Up to 10,000 per send, fewer when large: the broker refuses a partition's batch over 1 MB.
  const perSend = Math.max(1, Math.min(10_000, Math.floor(5_000_000 / value.length), records));
  const batch = Array.from({ length: perSend }, () => ({ value }));
  const started = process.hrtime.bigint();
  let sent = 0;
  const sendNext = async (): Promise<void> => {
    while (sent < records) {
      const count = Math.min(batch.length, records - sent);
      sent += count;
      await producer.send({ topic, acks: 1, messages: batch.slice(0, count) });
    }
  };
  await Promise.all([sendNext(), sendNext(), sendNext(), sendNext()]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await producer.disconnect();
  return { records, recordsPerSecond: records / seconds };
}

/** A bare kafkajs consumer (its defaults) with eachBatch, from the start of the topic until `records` are read. */
async function kafkajsConsume(kafka: Kafka, topic: string, records: number) {
  const consumer = kafka.consumer({ groupId: `yardstick-kafkajs-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  // Timed from the group's join, so the fetches count and the join does not (as fetch.nMsg.sec).
  let joined = process.hrtime.bigint();
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = process.hrtime.bigint();
  });
  let read = 0;
  const done = new Promise<number>((resolveDone, rejectDone) => {
    const timeout = setTimeout(
      () => rejectDone(new Error(`kafkajs consumer read only ${read} of ${records} records in 120 s`)),
      CONSUME_TIMEOUT_MS,
    );
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          read += batch.messages.length;
          if (read >= records) {
            clearTimeout(timeout);
            resolveDone(Number(process.hrtime.bigint() - joined) / 1e9);
          }
        },
      })
      .catch(rejectDone);
  });
  const seconds = await done;
  await consumer.disconnect();
  return { records, recordsPerSecond: records / seconds };
}

async function measure(request: KafkajsRequest): Promise<KafkajsYardstick> {
  const kafka = createKafka(
    { brokers: request.brokers, auth: 'none' },
    { clientId: 'yardstick', logLevel: 'nothing' },
  );
  const value = Buffer.alloc(request.recordBytes, 'x');
  const kafkajsProducer = await kafkajsProduce(kafka, request.topic, request.records, value);
  const kafkajsConsumer = await kafkajsConsume(kafka, request.topic, request.records);
  return { kafkajsProducer, kafkajsConsumer };
}

/** Runs the kafkajs yardstick in a child process and resolves with its figures. */
export function kafkajsInOwnProcess(request: KafkajsRequest): Promise<KafkajsYardstick> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', TSX_LOADER],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolveResult, rejectResult) => {
    let reply: KafkajsReply | undefined;
    child.once('message', (message: KafkajsReply) => {
      reply = message;
    });
    child.once('error', rejectResult);
    child.once('exit', (code, signal) => {
      if (reply?.type === 'result') resolveResult(reply.result);
      else
        rejectResult(
          new Error(
            `the kafkajs yardstick failed: ${reply?.message ?? `its process exited (${code ?? signal}) without an answer`}`,
          ),
        );
    });
    child.send(request);
  });
}

/** The child: one request, one answer, then exit (its clients are disconnected by then). */
function serveOneRequest(): void {
  process.once('message', (request: KafkajsRequest) => {
    measure(request).then(
      (result) => process.send?.({ type: 'result', result } satisfies KafkajsReply, () => process.exit(0)),
      (error: unknown) =>
        process.send?.(
          {
            type: 'error',
            message: error instanceof Error ? error.message : String(error),
          } satisfies KafkajsReply,
          () => process.exit(0),
        ),
    );
  });
}

if (process.send && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) serveOneRequest();
