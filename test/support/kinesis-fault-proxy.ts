/**
 * A fault-injecting HTTP proxy in front of kinesalite that fails chosen entries of PutRecords the
 * way Kinesis does when a shard is throttled: the request succeeds, `FailedRecordCount` counts the
 * failed entries, each of which carries `ErrorCode: ProvisionedThroughputExceededException` and an
 * `ErrorMessage`, and — what AWS documents and kinesalite never does — the later entries of the same
 * request, same shard included, are stored. Only the passing entries are forwarded to kinesalite;
 * its answer is merged back in request order. Every other request passes through unchanged.
 *
 * The entries failed are always ones followed in the same request by an entry of the same shard;
 * `overtaken` counts the failed entries whose later same-shard entry kinesalite did store (it
 * answered with a sequence number), i.e. the re-sent record will land behind a later one. A re-sent
 * entry alone in its shard in its request is never failed again.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { answerWith, bodyOf, forward, startProxyServer, type UpstreamAnswer } from './http-proxy.ts';

export interface KinesisFaultPlan {
  readonly stream: string;
  /** Every n-th PutRecords request to the stream fails entries (when it has a shard with two). */
  readonly everyNthRequest: number;
  /** The stream's shards' first hash keys, in shard order (where an ExplicitHashKey lands). */
  readonly shardStartKeys: readonly string[];
}

export interface KinesisFaultProxy {
  readonly url: string;
  /** Entries answered as failed, and of them those that a later stored entry of the shard overtook. */
  readonly injected: { failedEntries: number; overtaken: number; requests: number };
  close(): Promise<void>;
}

const putRecordsRequest = z
  .object({
    StreamName: z.string().optional(),
    Records: z.array(
      z
        .object({ Data: z.string(), PartitionKey: z.string(), ExplicitHashKey: z.string().optional() })
        .loose(),
    ),
  })
  .loose();

const putRecordsResponse = z.object({
  FailedRecordCount: z.number().optional(),
  Records: z.array(z.record(z.string(), z.unknown())),
});

type Entry = z.infer<typeof putRecordsRequest>['Records'][number];

/** The shard an entry goes to: explicit hash key, else the MD5 of the partition key (as Kinesis). */
function shardOf(entry: Entry, startKeys: readonly string[]): number {
  const hashKey = BigInt(
    entry.ExplicitHashKey ?? `0x${createHash('md5').update(entry.PartitionKey).digest('hex')}`,
  );
  let shard = 0;
  startKeys.forEach((key, index) => {
    if (hashKey >= BigInt(key)) shard = index;
  });
  return shard;
}

/** Indexes of the entries to fail: per shard with ≥ 2 entries, the first one (a later one stays). */
function entriesToFail(entries: readonly Entry[], startKeys: readonly string[]): Set<number> {
  const byShard = new Map<number, number[]>();
  entries.forEach((entry, index) => {
    const shard = shardOf(entry, startKeys);
    byShard.set(shard, [...(byShard.get(shard) ?? []), index]);
  });
  const failing = new Set<number>();
  for (const indexes of byShard.values()) {
    const first = indexes[0];
    if (indexes.length >= 2 && first !== undefined) failing.add(first);
  }
  return failing;
}

function throttled(shard: number, stream: string) {
  return {
    ErrorCode: 'ProvisionedThroughputExceededException',
    ErrorMessage: `Rate exceeded for shard shardId-${String(shard).padStart(12, '0')} in stream ${stream} under account 000000000000.`,
  };
}

/** Forwards the passing entries and merges kinesalite's answer with the failed ones, in order. */
async function putPartially(
  upstream: URL,
  incoming: IncomingMessage,
  parsed: z.infer<typeof putRecordsRequest>,
  failing: ReadonlySet<number>,
  plan: KinesisFaultPlan,
) {
  const passing = parsed.Records.filter((_, index) => !failing.has(index));
  const answer = await forward(
    upstream,
    incoming,
    Buffer.from(JSON.stringify({ ...parsed, Records: passing })),
  );
  if (answer.status !== 200) return { answer, overtaken: 0 };
  const stored = putRecordsResponse.parse(JSON.parse(answer.body.toString('utf8')));
  let next = 0;
  const records = parsed.Records.map((entry, index) =>
    failing.has(index)
      ? throttled(shardOf(entry, plan.shardStartKeys), plan.stream)
      : (stored.Records[next++] ?? {}),
  );
  const shards = parsed.Records.map((entry) => shardOf(entry, plan.shardStartKeys));
  const overtaken = [...failing].filter((failed) =>
    records.some(
      (record, index) => index > failed && shards[index] === shards[failed] && 'SequenceNumber' in record,
    ),
  ).length;
  const merged = { FailedRecordCount: (stored.FailedRecordCount ?? 0) + failing.size, Records: records };
  const body = Buffer.from(JSON.stringify(merged));
  return {
    answer: { status: 200, headers: { ...answer.headers, 'content-length': String(body.length) }, body },
    overtaken,
  };
}

export async function startKinesisFaultProxy(options: {
  readonly upstream: string;
  readonly plan: KinesisFaultPlan;
}): Promise<KinesisFaultProxy> {
  const upstream = new URL(options.upstream);
  const { plan } = options;
  const injected = { failedEntries: 0, overtaken: 0, requests: 0 };
  let closed = false;
  const handle = async (incoming: IncomingMessage, response: ServerResponse) => {
    const body = await bodyOf(incoming);
    const target = String(incoming.headers['x-amz-target'] ?? '');
    let answer: UpstreamAnswer | undefined;
    if (!closed && target.endsWith('.PutRecords')) {
      const parsed = putRecordsRequest.parse(JSON.parse(body.toString('utf8')));
      if (parsed.StreamName === plan.stream) {
        injected.requests += 1;
        const failing =
          injected.requests % plan.everyNthRequest === 0
            ? entriesToFail(parsed.Records, plan.shardStartKeys)
            : new Set<number>();
        if (failing.size > 0) {
          const partial = await putPartially(upstream, incoming, parsed, failing, plan);
          answer = partial.answer;
          if (answer.status === 200) injected.failedEntries += failing.size;
          injected.overtaken += partial.overtaken;
        }
      }
    }
    answerWith(response, answer ?? (await forward(upstream, incoming, body)));
  };
  const server = await startProxyServer(handle, () => {
    closed = true;
  });
  return { ...server, injected };
}
