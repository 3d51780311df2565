/**
 * The state store every function uses: DynamoDB items, with payloads too large for an item kept in
 * the state bucket (S3) behind a pointer. Only wiring; the adapters and overflow-store.ts do the work.
 */
import type { FunctionConfig } from '../config.ts';
import { withBlobOverflow } from '../pipeline/overflow-store.ts';
import type { ItemStore } from '../pipeline/ports.ts';
import { createDynamoDbClient, createDynamoDbItemStore } from './dynamodb.ts';
import { createS3BlobStore, createS3Client } from './s3.ts';

/** What the store tells its owner about (to log); neither stops it. */
export interface StateStoreWarnings {
  /** A replaced blob could not be deleted: wasted space only. */
  readonly onOrphan?: (blobKey: string, error: unknown) => void;
  /** A read older than this process's own last write, refused and retried (see dynamodb.ts). */
  readonly onStaleRead?: (details: Record<string, unknown>) => void;
}

/** The part of a logger the store's warnings need (Powertools' Logger is one). */
export interface WarningLogger {
  warn(message: string, details: Record<string, unknown>): void;
}

/** The store's warnings as log lines, worded the same in every function. */
export function loggedWarnings(logger: WarningLogger): StateStoreWarnings {
  return {
    onOrphan: (blobKey, error) => logger.warn('could not delete a replaced state blob', { blobKey, error }),
    onStaleRead: (details) => logger.warn('a stale read was refused; the work is retried', details),
  };
}

export function createStateStore(
  config: Pick<FunctionConfig, 'aws' | 'stateTable' | 'stateBucket' | 'stateInlineMaxBytes'>,
  warnings: StateStoreWarnings = {},
): ItemStore {
  return withBlobOverflow(
    createDynamoDbItemStore(
      createDynamoDbClient(config.aws),
      config.stateTable,
      warnings.onStaleRead ? { onStaleRead: warnings.onStaleRead } : {},
    ),
    createS3BlobStore(createS3Client(config.aws), config.stateBucket),
    {
      inlineMaxBytes: config.stateInlineMaxBytes,
      ...(warnings.onOrphan ? { onOrphan: warnings.onOrphan } : {}),
    },
  );
}
