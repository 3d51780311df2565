/** The Kinesis adapter: the only file in shared/ that imports the Kinesis SDK. */
import { KinesisClient, ListShardsCommand, PutRecordsCommand, type Shard } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { FunctionConfig } from '../config.ts';
import { comparePositions } from '../core/position.ts';
import { type KinesisEntry, kinesisPublisher, type PutRetry } from '../pipeline/kinesis-batches.ts';
import type { Publisher } from '../pipeline/ports.ts';

export function createKinesisClient(
  aws: Pick<FunctionConfig['aws'], 'region' | 'kinesisEndpoint'>,
): KinesisClient {
  if (!aws.kinesisEndpoint) return new KinesisClient({ region: aws.region });
  return new KinesisClient({
    region: aws.region,
    endpoint: aws.kinesisEndpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    // kinesalite speaks HTTP/1.1 only; the client's default HTTP/2 handler fails with "Protocol error".
    requestHandler: new NodeHttpHandler(),
  });
}

/** Every shard of a stream (ListShards pages through them). */
export async function listShards(client: KinesisClient, stream: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: stream }),
    );
    shards.push(...(page.Shards ?? []));
    nextToken = page.NextToken;
  } while (nextToken);
  return shards;
}

/** The first hash key of each open shard, in hash-key order (= shard order for a fresh stream). */
async function openShardStartKeys(client: KinesisClient, stream: string): Promise<string[]> {
  return (await listShards(client, stream))
    .filter((shard) => shard.SequenceNumberRange?.EndingSequenceNumber === undefined)
    .map((shard) => shard.HashKeyRange?.StartingHashKey ?? '0')
    .sort(comparePositions);
}

const DEFAULT_RETRY: Omit<PutRetry, 'sleep'> = { maxAttempts: 6, initialDelayMs: 100 };

/**
 * A Publisher on PutRecords (kinesis-batches.ts: requests within Kinesis' limits, failed entries
 * re-sent alone). A message's explicit partition selects the shard of that index; the shards of
 * each stream are listed once per container.
 */
export function createKinesisPublisher(
  client: KinesisClient,
  options: { readonly retry?: Partial<Omit<PutRetry, 'sleep'>> } = {},
): Publisher {
  const shardKeys = new Map<string, Promise<string[]>>();
  const shardStartKeys = (stream: string): Promise<string[]> => {
    let keys = shardKeys.get(stream);
    if (!keys) {
      keys = openShardStartKeys(client, stream);
      keys.catch(() => shardKeys.delete(stream)); // a failed listing is tried again next time
      shardKeys.set(stream, keys);
    }
    return keys;
  };
  const putRecords = (stream: string) => async (entries: readonly KinesisEntry[]) => {
    const response = await client.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: entries.map((entry) => ({
          PartitionKey: entry.partitionKey,
          Data: entry.data,
          ...(entry.explicitHashKey === undefined ? {} : { ExplicitHashKey: entry.explicitHashKey }),
        })),
      }),
    );
    return entries.map((_, index) => response.Records?.[index]?.ErrorCode);
  };
  const retry: PutRetry = {
    ...DEFAULT_RETRY,
    ...options.retry,
    sleep: (ms) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms)),
  };
  return kinesisPublisher({ shardStartKeys, putRecords, retry });
}
