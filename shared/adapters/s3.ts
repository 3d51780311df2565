/**
 * The S3 adapter: the only file that imports the S3 SDK. Implements replay's ObjectSource and the
 * pipeline's BlobStore (state items too large for DynamoDB, see pipeline/overflow-store.ts).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { FunctionConfig } from '../config.ts';
import { type BlobStore, ObjectNotFoundError, type ObjectSource } from '../pipeline/ports.ts';

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
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch((error) => {
        // A HEAD answer has no body, so the SDK's message for a 404 is only "UnknownError".
        if (isNotFound(error)) {
          throw new ObjectNotFoundError(`s3://${bucket}/${key} does not exist`, { cause: error });
        }
        throw error;
      });
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

function isNotFound(error: unknown): boolean {
  return (
    error instanceof NoSuchKey ||
    (error instanceof S3ServiceException &&
      (error.name === 'NotFound' || error.$metadata.httpStatusCode === 404))
  );
}

/** Blobs in one bucket: whole small objects, read into memory (state items of a few hundred KB). */
export function createS3BlobStore(client: S3Client, bucket: string): BlobStore {
  return {
    async put(key, body) {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ContentType: 'application/json',
        }),
      );
    },
    async get(key) {
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!object.Body) throw new Error(`S3 returned no body for ${bucket}/${key}`);
        return await object.Body.transformToByteArray();
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
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
