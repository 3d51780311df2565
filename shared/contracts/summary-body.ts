/**
 * What every analysis' batch summary carries beside its own fields (the seam's `summarizeBatch`,
 * core/analysis.ts): the rows it rejected, in total and per reason. These are the canonical rejection
 * counts of a `data_clean` message; each rejected row is also one `data_dead` message of the batch.
 * Rows aggregate refuses before any analysis sees them (no or unknown `driftline-*` headers) belong
 * to no batch summary: the health answer counts them as `unroutedRows`.
 */
import { z } from 'zod';
import { jsonValue } from './json.ts';

const count = z.number().int().min(0);

/** Rows per rejection reason, e.g. `{ "field-count": 2 }`. */
export const rejectionCounts = z.record(z.string(), count);

export const rejectionCountsShape = {
  rows_rejected: count,
  rejected_by_reason: rejectionCounts,
};

/** An analysis' summary body: the rejection counts, and its own fields (any JSON). */
export const summaryBody = z.object(rejectionCountsShape).catchall(jsonValue);
export type SummaryBody = z.infer<typeof summaryBody>;
