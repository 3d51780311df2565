/**
 * dt summaries built by the analysis' own code (shared/analyses/dt), so the fixtures are real; the
 * API's answers around them typed by the shared contracts, so they keep the API's shape.
 */
import { summarize } from '../../../shared/analyses/dt/summary.ts';
import { emptyTotals } from '../../../shared/analyses/dt/totals.ts';
import type { CleanMessage, SummaryAnswer } from '../lib/api/schemas.ts';

export interface SummaryFixture {
  /** [chamber, local channel, hits] */
  readonly hits?: readonly (readonly [number, number, number])[];
  readonly rowsRead?: number;
}

export function dtSummary(fixture: SummaryFixture = {}) {
  const totals = { ...emptyTotals(), rowsRead: fixture.rowsRead ?? 0 };
  for (const [chamber, channel, count] of fixture.hits ?? []) {
    totals.occupancy[chamber * 64 + channel] = (totals.occupancy[chamber * 64 + channel] ?? 0) + count;
    totals.chamberHits[chamber] = (totals.chamberHits[chamber] ?? 0) + count;
    totals.multiplicity[chamber * 64 + 3] = (totals.multiplicity[chamber * 64 + 3] ?? 0) + 1;
  }
  return summarize(totals);
}

export function summaryResponse(fixture: SummaryFixture = {}): SummaryAnswer {
  const summary = dtSummary(fixture);
  return {
    analysis: 'dt',
    runs: ['dt/run-1/telescope.csv@abc'],
    partitions: 10,
    rows: fixture.rowsRead ?? 0,
    batches: 3,
    rejectedRows: 0,
    summary,
  };
}

export function batchItem(batchId: string, receivedAtMs: number, rows = 100): CleanMessage {
  return {
    msg_ID: batchId,
    analysis: 'dt',
    run: 'dt/run-1/telescope.csv@abc',
    topic: 'data_raw',
    partition: Number(batchId.split('-')[1] ?? 0),
    ...dtSummary({ hits: [[0, 5, rows / 2]], rowsRead: rows }),
    progress: {
      numInputRows: rows,
      numInputRecords: rows,
      inputRowsPerSecond: 1000,
      processedRowsPerSecond: 5000,
      startOffset: 0,
      endOffset: rows - 1,
      firstRecordTimestampMs: receivedAtMs - 120,
      lastRecordTimestampMs: receivedAtMs - 10,
      receivedAtMs,
      lagMs: { min: 10, max: 120, avg: 50 },
      buckets: [Math.floor((receivedAtMs - 120) / 5_000) * 5_000],
      durationMs: {},
    },
  };
}
