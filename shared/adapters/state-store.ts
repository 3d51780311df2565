/**
 * The state store every function uses: DynamoDB items, with payloads too large for an item kept in
 * the state bucket (S3) behind a pointer. Only wiring; the adapters and overflow-store.ts do the work.
 */
import type { FunctionConfig } from '../config.ts';
import { withBlobOverflow } from '../pipeline/overflow-store.ts';
import type { ItemStore } from '../pipeline/ports.ts';
import { createDynamoDbClient, createDynamoDbItemStore } from './dynamodb.ts';
import { createS3BlobStore, createS3Client } from './s3.ts';

export function createStateStore(
  config: Pick<FunctionConfig, 'aws' | 'stateTable' | 'stateBucket' | 'stateInlineMaxBytes'>,
  onOrphan?: (blobKey: string, error: unknown) => void,
): ItemStore {
  return withBlobOverflow(
    createDynamoDbItemStore(createDynamoDbClient(config.aws), config.stateTable),
    createS3BlobStore(createS3Client(config.aws), config.stateBucket),
    { inlineMaxBytes: config.stateInlineMaxBytes, ...(onOrphan ? { onOrphan } : {}) },
  );
}
