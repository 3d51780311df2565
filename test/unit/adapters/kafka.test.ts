import { describe, expect, it } from 'vitest';
import { createKafka, HeaderBytes } from '../../../shared/adapters/kafka.ts';

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

describe('HeaderBytes: header values as the bytes kafkajs sends', () => {
  it('encodes each value as UTF-8, reusing the bytes of a value repeated under the same name', () => {
    // Arrange
    const headerBytes = new HeaderBytes();

    // Act
    const first = headerBytes.of({ 'driftline-run': 'dt/é.csv@1', 'driftline-seq': '0' });
    const second = headerBytes.of({ 'driftline-run': 'dt/é.csv@1', 'driftline-seq': '1' });
    const third = headerBytes.of({ 'driftline-run': 'dt/other.csv@2', 'driftline-seq': '1' });

    // Assert
    expect(second['driftline-run']).toBe(first['driftline-run']);
    expect(second['driftline-run']?.toString('utf8')).toBe('dt/é.csv@1');
    expect(second['driftline-seq']?.toString('utf8')).toBe('1');
    expect(third['driftline-run']?.toString('utf8')).toBe('dt/other.csv@2');
    expect(third['driftline-seq']).toBe(second['driftline-seq']);
  });
});
