import type { Rejection } from '../../core/analysis.ts';
import type { OutgoingMessage } from '../ports.ts';

/** Where a rejected row came from and which batch rejected it. */
export interface DeadLetterContext {
  readonly source: string;
  readonly batchId: string;
  readonly analysis: string | undefined;
  readonly run: string | undefined;
}

/** One `data_dead` message. Its key names the row's coordinates, so a republished one is the same. */
export function deadLetter(rejection: Rejection, context: DeadLetterContext): OutgoingMessage {
  return {
    key: `${context.source}-${rejection.partition}-${rejection.offset}-${rejection.rowIndex}`,
    value: JSON.stringify({
      reason: rejection.reason,
      detail: rejection.detail,
      row: rejection.row,
      source: {
        topic: context.source,
        partition: rejection.partition,
        offset: rejection.offset,
        rowIndex: rejection.rowIndex,
      },
      analysis: context.analysis ?? null,
      run: context.run ?? null,
      batchId: context.batchId,
    }),
  };
}

export function countByReason(rejections: readonly Rejection[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const rejection of rejections) counts[rejection.reason] = (counts[rejection.reason] ?? 0) + 1;
  return counts;
}
