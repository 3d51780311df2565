import { describe, expect, it } from 'vitest';
import { decodeMskEvent } from '../../../shared/pipeline/msk-event.ts';
import { continuationEvent, decodeReplayEvent } from '../../../shared/pipeline/replay-event.ts';
import mskEvent from '../../fixtures/events/msk-data-raw.json' with { type: 'json' };

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

// The fixture is an Amazon MSK trigger event as Lambda delivers it (the AWS documentation's shape):
// offsets out of order, a header Java serialised signed ("é" as -61, -87), a null key and value, an
// empty partition. The aggregate handler's test (test/unit/handlers) replays the same recording.
describe('decodeMskEvent', () => {
  it('decodes a realistic MSK event: one slice per topic-partition, values and headers decoded, offsets sorted', () => {
    // Act
    const slices = decodeMskEvent(mskEvent);

    // Assert
    expect(slices.map((slice) => [slice.source, slice.partition, slice.records.length])).toEqual([
      ['data_raw', 0, 2],
      ['data_raw', 7, 2],
    ]);
    const [p0, p7] = slices;
    expect(p0?.records.map((record) => record.position)).toEqual(['15', '16']);
    const first = p0?.records[0];
    expect(Buffer.from(first?.value ?? []).toString('utf8')).toBe(
      '2,0,5,3387200947,100,10\n2,1,128,3387200947,101,0',
    );
    expect(first?.timestampMs).toBe(1_700_000_000_200);
    expect(Object.fromEntries(first?.headers ?? [])).toEqual({
      'driftline-analysis': 'dt',
      'driftline-run': 'dt/my file=1.csv@0123abcd',
      'driftline-seq': '7',
      'driftline-format': 'text',
    });
    expect(p0?.records[1]?.headers.get('driftline-seq')).toBe('8');
    expect(p7?.records[0]?.headers.get('note')).toBe('café');
    expect(p7?.records[1]?.value).toHaveLength(0);
    expect(p7?.records[1]?.headers.size).toBe(0);
  });

  it('accepts a self-managed Kafka event and records with no headers field', () => {
    // Arrange
    const event = {
      eventSource: 'SelfManagedKafka',
      bootstrapServers: '127.0.0.1:9092',
      records: {
        'data_raw-2': [{ topic: 'data_raw', partition: 2, offset: 0, timestamp: 1, value: b64('x') }],
      },
    };

    // Act
    const slices = decodeMskEvent(event);

    // Assert
    expect(slices).toHaveLength(1);
    expect(slices[0]?.records[0]?.headers.size).toBe(0);
    expect(Buffer.from(slices[0]?.records[0]?.value ?? []).toString()).toBe('x');
  });

  it.each([
    { name: 'not an object', event: 'hello' },
    { name: 'no records', event: { eventSource: 'aws:kafka' } },
    { name: 'another source', event: { eventSource: 'aws:kinesis', records: {} } },
    {
      name: 'a negative offset',
      event: {
        eventSource: 'aws:kafka',
        records: { 't-0': [{ topic: 't', partition: 0, offset: -1, timestamp: 1, value: '' }] },
      },
    },
    {
      name: 'an offset as a string',
      event: {
        eventSource: 'aws:kafka',
        records: { 't-0': [{ topic: 't', partition: 0, offset: '5', timestamp: 1, value: '' }] },
      },
    },
    {
      name: 'a value that is not a string',
      event: {
        eventSource: 'aws:kafka',
        records: { 't-0': [{ topic: 't', partition: 0, offset: 1, timestamp: 1, value: [1, 2] }] },
      },
    },
    {
      name: 'headers that are not byte arrays',
      event: {
        eventSource: 'aws:kafka',
        records: {
          't-0': [{ topic: 't', partition: 0, offset: 1, timestamp: 1, value: '', headers: [{ a: 'text' }] }],
        },
      },
    },
  ])('throws on $name', ({ event }) => {
    expect(() => decodeMskEvent(event)).toThrow();
  });
});

/** An S3 ObjectCreated notification as Lambda receives it (keys are form-encoded). */
function s3EventFixture(records: { eventName: string; key: string }[]): unknown {
  return {
    Records: records.map(({ eventName, key }) => ({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'eu-west-1',
      eventTime: '2024-05-01T12:00:00.000Z',
      eventName,
      userIdentity: { principalId: 'AWS:AIDAEXAMPLE' },
      requestParameters: { sourceIPAddress: '203.0.113.7' },
      responseElements: { 'x-amz-request-id': 'C3D13FE58DE4C810', 'x-amz-id-2': 'FMyUVURIY8' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'replay-on-upload',
        bucket: {
          name: 'driftline-data',
          ownerIdentity: { principalId: 'A3NL1KOZZKExample' },
          arn: 'arn:aws:s3:::driftline-data',
        },
        object: {
          key,
          size: 1024,
          eTag: 'd41d8cd98f00b204e9800998ecf8427e',
          sequencer: '0055AED6DCD90281E5',
        },
      },
    })),
  };
}

describe('decodeReplayEvent', () => {
  it('decodes form-encoded keys of an S3 notification', () => {
    // Arrange
    const event = s3EventFixture([
      { eventName: 'ObjectCreated:Put', key: 'dt/my+file%3D1.csv' },
      { eventName: 'ObjectCreated:CompleteMultipartUpload', key: 'dt/a%2Bb%20c%2C%28d%29.csv.gz' },
    ]);

    // Act
    const requests = decodeReplayEvent(event);

    // Assert
    expect(requests).toEqual([
      { bucket: 'driftline-data', key: 'dt/my file=1.csv' },
      { bucket: 'driftline-data', key: 'dt/a+b c,(d).csv.gz' },
    ]);
  });

  it('ignores records that are not ObjectCreated', () => {
    // Arrange
    const event = s3EventFixture([
      { eventName: 'ObjectRemoved:Delete', key: 'dt/gone.csv' },
      { eventName: 'ObjectCreated:Copy', key: 'dt/copied.csv' },
    ]);

    // Act / Assert
    expect(decodeReplayEvent(event)).toEqual([{ bucket: 'driftline-data', key: 'dt/copied.csv' }]);
  });

  it('decodes its own continuation event, keys taken literally (not form-decoded)', () => {
    // Arrange
    const request = { bucket: 'driftline-data', key: 'dt/my file+1%.csv' };

    // Act
    const decoded = decodeReplayEvent(JSON.parse(JSON.stringify(continuationEvent(request))));

    // Assert
    expect(decoded).toEqual([request]);
    expect(continuationEvent(request)).toEqual({ continueReplay: request });
  });

  it.each([
    { name: 'an empty object', event: {} },
    { name: 'null', event: null },
    { name: 'a continuation without key', event: { continueReplay: { bucket: 'b' } } },
    {
      name: 'records of another service',
      event: {
        Records: [
          { eventSource: 'aws:sqs', eventName: 'x', s3: { bucket: { name: 'b' }, object: { key: 'k' } } },
        ],
      },
    },
    {
      name: 'an S3 record without object',
      event: {
        Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' } } }],
      },
    },
  ])('throws on $name', ({ event }) => {
    expect(() => decodeReplayEvent(event)).toThrow();
  });
});
