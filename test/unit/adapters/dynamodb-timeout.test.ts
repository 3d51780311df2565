/**
 * A DynamoDB request whose answer never comes must fail, so that the invocation fails and its
 * batch is retried, instead of holding the trigger's partitions for ever. The AWS SDK's default is
 * no request timeout at all (and a timeout that only logs); the adapter sets one. Here a local
 * server accepts every request and never answers.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoDbClient, createDynamoDbItemStore } from '../../../shared/adapters/dynamodb.ts';

describe('DynamoDB adapter: a request that is never answered', () => {
  const held: ServerResponse[] = [];
  const silent = createServer((_request: IncomingMessage, response: ServerResponse) => {
    held.push(response);
  });
  let endpoint = '';

  beforeAll(async () => {
    await new Promise<void>((resolveListen) => silent.listen(0, '127.0.0.1', resolveListen));
    endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    silent.closeAllConnections();
    await new Promise((resolveClose) => silent.close(resolveClose));
  });

  it('fails with a TimeoutError after the configured request timeout (and the SDK’s retries)', async () => {
    // Arrange
    const client = createDynamoDbClient({
      region: 'us-east-1',
      dynamodbEndpoint: endpoint,
      dynamodbRequestTimeoutMs: 200,
    });
    const store = createDynamoDbItemStore(client, 'driftline-state-test');

    // Act
    const outcome = await store.get({ pk: 'state#dt', sk: 'run#data_raw#0' }).then(
      () => 'answered',
      (error: unknown) => error,
    );

    // Assert: it gave up (the SDK's attempts of 200 ms each); before, it waited past the test's timeout
    expect(outcome).toMatchObject({ name: 'TimeoutError' });
    expect(held.length).toBeGreaterThanOrEqual(1);
    client.destroy();
  });
});
