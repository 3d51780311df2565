/** The S3 adapter: the only file that imports the S3 SDK. */
import { S3Client } from '@aws-sdk/client-s3';
import type { FunctionConfig } from '../config.ts';

export function createS3Client(aws: FunctionConfig['aws']): S3Client {
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
