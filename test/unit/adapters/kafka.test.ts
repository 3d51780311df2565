import { describe, expect, it } from 'vitest';
import { createKafka } from '../../../shared/adapters/kafka.ts';

// The MSK IAM path cannot be exercised against MSK here (no AWS); these check what can fail locally.
describe('createKafka', () => {
  it('refuses MSK IAM without a region to sign tokens for', () => {
    expect(() => createKafka({ brokers: ['b-1.msk:9098'], auth: 'iam' }, { clientId: 't' })).toThrow(
      /region/,
    );
  });

  it('builds clients for plaintext and for MSK IAM', () => {
    expect(
      createKafka({ brokers: ['127.0.0.1:7800'], auth: 'none' }, { clientId: 't' }).producer(),
    ).toBeDefined();
    expect(
      createKafka(
        { brokers: ['b-1.msk:9098'], auth: 'iam', region: 'eu-west-1' },
        { clientId: 't' },
      ).producer(),
    ).toBeDefined();
  });
});
