import type { Logger } from "./logger.js";

/**
 * Store calls a run makes on the side (breaker events, the reaper, progress counts): each is
 * tracked until it settles, its failure is logged instead of ending the process as an unhandled
 * rejection, and the run waits for the ones still in flight before it ends, so none writes to a
 * closed store.
 */
export class Background {
  private readonly pending = new Set<Promise<void>>();
  private readonly busy = new Set<string>();

  constructor(private readonly logger: Logger) {}

  /**
   * Runs `task` unless one of the same `key` is still in flight (a slow store gets no pile-up);
   * returns whether it started.
   */
  run(what: string, task: () => Promise<unknown>, key?: string): boolean {
    if (key !== undefined && this.busy.has(key)) return false;
    if (key !== undefined) this.busy.add(key);
    const tracked: Promise<void> = task()
      .then(
        () => {},
        (err: unknown) => {
          this.logger.warn(
            {
              event: "background.failed",
              task: what,
              error: err instanceof Error ? err.message : String(err),
            },
            `${what} failed`,
          );
        },
      )
      .finally(() => {
        this.pending.delete(tracked);
        if (key !== undefined) this.busy.delete(key);
      });
    this.pending.add(tracked);
    return true;
  }

  /** Waits for every task in flight. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
