/**
 * The Kafka adapter: the only file that imports kafkajs. Clients are plain kafkajs objects with
 * explicit timeouts and retries (kafkajs does not reconnect by itself after some socket errors,
 * kafkajs#919, so failures must surface quickly and be retried by the caller or the trigger).
 */

import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import { Kafka, type KafkaConfig, type LogEntry, logLevel, Partitioners } from 'kafkajs';
import type { Publisher } from '../pipeline/ports.ts';

export type { Admin, Consumer, EachBatchPayload, Kafka, Message, Producer } from 'kafkajs';

export interface KafkaConnection {
  readonly brokers: readonly string[];
  /** `none` = plaintext (local broker); `iam` = MSK IAM over SASL/OAUTHBEARER and TLS (AWS). */
  readonly auth: 'iam' | 'none';
  /** Region that signs MSK IAM tokens (required with `iam`). */
  readonly region?: string;
}

/**
 * MSK IAM: the function's own credentials sign a short-lived token (AWS's signer library), which
 * kafkajs presents over SASL/OAUTHBEARER on a TLS connection; it asks again when the token expires.
 */
function mskIamAuthentication(region: string): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  return {
    ssl: true,
    sasl: {
      mechanism: 'oauthbearer',
      oauthBearerProvider: async () => ({ value: (await generateAuthToken({ region })).token }),
    },
  };
}

export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info';

const levels: Record<KafkaLogLevel, logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
};

/**
 * kafkajs warns that bounded retries "may invalidate EoS guarantees" of the idempotent producer at
 * every producer start. Driftline's exactly-once does not rest on the producer (records carry
 * sequence numbers that the aggregate side applies once), and unbounded retries would hang a Lambda,
 * so the warning says nothing to act on.
 */
const KNOWN_NOISE = /Limiting retries for the idempotent producer|The group coordinator is not available/;
// (The second: a fresh broker's group coordinator starts a moment after the broker; kafkajs retries.)

const LEVEL_NAMES: Record<number, string> = {
  [logLevel.ERROR]: 'ERROR',
  [logLevel.WARN]: 'WARN',
  [logLevel.INFO]: 'INFO',
  [logLevel.DEBUG]: 'DEBUG',
};

function defaultLog(level: string, message: string): void {
  console.error(JSON.stringify({ level, timestamp: new Date().toISOString(), logger: 'kafkajs', message }));
}

export function createKafka(
  connection: KafkaConnection,
  options: {
    readonly clientId: string;
    readonly logLevel?: KafkaLogLevel;
    readonly log?: (level: string, message: string) => void;
  },
): Kafka {
  if (connection.auth === 'iam' && !connection.region) {
    throw new Error('MSK IAM authentication needs the AWS region (AWS_REGION)');
  }
  const write = options.log ?? defaultLog;
  const config: KafkaConfig = {
    clientId: options.clientId,
    brokers: [...connection.brokers],
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5_000 },
    logLevel: levels[options.logLevel ?? 'warn'],
    ...(connection.auth === 'iam' && connection.region ? mskIamAuthentication(connection.region) : {}),
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, timestamp: _timestamp, logger: _logger, ...details } = entry;
        const text = Object.keys(details).length > 0 ? `${message} ${JSON.stringify(details)}` : message;
        if (!KNOWN_NOISE.test(text)) write(LEVEL_NAMES[level] ?? String(level), text);
      },
  };
  return new Kafka(config);
}

/** Header names whose last value is remembered; more distinct names than this start afresh. */
const MAX_REMEMBERED_HEADER_NAMES = 64;

/**
 * Header values as bytes, reusing the bytes of a value equal to the last one sent under the same
 * name. Replay's headers repeat (analysis, run, format) but for the sequence number, and kafkajs
 * encodes a string header through a fresh Buffer per message: ~0.5 µs each, a sixth of its whole
 * encoding of a one-row record. kafkajs only reads the bytes, so sharing them is safe.
 */
export class HeaderBytes {
  private readonly last = new Map<string, { readonly text: string; readonly bytes: Buffer }>();

  of(headers: Readonly<Record<string, string>>): Record<string, Buffer> {
    const encoded: Record<string, Buffer> = {};
    for (const name in headers) {
      const text = headers[name] ?? '';
      const remembered = this.last.get(name);
      if (remembered?.text === text) {
        encoded[name] = remembered.bytes;
        continue;
      }
      const bytes = Buffer.from(text);
      if (!remembered && this.last.size >= MAX_REMEMBERED_HEADER_NAMES) this.last.clear();
      this.last.set(name, { text, bytes });
      encoded[name] = bytes;
    }
    return encoded;
  }
}

/**
 * Errors after which an idempotent producer's session is broken for good: the broker no longer
 * accepts its sequence numbers (seen after the broker was killed and restarted with sends in
 * flight: every later send failed with OUT_OF_ORDER_SEQUENCE_NUMBER, and the replay never recovered).
 */
const BROKEN_PRODUCER_SESSION = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
]);

function breaksProducerSession(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if ('type' in cause && BROKEN_PRODUCER_SESSION.has(String(cause.type))) return true;
  }
  return false;
}

/**
 * A Publisher on a kafkajs producer. The producer is idempotent with acks=all, so a retried send
 * does not duplicate a message within the producer's session. Connects lazily, once; a producer
 * whose session the broker no longer accepts is replaced (the failed send still fails: its caller
 * retries it, with the new producer).
 */
export function createKafkaPublisher(kafka: Kafka): Publisher & { disconnect(): Promise<void> } {
  const newProducer = () =>
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  let producer = newProducer();
  const headerBytes = new HeaderBytes();
  let connecting: Promise<void> | undefined;
  const send = async (topic: string, messages: Parameters<Publisher['publish']>[1]) => {
    connecting ??= producer.connect().catch((error) => {
      connecting = undefined;
      throw error;
    });
    await connecting;
    await producer.send({
      topic,
      acks: -1,
      messages: messages.map((message) => ({
        key: message.key ?? null,
        value:
          typeof message.value === 'string'
            ? message.value
            : Buffer.from(message.value.buffer, message.value.byteOffset, message.value.byteLength),
        ...(message.headers ? { headers: headerBytes.of(message.headers) } : {}),
        ...(message.partition === undefined ? {} : { partition: message.partition }),
      })),
    });
  };
  return {
    async publish(topic, messages) {
      if (messages.length === 0) return;
      try {
        await send(topic, messages);
      } catch (error) {
        if (breaksProducerSession(error)) {
          const broken = producer;
          producer = newProducer();
          connecting = undefined;
          // Its disconnect may fail as well: it is dropped either way.
          await broken.disconnect().catch(() => {});
        }
        throw error;
      }
    },
    async disconnect() {
      if (connecting) await producer.disconnect();
      connecting = undefined;
    },
  };
}
