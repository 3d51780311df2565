import { describe, expect, it } from 'vitest';
import { createAggregateHandler } from '../../../functions/aggregate.ts';
import { analysisById } from '../../../shared/analyses/registry.ts';
import { decodeKinesisEvent } from '../../../shared/pipeline/kinesis-event.ts';
import kinesisEvent from '../../fixtures/events/kinesis-data-raw.json' with { type: 'json' };
import mskEvent from '../../fixtures/events/msk-data-raw.json' with { type: 'json' };
import { FakeClock, InMemoryItemStore, RecordingPublisher } from '../../support/fakes.ts';
import { CapturingLogger, fakeLambdaContext } from '../../support/lambda.ts';

const CLEAN = 'data_clean';
const DEAD = 'data_dead';
/** The run the fixture's partition-0 records carry in their driftline-run header. */
const RUN = 'dt/my file=1.csv@0123abcd';

function world(options: { readonly transport?: 'kafka' | 'kinesis' } = {}) {
  const clock = new FakeClock();
  const store = new InMemoryItemStore({ now: clock.now });
  const publisher = new RecordingPublisher({ now: clock.now });
  const logger = new CapturingLogger('driftline-aggregate');
  const handler = createAggregateHandler({
    logger,
    analyses: analysisById,
    store,
    publisher,
    topics: { clean: CLEAN, dead: DEAD },
    bucketSeconds: 5,
    batchTtlSeconds: 86_400,
    now: clock.now,
    ...(options.transport === 'kinesis' ? { decodeEvent: decodeKinesisEvent } : {}),
  });
  return { clock, store, publisher, logger, handler };
}

function jsonTexts(publisher: RecordingPublisher, topic: string): unknown[] {
  return publisher.texts(topic).map((text) => JSON.parse(text));
}

describe('aggregate handler', () => {
  it('folds the MSK batch into state, publishes its summary to data_clean and dead-letters unrouted records', async () => {
    // Arrange
    const { handler, store, publisher, logger } = world();

    // Act
    const outcomes = await handler(mskEvent, fakeLambdaContext({ requestId: 'msk-invocation-1' }));

    // Assert
    expect(outcomes).toEqual([
      expect.objectContaining({ batchId: 'data_raw-0-15-16', analysis: 'dt', run: RUN, inputRows: 3 }),
      expect.objectContaining({ batchId: 'data_raw-7-3-4', analysis: undefined, rejectedRows: 2 }),
    ]);
    expect(store.itemsOf('state#dt')).toEqual([
      expect.objectContaining({
        sk: `${RUN}#data_raw#0`,
        payload: expect.objectContaining({ lastSequence: 8, rows: 3, batches: 1, rejectedRows: 0 }),
      }),
    ]);
    expect(store.itemsOf('unrouted')).toEqual([
      expect.objectContaining({
        sk: 'data_raw#7',
        payload: expect.objectContaining({ rows: 2, byReason: { 'bad-origin': 2 } }),
      }),
    ]);
    expect(publisher.messages(CLEAN).map((message) => message.key)).toEqual(['data_raw-0-15-16']);
    expect(jsonTexts(publisher, CLEAN)).toEqual([
      expect.objectContaining({
        analysis: 'dt',
        run: RUN,
        partition: 0,
        rows_read: 3,
        hit_count: 2,
        scintillator_hits: 1,
      }),
    ]);
    expect(jsonTexts(publisher, DEAD)).toEqual([
      expect.objectContaining({ reason: 'bad-origin', row: '0,1,0,3387315431,0,0' }),
      expect.objectContaining({ reason: 'bad-origin', row: '' }),
    ]);
    expect(logger.lines).toEqual([
      expect.objectContaining({
        level: 'INFO',
        message: 'batches aggregated',
        function_request_id: 'msk-invocation-1',
        batches: 2,
        rows: 5,
        rejected: 2,
        duplicates: 0,
      }),
    ]);
  });

  it('changes nothing when the trigger delivers the same batch again', async () => {
    // Arrange
    const { handler, store } = world();
    await handler(mskEvent, fakeLambdaContext({ requestId: 'first-delivery' }));
    const stateBefore = store.itemsOf('state#dt');

    // Act
    const outcomes = await handler(mskEvent, fakeLambdaContext({ requestId: 'redelivery' }));

    // Assert
    expect(outcomes.find((outcome) => outcome.analysis === 'dt')).toMatchObject({
      duplicate: true,
      inputRows: 0,
    });
    expect(store.itemsOf('state#dt')).toEqual(stateBefore);
  });

  it('rethrows a state store fault, so that the trigger retries the batch, and logs it under the request id', async () => {
    // Arrange
    const { handler, store, publisher, logger } = world();
    store.failNext('get', {
      when: (key) => key.pk === 'state#dt',
      error: () => new Error('ProvisionedThroughputExceededException'),
    });

    // Act
    const invocation = handler(mskEvent, fakeLambdaContext({ requestId: 'throttled-invocation' }));

    // Assert
    await expect(invocation).rejects.toThrow('ProvisionedThroughputExceededException');
    expect(publisher.messages(CLEAN)).toHaveLength(0);
    expect(logger.lines).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        message: 'aggregate failed; the batch will be retried',
        function_request_id: 'throttled-invocation',
        error: expect.objectContaining({ message: 'ProvisionedThroughputExceededException' }),
      }),
    ]);
  });

  it('refuses an event that is not a Kafka trigger event, with the reason in the log', async () => {
    // Arrange
    const { handler, logger } = world();
    const notKafka = { Records: [{ eventSource: 'aws:sqs', body: '{}' }] };

    // Act
    const invocation = handler(notKafka, fakeLambdaContext({ requestId: 'misrouted-event' }));

    // Assert
    await expect(invocation).rejects.toThrow();
    expect(logger.lines).toEqual([
      expect.objectContaining({ level: 'ERROR', function_request_id: 'misrouted-event' }),
    ]);
  });
});

