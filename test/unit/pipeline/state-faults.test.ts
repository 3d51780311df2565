/**
 * Throttled and failing state writes (issue 9's fault suite, over the fakes): every Nth call of the
 * state store fails as DynamoDB fails — throughput exceeded, throttled, a timeout whose write was
 * applied, a socket reset — and each failed invocation is retried as its trigger would retry it
 * (aggregate: the whole batch again; replay: the same invocation again, from its checkpoint).
 * The state must end exactly as a run without faults leaves it.
 */
import { describe, expect, it } from 'vitest';
import { generateDt } from '../../../shared/analyses/dt/generator.ts';
import { dtAnalysis } from '../../../shared/analyses/dt/index.ts';
import { analysisById, analysisForObjectKey } from '../../../shared/analyses/registry.ts';
import { aggregateSlices, type BatchSlice } from '../../../shared/pipeline/aggregate.ts';
import type { ItemStore } from '../../../shared/pipeline/ports.ts';
import { cumulativeSummary } from '../../../shared/pipeline/query.ts';
import { type ReplayOutcome, replayObject } from '../../../shared/pipeline/replay.ts';
import {
  FakeClock,
  InMemoryItemStore,
  InMemoryObjectSource,
  RecordingPublisher,
  toBatchSlices,
} from '../../support/fakes.ts';
import { ALL_DYNAMODB_FAULTS, type DynamoDbFault, FaultyItemStore } from '../../support/faulty-item-store.ts';
import { concat } from '../dt/fixtures.ts';

const BUCKET = 'driftline-data';
const KEY = 'dt/faults/telescope.csv';
const RAW = 'data_raw';
const CLEAN = 'data_clean';
const TELESCOPE = Buffer.from(concat([...generateDt({ rows: 4_000, seed: 909, format: 'csv' })]));
/** A retried invocation that fails this often is wedged, not unlucky. */
const MAX_ATTEMPTS = 50;

async function retried<T>(attempt: () => Promise<T>, onFailure: (error: unknown) => void): Promise<T> {
  for (let attempts = 1; ; attempts++) {
    try {
      return await attempt();
    } catch (error) {
      onFailure(error);
      if (attempts >= MAX_ATTEMPTS) throw error;
    }
  }
}

/** replay then aggregate over `store`, each invocation retried until it succeeds. */
async function runPipeline(store: ItemStore, clock: FakeClock, options: { readonly maxRecords: number }) {
  const raw = new RecordingPublisher({ now: clock.now });
  const out = new RecordingPublisher({ now: clock.now });
  const source = new InMemoryObjectSource();
  // Paced (the fake clock's sleeps are instant): a checkpoint every 1,500 rows, so faults hit
  // checkpoints in the middle of the object too.
  source.put(KEY, TELESCOPE, { 'rows-per-record': '10', rate: '50' }, 'etag-faults');
  const failures: string[] = [];
  const note = (error: unknown) => failures.push(error instanceof Error ? error.name : String(error));
  const outcome: ReplayOutcome = await retried(
    () =>
      replayObject(
        { bucket: BUCKET, key: KEY },
        {
          analysisForKey: analysisForObjectKey,
          source,
          publisher: raw,
          store,
          rawTopic: RAW,
          partitions: 10,
          defaults: { rowsPerRecord: 1, rate: 0 },
          // Lambda's async retries keep the request id: the retry owns the lease it took.
          invocationId: 'replay-1',
          remainingMs: clock.deadline(900_000),
          continueLater: async () => {},
          now: clock.now,
          sleep: clock.sleep,
          log: () => {},
        },
      ),
    note,
  );
  const slices: BatchSlice[] = toBatchSlices(raw, RAW, { maxRecords: options.maxRecords });
  const deps = {
    analyses: analysisById,
    store,
    publisher: out,
    topics: { clean: CLEAN, dead: 'data_dead' },
    bucketSeconds: 60,
    batchTtlSeconds: 86_400,
    now: clock.now,
  };
  // The trigger: one batch of a partition in flight at a time, the same batch again until it succeeds.
  for (const slice of slices) await retried(() => aggregateSlices([slice], deps), note);
  return { outcome, out, failures, summary: await cumulativeSummary(store, dtAnalysis, undefined) };
}

describe('state store faults: throttled, timed-out and reset calls, retried as the triggers retry', () => {
  it.each([
    { everyNth: 7, faults: ALL_DYNAMODB_FAULTS, operations: undefined },
    {
      everyNth: 3,
      faults: ['throughput-exceeded', 'throttling'] as DynamoDbFault[],
      operations: ['put'] as const,
    },
    { everyNth: 2, faults: ['timeout'] as DynamoDbFault[], operations: ['put'] as const },
  ])('every $everyNth call fails ($faults): the state equals a run without faults', async (options) => {
    // Arrange
    const [cleanClock, faultyClock] = [new FakeClock(), new FakeClock()];
    const cleanStore = new InMemoryItemStore({ now: cleanClock.now });
    const faultyInner = new InMemoryItemStore({ now: faultyClock.now });
    const faulty = new FaultyItemStore(faultyInner, {
      everyNth: options.everyNth,
      faults: options.faults,
      ...(options.operations ? { operations: options.operations } : {}),
    });

    // Act
    const clean = await runPipeline(cleanStore, cleanClock, { maxRecords: 20 });
    const withFaults = await runPipeline(faulty, faultyClock, { maxRecords: 20 });

    // Assert: faults happened, of the kinds asked for, and changed nothing that was kept
    expect(clean.failures).toEqual([]);
    expect(faulty.injectedCount).toBeGreaterThan(10);
    for (const fault of options.faults) expect(faulty.injected[fault]).toBeGreaterThan(0);
    // A final checkpoint whose answer was lost is found done by the retry.
    expect(['done', 'already-done']).toContain(withFaults.outcome.status);
    expect(withFaults.summary.rows).toBe(4_000);
    expect(withFaults.summary).toEqual(clean.summary);
    expect(faultyInner.itemsOf('state#dt')).toEqual(cleanStore.itemsOf('state#dt'));
    expect(faultyInner.itemsOf('rollup#dt')).toEqual(cleanStore.itemsOf('rollup#dt'));
    // No batch id reached data_clean with two different bodies.
    const bodies = new Map<string, Set<string>>();
    for (const message of withFaults.out.messages(CLEAN)) {
      const id = message.key ?? '';
      bodies.set(id, (bodies.get(id) ?? new Set()).add(Buffer.from(message.value).toString('utf8')));
    }
    expect([...bodies.values()].filter((set) => set.size > 1)).toEqual([]);
  });
});
