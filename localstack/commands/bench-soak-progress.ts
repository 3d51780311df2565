/**
 * How far the soak is, at a constant cost per sample. The rows axis is what the aggregate trigger
 * has delivered (its records, each of `rowsPerRecord` rows); beside it, as the dashboard would, one
 * run's summary is polled. The cumulative summary (no `run=`) reads and merges every run's states,
 * so polling it would read more with every file added (300 states at 30 files), and the emulator's
 * memory would follow the poll, not the pipeline.
 *
 * Once everything has been delivered, the runs' summaries are read to tell when all is aggregated;
 * a run all of whose rows are in the state is not read again (reading all of them every sample
 * while the last ones settled was the soak's own load on the api sandbox). The aggregated count
 * then starts below the delivered one: the rows reported never go back, and `moved` says whether
 * either count changed, so that a soak still aggregating is not taken for a stalled one (a 60 M-row
 * run was: its aggregated count rose for two minutes below the delivered count it had reported).
 */
export interface ProgressSources {
  /** Records the aggregate trigger has delivered so far. */
  readonly deliveredRecords: () => number;
  /** Rows of `run` in the state (its summary), as the API answers. */
  readonly runRows: (run: string) => Promise<number>;
}

export class RunProgress {
  private readonly runs: string[] = [];
  private readonly completeRuns = new Set<string>();
  private reported = 0;
  private lastCounts = '';
  /** Whether the last `rows()` saw a count (delivered or aggregated) other than the call before. */
  moved = false;

  constructor(
    private readonly sources: ProgressSources,
    private readonly options: { readonly rowsPerRecord: number; readonly rowsPerRun: number },
  ) {}

  add(run: string): void {
    this.runs.push(run);
  }

  /** The rows axis: delivered rows until all `expected` are delivered, then aggregated rows. */
  async rows(expected: number): Promise<number> {
    const delivered = Math.min(this.sources.deliveredRecords() * this.options.rowsPerRecord, expected);
    if (delivered < expected) {
      const first = this.runs[0];
      if (first !== undefined) await this.sources.runRows(first);
      return this.report(delivered, `delivered ${delivered}`);
    }
    let aggregated = 0;
    for (const run of this.runs) {
      const rows = this.completeRuns.has(run) ? this.options.rowsPerRun : await this.sources.runRows(run);
      if (rows >= this.options.rowsPerRun) this.completeRuns.add(run);
      aggregated += rows;
    }
    return this.report(aggregated, `aggregated ${aggregated}`);
  }

  private report(rows: number, counts: string): number {
    this.moved = counts !== this.lastCounts;
    this.lastCounts = counts;
    this.reported = Math.max(this.reported, rows);
    return this.reported;
  }
}
