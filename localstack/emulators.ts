/**
 * The AWS emulators, in-process on 127.0.0.1: s3rver (S3), dynalite (DynamoDB) and kinesalite
 * (Kinesis). They speak the AWS wire protocol, so the functions use the real AWS SDK clients against
 * them, only with another endpoint. Their data lives under the stack's data folder.
 */

import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import S3rver from 's3rver';

export interface RunningEmulators {
  readonly s3Port: number;
  readonly dynamodbPort: number;
  readonly kinesisPort: number;
  /** Raw S3 notification events (s3rver's shape: keys not URL-encoded, see s3-notifications.ts). */
  onS3Event(listener: (event: unknown) => void): void;
  /**
   * Stops one emulator and starts it again on the same port over the same data folder, after
   * `downMs` without it (a restarted service, for the fault-injection tests).
   */
  restart(service: RestartableEmulator, downMs: number): Promise<void>;
  stop(): Promise<void>;
}

export type RestartableEmulator = 's3' | 'dynamodb';

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', rejectListen);
      resolveListen((server.address() as AddressInfo).port);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolveClose) => {
    server.close(() => resolveClose());
    server.closeAllConnections();
  });
}

interface LevelIterator {
  close(): Promise<void>;
  return?: () => Promise<{ done: true; value: undefined }>;
}

/**
 * The prototype every iterator of dynalite's LevelDB inherits: abstract-level's, resolved as
 * dynalite → level → classic-level resolve it (the one copy that process uses).
 */
export function dynaliteIteratorPrototype(): LevelIterator {
  let resolveFrom = createRequire(import.meta.url);
  for (const name of ['dynalite', 'level', 'classic-level'])
    resolveFrom = createRequire(resolveFrom.resolve(name));
  const { AbstractValueIterator } = resolveFrom('abstract-level') as {
    AbstractValueIterator: { prototype: object };
  };
  return Object.getPrototypeOf(AbstractValueIterator.prototype) as LevelIterator;
}

/**
 * dynalite 4 wraps each Query and Scan in a stream over `db.values()` whose destroy calls
 * `iterator.return()`, which abstract-level's iterators do not have: no iterator is ever closed,
 * and each holds a snapshot of the database. Every table file of every snapshot then stays on disk
 * and open (mapped, with its index and filter blocks): the emulator's RSS grew ~28 MiB per million
 * rows in the soak while its live data was a fraction of it. Giving iterators the `return` the
 * async-iterator protocol has closes them when the stream ends or is destroyed.
 */
function closeDynaliteIteratorsWhenDone(): void {
  const prototype = dynaliteIteratorPrototype();
  if (prototype.return) return;
  prototype.return = async function (this: LevelIterator) {
    await this.close();
    return { done: true, value: undefined };
  };
}

function s3Server(directory: string, port: number, buckets: readonly string[]): S3rver {
  return new S3rver({
    address: '127.0.0.1',
    port,
    silent: true,
    directory,
    // Path-style addressing only (the SDK clients are configured with forcePathStyle).
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name })),
  });
}

function dynamodbServer(directory: string): Server {
  closeDynaliteIteratorsWhenDone();
  return dynalite({
    path: directory,
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
}

function kinesisServer(directory: string): Server {
  return kinesalite({
    path: directory,
    createStreamMs: 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
    // AWS's default shard quota in us-east-1 (the local region) is 500; kinesalite's own default,
    // 10, and the 200 of other regions are too few for data_raw at the bench sweep's 200 partitions.
    shardLimit: 500,
  });
}

export async function startEmulators(options: {
  readonly dataDir: string;
  readonly s3Port: number;
  readonly dynamodbPort: number;
  readonly kinesisPort: number;
  readonly buckets: readonly string[];
}): Promise<RunningEmulators> {
  const s3Dir = join(options.dataDir, 's3');
  const dynamodbDir = join(options.dataDir, 'dynamodb');
  const kinesisDir = join(options.dataDir, 'kinesis');
  await Promise.all([s3Dir, dynamodbDir, kinesisDir].map((dir) => mkdir(dir, { recursive: true })));

  const stops = new Map<string, () => Promise<void>>();
  const stopStarted = async () => {
    await Promise.allSettled([...stops.values()].reverse().map((stop) => stop()));
    stops.clear();
  };
  const s3Listeners: ((event: unknown) => void)[] = [];
  const startS3 = async (port: number) => {
    const s3 = s3Server(s3Dir, port, options.buckets);
    const address = await s3.run();
    s3.on('event', (event: unknown) => {
      for (const listener of s3Listeners) listener(event);
    });
    stops.set('s3', async () => {
      // As a stopped process would: connections in flight (an object being read) end now, too.
      const closed = s3.close();
      s3.httpServer?.closeAllConnections();
      await closed;
    });
    return address.port;
  };
  const startDynamodb = async (port: number) => {
    const dynamodb = dynamodbServer(dynamodbDir);
    const bound = await listen(dynamodb, port);
    // dynalite closes its database with its server: a restart reopens the same data.
    stops.set('dynamodb', () => close(dynamodb));
    return bound;
  };
  try {
    const s3Port = await startS3(options.s3Port);
    const dynamodbPort = await startDynamodb(options.dynamodbPort);
    const kinesis = kinesisServer(kinesisDir);
    const kinesisPort = await listen(kinesis, options.kinesisPort);
    stops.set('kinesis', () => close(kinesis));

    return {
      s3Port,
      dynamodbPort,
      kinesisPort,
      onS3Event(listener) {
        s3Listeners.push(listener);
      },
      async restart(service, downMs) {
        await stops.get(service)?.();
        await new Promise((resolveWait) => setTimeout(resolveWait, downMs));
        if (service === 's3') await startS3(s3Port);
        else await startDynamodb(dynamodbPort);
      },
      stop: stopStarted,
    };
  } catch (error) {
    await stopStarted();
    throw error;
  }
}
