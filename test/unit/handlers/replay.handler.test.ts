import { describe, expect, it } from 'vitest';
import { createReplayHandler } from '../../../functions/replay.ts';
import { analysisForObjectKey } from '../../../shared/analyses/registry.ts';
import objectCreated from '../../fixtures/events/s3-object-created.json' with { type: 'json' };
import {
  FakeClock,
  InMemoryItemStore,
  InMemoryObjectSource,
  RecordingPublisher,
} from '../../support/fakes.ts';
import { CapturingLogger, fakeLambdaContext } from '../../support/lambda.ts';

const RAW = 'data_raw';
const FUNCTION_NAME = 'driftline-dev-replay';
/** What the fixture's key `dt/muon+run%3D7.csv` names once decoded. */
const OBJECT_KEY = 'dt/muon run=7.csv';
const BUCKET = 'driftline-datasets-dev';
const HEADER = 'HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS';
// The object the notification announces (its size and MD5 ETag are the fixture's).
const ROWS = [
  '2,0,5,3387200947,100,10',
  '2,1,128,3387200947,101,0',
  '2,0,6,3387200948,7,29',
  '2,1,17,3387200948,9,3',
  '0,1,0,3387315431,0,0',
];

interface Invocation {
  readonly functionName: string;
  readonly event: unknown;
}

function world(options: { readonly rate?: number; readonly objectStored?: boolean } = {}) {
  const clock = new FakeClock();
  const store = new InMemoryItemStore({ now: clock.now });
  const publisher = new RecordingPublisher({ now: clock.now });
  const source = new InMemoryObjectSource();
  if (options.objectStored ?? true) source.put(OBJECT_KEY, Buffer.from(`${HEADER}\n${ROWS.join('\n')}\n`));
  const logger = new CapturingLogger('driftline-replay');
  const invocations: Invocation[] = [];
  const handler = createReplayHandler({
    logger,
    analysisForKey: analysisForObjectKey,
    source,
    publisher,
    store,
    rawTopic: RAW,
    partitions: 10,
    defaults: { rowsPerRecord: 2, rate: options.rate ?? 0 },
    invokeContinuation: async (functionName, event) => {
      invocations.push({ functionName, event });
    },
    now: clock.now,
    sleep: clock.sleep,
  });
  const context = (requestId: string, budgetMs = 900_000) =>
    fakeLambdaContext({ requestId, functionName: FUNCTION_NAME, remainingMs: clock.deadline(budgetMs) });
  return { clock, store, publisher, source, logger, invocations, handler, context };
}

/** The rows that reached data_raw, each record's LF-joined rows split again. */
function rowsIn(publisher: RecordingPublisher): string[] {
  return publisher
    .messages(RAW)
    .flatMap((message) => Buffer.from(message.value).toString('utf8').split('\n'));
}

describe('replay handler', () => {
  it('streams the object of an S3 notification into data_raw and records its progress as done', async () => {
    // Arrange
    const { handler, context, publisher, store, logger } = world();

    // Act
    const outcomes = await handler(objectCreated, context('4c2b4b4e-replay-1'));

    // Assert
    expect(outcomes).toEqual([{ status: 'done', rowsSent: 5, recordsSent: 3 }]);
    expect(rowsIn(publisher).sort()).toEqual([...ROWS].sort());
    for (const message of publisher.messages(RAW)) {
      expect(message.headers?.['driftline-origin']).toMatch(
        new RegExp(`^dt;\\d+;text;${OBJECT_KEY.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}@9e1aecfafa11$`),
      );
    }
    expect(store.itemsOf('replay')).toEqual([
      expect.objectContaining({
        sk: `${BUCKET}/${OBJECT_KEY}`,
        payload: expect.objectContaining({
          status: 'done',
          rowsSent: 5,
          recordsSent: 3,
          objectBytes: 166,
          leaseOwner: '4c2b4b4e-replay-1',
        }),
      }),
    ]);
    expect(logger.lines.map((line) => line.message)).toEqual(['replay: starting', 'replay: done']);
    expect(logger.lines.map((line) => line.function_request_id)).toEqual([
      '4c2b4b4e-replay-1',
      '4c2b4b4e-replay-1',
    ]);
  });

  it('near the deadline invokes itself to continue, and the continuation sends the rest once', async () => {
    // Arrange: 0.1 rows/s checkpoints every 3 rows, 30 s in; 80 s of budget then leaves less
    // than the 60 s margin.
    const { handler, context, publisher, store, logger, invocations } = world({ rate: 0.1 });

    // Act: the notification's invocation, then the one it asked for
    const first = await handler(objectCreated, context('first-invocation', 80_000));
    const second = await handler(invocations[0]?.event, context('second-invocation'));

    // Assert
    expect(first).toEqual([{ status: 'continued', rowsSent: 3, recordsSent: 2 }]);
    expect(invocations).toEqual([
      { functionName: FUNCTION_NAME, event: { continueReplay: { bucket: BUCKET, key: OBJECT_KEY } } },
    ]);
    // Outcomes count this invocation's sends; the progress item counts the object's.
    expect(second).toEqual([{ status: 'done', rowsSent: 2, recordsSent: 2 }]);
    expect(rowsIn(publisher).sort()).toEqual([...ROWS].sort());
    expect(store.itemsOf('replay')[0]?.payload).toMatchObject({
      status: 'done',
      rowsSent: 5,
      recordsSent: 4,
      invocations: 2,
    });
    expect(logger.lines.map((line) => [line.function_request_id, line.message])).toEqual([
      ['first-invocation', 'replay: starting'],
      ['first-invocation', 'replay: near the deadline, continuing in a new invocation'],
      ['second-invocation', 'replay: resuming from checkpoint'],
      ['second-invocation', 'replay: done'],
    ]);
  });

  it('rethrows when the object cannot be read, so that Lambda retries, and logs why under the request id', async () => {
    // Arrange: the notification names an object the bucket does not hold (yet).
    const { handler, context, publisher, logger } = world({ objectStored: false });

    // Act
    const invocation = handler(objectCreated, context('retried-request'));

    // Assert
    await expect(invocation).rejects.toThrow(/NoSuchKey/);
    expect(publisher.messages(RAW)).toHaveLength(0);
    expect(logger.linesWith('replay failed; Lambda retries the event')).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        function_request_id: 'retried-request',
        function_name: FUNCTION_NAME,
        error: expect.objectContaining({ message: expect.stringContaining('NoSuchKey') }),
      }),
    ]);
  });
});
