import type { Rejection } from '../../core/analysis.ts';
import type { OutgoingMessage, Publisher } from '../ports.ts';

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

/** Dead letters per publish: a batch's rejections are sent (and let go) in chunks of this many. */
export const DEAD_LETTER_CHUNK = 1000;

/**
 * Counts every rejection and sends it to the dead-letter topic as it comes, in chunks, keeping
 * none: a batch of millions of bad rows costs one chunk of memory, not one object per row.
 * A retried batch sends the same letters again under the same keys (data_dead is at least once).
 */
export class DeadLetterSink {
  private count = 0;
  private readonly counts: Record<string, number> = {};
  private publishing = 0;

  constructor(
    private readonly publisher: Publisher,
    private readonly topic: string,
    private readonly context: DeadLetterContext,
    private readonly now: () => number,
  ) {}

  async add(rejections: readonly Rejection[]): Promise<void> {
    for (let start = 0; start < rejections.length; start += DEAD_LETTER_CHUNK) {
      const chunk = rejections.slice(start, start + DEAD_LETTER_CHUNK);
      for (const rejection of chunk) this.counts[rejection.reason] = (this.counts[rejection.reason] ?? 0) + 1;
      this.count += chunk.length;
      const started = this.now();
      await this.publisher.publish(
        this.topic,
        chunk.map((rejection) => deadLetter(rejection, this.context)),
      );
      this.publishing += this.now() - started;
    }
  }

  get rejectedRows(): number {
    return this.count;
  }

  get byReason(): Readonly<Record<string, number>> {
    return this.counts;
  }

  /** Milliseconds spent publishing, for the batch's `durationMs.deadLetters`. */
  get publishMs(): number {
    return this.publishing;
  }
}