/** The fixture's shard-0 sequence numbers: 56 digits, neighbours that are equal as JavaScript numbers. */
const FIRST_SEQUENCE = '49656558490523159068432168740935780459837648203477194242';
const LAST_SEQUENCE = '49656558490523159068432168740935780459837648203477194250';

describe('aggregate handler on the Kinesis transport', () => {
  it('folds a Kinesis batch like the MSK one: same state, summary and dead letters, batch id from the sequence numbers', async () => {
    // Arrange
    const { handler, store, publisher } = world({ transport: 'kinesis' });

    // Act
    const outcomes = await handler(kinesisEvent, fakeLambdaContext({ requestId: 'kinesis-invocation-1' }));

    // Assert
    const batchId = `data_raw-0-${FIRST_SEQUENCE}-${LAST_SEQUENCE}`;
    expect(outcomes).toEqual([
      expect.objectContaining({ batchId, analysis: undefined, rejectedRows: 1 }),
      expect.objectContaining({ batchId, analysis: 'dt', run: RUN, inputRows: 3, duplicate: false }),
    ]);
    expect(store.itemsOf('state#dt')).toEqual([
      expect.objectContaining({
        sk: `${RUN}#data_raw#0`,
        payload: expect.objectContaining({ lastSequence: 8, rows: 3, batches: 1 }),
      }),
    ]);
    expect(publisher.messages(CLEAN).map((message) => message.key)).toEqual([batchId]);
    expect(jsonTexts(publisher, CLEAN)).toEqual([
      expect.objectContaining({
        analysis: 'dt',
        partition: 0,
        rows_read: 3,
        hit_count: 2,
        scintillator_hits: 1,
      }),
    ]);
    expect(jsonTexts(publisher, DEAD)).toEqual([
      expect.objectContaining({ reason: 'bad-origin', row: '0,1,0,3387315431,0,0' }),
    ]);
  });

  it('changes nothing when the same shard batch is delivered again (bisected or retried)', async () => {
    // Arrange
    const { handler, store } = world({ transport: 'kinesis' });
    await handler(kinesisEvent, fakeLambdaContext({ requestId: 'first-delivery' }));
    const stateBefore = store.itemsOf('state#dt');

    // Act
    const outcomes = await handler(kinesisEvent, fakeLambdaContext({ requestId: 'redelivery' }));

    // Assert
    expect(outcomes.find((outcome) => outcome.analysis === 'dt')).toMatchObject({ duplicate: true });
    expect(store.itemsOf('state#dt')).toEqual(stateBefore);
  });

  it('refuses an MSK event on a Kinesis stage', async () => {
    const { handler } = world({ transport: 'kinesis' });
    await expect(handler(mskEvent, fakeLambdaContext({ requestId: 'wrong-transport' }))).rejects.toThrow();
  });
});
