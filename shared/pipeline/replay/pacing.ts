/** Holds a replay to its rate: rows sent so far are due `rows / rate` seconds after it started. */
export class Pacer {
  private readonly startedAt: number;

  constructor(
    private readonly rate: number,
    private readonly now: () => number,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {
    this.startedAt = now();
  }

  /** Waits until `rowsSent` rows are due (at once when the rate is 0, full speed). */
  async waitFor(rowsSent: number): Promise<void> {
    if (this.rate <= 0) return;
    const dueAt = this.startedAt + (rowsSent / this.rate) * 1000;
    const wait = dueAt - this.now();
    if (wait > 0) await this.sleep(wait);
  }
}
