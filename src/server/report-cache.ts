import { analyzeBatch, type BatchAnalysis } from "../report/report.js";
import type { Store } from "../store/store.js";
import { ReportWorker } from "./report-worker.js";

/**
 * Reports of a server's batches: each reads every document of its batch, so it is computed off
 * the main thread when it can be (src/server/report-thread.ts) and kept for a while: at most one
 * computation a second while the batch runs, ten seconds otherwise, so that dashboards and
 * scrapers cannot slow the batch down. A change the server makes itself (a retry, a run's end)
 * drops a batch's report at once.
 */
export class ReportCache {
  private readonly cached = new Map<string, { at: number; generation: number; analysis: BatchAnalysis }>();
  /** Bumped whenever a batch's report may be stale; a report computed meanwhile is dropped. */
  private readonly generations = new Map<string, number>();
  private readonly worker: ReportWorker;

  constructor(private readonly store: Store) {
    this.worker = new ReportWorker(store.connectionSpec());
  }

  async analysis(batchId: string, running: boolean): Promise<BatchAnalysis> {
    const generation = this.generations.get(batchId) ?? 0;
    const cached = this.cached.get(batchId);
    const ttl = running ? 1_000 : 10_000;
    if (cached && cached.generation === generation && Date.now() - cached.at < ttl) return cached.analysis;
    const analysis = this.worker.available
      ? await this.worker.analyze(batchId)
      : await analyzeBatch(this.store, batchId);
    if ((this.generations.get(batchId) ?? 0) === generation) {
      this.cached.set(batchId, { at: Date.now(), generation, analysis });
    }
    return analysis;
  }

  invalidate(batchId: string): void {
    this.generations.set(batchId, (this.generations.get(batchId) ?? 0) + 1);
    this.cached.delete(batchId);
  }

  close(): Promise<void> {
    return this.worker.close();
  }
}
