/** The S3 adapter: the only file that imports the S3 SDK. Implements replay's ObjectSource. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { FunctionConfig } from '../config.ts';
import type { ObjectSource } from '../pipeline/replay.ts';

export function createS3Client(aws: Pick<FunctionConfig['aws'], 'region' | 's3Endpoint'>): S3Client {
  if (!aws.s3Endpoint) return new S3Client({ region: aws.region });
  return new S3Client({
    region: aws.region,
    endpoint: aws.s3Endpoint,
    forcePathStyle: true,
    // s3rver accepts only these credentials (LocalStack accepts any).
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    // Without these, streamed uploads are stored with their aws-chunked framing inside (s3rver).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

export function createS3ObjectSource(client: S3Client): ObjectSource {
  return {
    async head(bucket, key) {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return {
        size: head.ContentLength ?? 0,
        etag: (head.ETag ?? '').replaceAll('"', ''),
        metadata: Object.fromEntries(
          Object.entries(head.Metadata ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
        ),
      };
    },
    async read(bucket, key) {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      // On Node the body is a Readable stream: consumed chunk by chunk, never buffered whole.
      if (!isAsyncIterable(object.Body)) throw new Error(`S3 returned no readable body for ${bucket}/${key}`);
      return object.Body;
    },
  };
}

/** Uploads a local file (streamed, not read whole) with user metadata; returns the ETag. */
export async function putObjectFromFile(
  client: S3Client,
  target: {
    readonly bucket: string;
    readonly key: string;
    readonly file: string;
    readonly metadata?: Record<string, string>;
  },
): Promise<string> {
  const { size } = await stat(target.file);
  const result = await client.send(
    new PutObjectCommand({
      Bucket: target.bucket,
      Key: target.key,
      Body: createReadStream(target.file),
      ContentLength: size,
      ...(target.metadata ? { Metadata: target.metadata } : {}),
    }),
  );
  return (result.ETag ?? '').replaceAll('"', '');
}
