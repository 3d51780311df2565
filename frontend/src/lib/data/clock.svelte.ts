/** The current time as state, ticking once a second: what "updated 3 s ago" is derived from. */
export class Clock {
  now = $state(Date.now());
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly periodMs = 1_000) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.now = Date.now();
    this.timer = setInterval(() => {
      this.now = Date.now();
    }, this.periodMs);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
