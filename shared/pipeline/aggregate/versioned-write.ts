import type { Json } from '../../core/analysis.ts';
import { type ItemKey, type ItemStore, RetryableError, type StoredItem } from '../ports.ts';

/**
 * Replaces `previous` (or creates the item when there was none) only if nobody wrote it in between.
 * A lost race is an infrastructure fault for aggregate: the trigger retries the whole batch, which
 * then reads the newer item and applies only what it lacks.
 */
export async function writeVersioned(
  store: ItemStore,
  key: ItemKey,
  previous: StoredItem | undefined,
  payload: Json,
  expiresAt?: number,
): Promise<void> {
  const written = await store.put(
    {
      ...key,
      version: (previous?.version ?? 0) + 1,
      payload,
      ...(expiresAt === undefined ? {} : { expiresAt }),
    },
    previous ? { kind: 'version', version: previous.version } : { kind: 'absent' },
  );
  if (!written) throw new RetryableError(`concurrent update of ${key.pk}/${key.sk}`);
}
