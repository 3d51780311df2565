import { describe, expect, it } from 'vitest';
import type { LoadedFunction } from '../../../localstack/lambda-context.ts';
import { isAbandonedReplay, watchAbandonedReplays } from '../../../localstack/replay-continuation.ts';
import type { FunctionDefinition } from '../../../localstack/service-definition.ts';
import {
  CheckpointWriter,
  LEASE_MS,
  type ReplayProgress,
} from '../../../shared/pipeline/replay/checkpoint.ts';
import { replayKey } from '../../../shared/pipeline/state-keys.ts';
import { FakeClock, InMemoryItemStore } from '../../support/fakes.ts';

const BUCKET = 'datasets';

function replayFunction(): Map<string, LoadedFunction> {
  const definition: FunctionDefinition = {
    id: 'replay',
    name: 'driftline-local-replay',
    handlerModule: 'functions/replay.ts',
    handlerExport: 'handler',
    timeoutSeconds: 900,
    memorySizeMb: 1024,
    environment: {},
    s3Triggers: [{ bucket: BUCKET, event: 's3:ObjectCreated:*', existing: true, rules: [] }],
    mskTriggers: [],
    httpRoutes: [],
  };
  return new Map([['replay', { definition, handler: async () => undefined }]]);
}

function progress(key: string, fields: Partial<ReplayProgress>): ReplayProgress {
  return {
    bucket: BUCKET,
    key,
    etag: 'etag',
    analysis: 'dt',
    run: `${key}@etag`,
    status: 'running',
    rowsPerRecord: 1,
    rate: 1000,
    checkpointRows: 10_000,
    rowsSent: 20_000,
    recordsSent: 20_000,
    sequences: [0, 0],
    objectBytes: 1_000_000,
    bytesRead: 400_000,
    startedAtMs: 0,
    updatedAtMs: 0,
    leaseOwner: 'someone',
    leaseUntilMs: 0,
    invocations: 1,
    ...fields,
  };
}

/** A store with one checkpoint per entry, the watch over it, and what it invoked. */
async function watchOver(replays: readonly ReplayProgress[], pending: readonly string[] = []) {
  const clock = new FakeClock(1_000_000);
  const store = new InMemoryItemStore({ now: clock.now });
  for (const replay of replays) {
    await new CheckpointWriter(store, replayKey(replay.bucket, replay.key), undefined).write(replay);
  }
  const invoked: { functionId: string; event: unknown; what: string }[] = [];
  const logs: string[] = [];
  const watch = watchAbandonedReplays({
    functions: replayFunction(),
    store,
    invoker: {
      invokeAsync: (functionId, event, what) => invoked.push({ functionId, event, what }),
      pending: (what) => pending.includes(what),
    },
    log: (line) => logs.push(line),
    // The tests call scan() themselves.
    intervalMs: 3_600_000,
    now: clock.now,
  });
  return { clock, watch, invoked, logs };
}

describe('isAbandonedReplay', () => {
  it('is a running replay whose lease has expired, nothing else', () => {
    expect(isAbandonedReplay(progress('a', { leaseUntilMs: 999 }), 1_000)).toBe(true);
    expect(isAbandonedReplay(progress('a', { leaseUntilMs: 1_001 }), 1_000)).toBe(false);
    expect(isAbandonedReplay(progress('a', { status: 'done' }), 1_000)).toBe(false);
    expect(isAbandonedReplay(progress('a', { status: 'refused' }), 1_000)).toBe(false);
  });
});

describe('watchAbandonedReplays', () => {
  it('continues a released replay at once, from its checkpoint', async () => {
    const { watch, invoked, logs } = await watchOver([progress('dt/a.csv', { leaseUntilMs: 0 })]);

    await watch.scan();
    watch.stop();

    expect(invoked).toEqual([
      {
        functionId: 'replay',
        event: { continueReplay: { bucket: BUCKET, key: 'dt/a.csv' } },
        what: `s3://${BUCKET}/dt/a.csv`,
      },
    ]);
    expect(logs).toEqual([`continuing the unfinished replay of s3://${BUCKET}/dt/a.csv from row 20000`]);
  });

  // Regression test; the bug it caught was: unfinished replays were looked for only once, at the
  // runtime's start, so one whose lease was still live then (its process had just been killed)
  // stayed "running" for ever. Fixed by: looking again every few seconds while the runtime runs.
  it('continues a replay whose lease expires while it runs, once the lease has expired', async () => {
    const { clock, watch, invoked } = await watchOver([
      progress('dt/killed.csv', { leaseUntilMs: 1_060_000 }),
    ]);

    await watch.scan();
    expect(invoked).toEqual([]);
    clock.advance(60_001);
    await watch.scan();
    watch.stop();

    expect(invoked.map((invocation) => invocation.what)).toEqual([`s3://${BUCKET}/dt/killed.csv`]);
  });

  it('leaves alone finished replays, live leases, and objects this runtime is working on', async () => {
    const { watch, invoked } = await watchOver(
      [
        progress('dt/done.csv', { status: 'done' }),
        progress('dt/refused.csv', { status: 'refused' }),
        progress('dt/live.csv', { leaseUntilMs: 2_000_000 }),
        progress('dt/retrying.csv', { leaseUntilMs: 0 }),
      ],
      [`s3://${BUCKET}/dt/retrying.csv`],
    );

    await watch.scan();
    watch.stop();

    expect(invoked).toEqual([]);
  });

  it('continues one object at most once per lease period: a replay that keeps failing is retried slowly', async () => {
    const { clock, watch, invoked } = await watchOver([progress('dt/failing.csv', { leaseUntilMs: 0 })]);

    await watch.scan();
    clock.advance(LEASE_MS - 1);
    await watch.scan();
    clock.advance(1);
    await watch.scan();
    watch.stop();

    expect(invoked).toHaveLength(2);
  });
});
