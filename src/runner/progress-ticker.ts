import type { StateCounts } from "../core/types.js";
import type { Store } from "../store/store.js";
import type { Background } from "./background.js";
import type { EngineStats } from "./engine.js";
import type { Logger } from "./logger.js";
import type { Progress } from "./run-options.js";
import type { StoreOutage } from "./store-retry.js";

export interface ProgressTickerOptions {
  store: Store;
  batchId: string;
  /** The batch's counts when processing started. */
  before: StateCounts;
  stats: () => EngineStats;
  onProgress: (progress: Progress) => void;
  /** @default 200 */
  intervalMs?: number;
  /** True while this process is still writing the plan: the total grows. */
  planning?: () => boolean;
  background: Background;
  logger: Logger;
}

/**
 * Calls `onProgress` every interval with the run's progress: the engine's tallies on top of the
 * counts the batch had when the run began. While the plan is still being written the total is
 * read again from the store (one read at a time, in the background) until the plan is complete.
 * A progress callback that throws (a display's bug) is logged and never ends the run.
 */
export class ProgressTicker {
  private readonly progress: Progress;
  private timer: NodeJS.Timeout | null = null;
  private totalFinal: boolean;

  constructor(private readonly options: ProgressTickerOptions) {
    const { before, batchId } = options;
    this.totalFinal = !options.planning;
    this.progress = {
      batchId,
      total: before.total,
      completed: before.done + before.degraded,
      failed: before.failed,
      pending: before.pending + before.processing,
      inFlight: 0,
      retriesWaiting: 0,
      breaker: "closed",
      startedAt: Date.now(),
      processedThisRun: 0,
      phase: "processing",
      planned: before.total,
      planning: options.planning?.() ?? false,
      storeRetry: null,
    };
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.intervalMs ?? 200);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  set breaker(state: string) {
    this.progress.breaker = state;
  }

  set storeOutage(outage: StoreOutage | null) {
    this.progress.storeRetry = outage;
  }

  private tick(): void {
    const { before, store, batchId } = this.options;
    const progress = this.progress;
    const planning = this.options.planning?.() ?? false;
    if (!this.totalFinal) {
      // The read that starts after planning ended is the last one: the total is final from then on.
      const started = this.options.background.run(
        "progress counts",
        async () => {
          const counts = await store.counts(batchId);
          progress.total = Math.max(progress.total, counts.total);
          progress.planned = progress.total;
        },
        "counts",
      );
      if (started && !planning) this.totalFinal = true;
    }
    const s = this.options.stats();
    progress.planning = planning;
    progress.completed = before.done + before.degraded + s.completed + s.degraded;
    progress.failed = before.failed + s.failed;
    progress.inFlight = s.inFlight;
    progress.retriesWaiting = s.waiting;
    progress.processedThisRun = s.completed + s.degraded + s.failed;
    // Settled documents may run ahead of a total read a moment ago: the total is at least those.
    progress.total = Math.max(progress.total, progress.completed + progress.failed);
    progress.pending = Math.max(0, progress.total - progress.completed - progress.failed);
    try {
      this.options.onProgress({ ...progress });
    } catch (err) {
      this.options.logger.warn(
        { event: "progress.failed", error: err instanceof Error ? err.message : String(err) },
        "progress callback failed",
      );
    }
  }
}
