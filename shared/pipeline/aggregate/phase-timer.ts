/** Milliseconds spent per phase of one batch, for the summary's `durationMs` (Spark's progress). */
export class PhaseTimer {
  private readonly phases: Record<string, number> = {};
  private mark: number;

  constructor(private readonly now: () => number) {
    this.mark = now();
  }

  /** Charges the time since the previous lap to `phase`. */
  lap(phase: string): void {
    const now = this.now();
    this.phases[phase] = (this.phases[phase] ?? 0) + (now - this.mark);
    this.mark = now;
  }

  /** Moves `ms` already charged to `from` over to `to` (time measured inside another phase). */
  reassign(from: string, to: string, ms: number): void {
    const moved = Math.min(ms, this.phases[from] ?? 0);
    this.phases[from] = (this.phases[from] ?? 0) - moved;
    this.phases[to] = (this.phases[to] ?? 0) + moved;
  }

  durations(): Record<string, number> {
    return { ...this.phases };
  }
}
