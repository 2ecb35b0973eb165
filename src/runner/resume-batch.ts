import { DocbatchError } from "../core/errors.js";
import { buildReport } from "../report/report.js";
import type { Store } from "../store/store.js";
import { finishDelivery, startDelivery } from "./deliver-batch.js";
import type { StopReason } from "./engine.js";
import { createLogger } from "./logger.js";
import { openRun, processBatch } from "./process-batch.js";
import { exitCodeFor, finished, type RunResult, waitForPlan, withSinkLag } from "./run-batch.js";
import { type ProcessOptions, resolveProcessOptions } from "./run-options.js";
import { settingsFromJson } from "./settings.js";
import type { SinkOptions } from "./sink-options.js";

export interface ResumeBatchOptions extends ProcessOptions, SinkOptions {
  /** An open store; the caller closes it. */
  store: Store;
  batchId: string;
}

/**
 * Processes the unfinished documents of a batch that is already in the store, with the settings
 * it was planned with: what a worker, the server and a backfill do. No input is needed.
 */
export async function resumeBatch(options: ResumeBatchOptions): Promise<RunResult> {
  const processStartedAt = Math.round(performance.timeOrigin);
  const resolved = resolveProcessOptions(options);
  const logger = options.logger ?? createLogger(options.logFile, options.logLevel);
  const { store, batchId } = options;
  const batch = await store.getBatch(batchId);
  if (!batch) {
    throw new DocbatchError("BATCH_NOT_FOUND", `The store holds no batch \`${batchId}\`.`, {
      details: [{ path: "batch_id", problem: `no batch ${JSON.stringify(batchId)}` }],
    });
  }
  const { run } = await openRun(store, batchId, {
    command: options.command ?? "worker",
    ...(options.workerId ? { workerId: options.workerId } : {}),
    leaseMs: resolved.leaseMs,
    processStartedAt,
    logger,
  });
  // In-flight documents were recovered above; now the sink cursors.
  const sinks = await startDelivery(store, batchId, options, logger);
  let stopReason: StopReason = batch.planComplete
    ? "finished"
    : await waitForPlan(store, batchId, options.signal);
  const before = await store.counts(batchId);
  await store.markRunResumed(run, true, before.done + before.degraded);
  if (stopReason === "finished") {
    const settings = settingsFromJson((await store.getBatch(batchId))!.settings);
    stopReason = await processBatch(store, run, settings, resolved, logger, {
      ...(options.onProgress ? { onProgress: withSinkLag(options.onProgress, sinks.delivery) } : {}),
      ...(options.progressIntervalMs ? { progressIntervalMs: options.progressIntervalMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.inject ? { inject: options.inject } : {}),
    });
  }
  await finishDelivery(sinks.delivery, stopReason, sinks.waitMs, logger, batchId);
  await store.endRun(run, stopReason, Date.now());
  logger.info({ event: "run.end", batchId, run: run.run, reason: stopReason }, "run ended");
  const report = await buildReport(store, batchId);
  options.onProgress?.(finished(report));
  return { report, stopReason, exitCode: exitCodeFor(stopReason, report) };
}
