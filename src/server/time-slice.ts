/**
 * Long answers (an export of millions of chunks) are produced in slices of a few milliseconds,
 * between which the event loop runs: other requests, health checks and timers are answered
 * while the answer streams, instead of after it.
 */
export class TimeSlice {
  private since = performance.now();

  /** @param budgetMs work between two turns of the event loop. @default 8 */
  constructor(private readonly budgetMs = 8) {}

  /** True once this slice's budget is spent. */
  get due(): boolean {
    return performance.now() - this.since >= this.budgetMs;
  }

  /** Lets the event loop run (I/O callbacks included), then starts the next slice. */
  async yield(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.since = performance.now();
  }
}
