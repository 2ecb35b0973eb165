import type { RunHandle, Store } from "../store/store.js";
import type { StopReason } from "./engine.js";
import type { Logger } from "./logger.js";
import { type CoordinatePlanOptions, coordinatePlan, type PlanTask } from "./plan-coordinator.js";
import { type OpenedRun, openRun, type ProcessHooks, processBatch } from "./process-batch.js";
import type { ProcessOptions, Progress, ResolvedProcessOptions } from "./run-options.js";
import { type PipelineSettings, settingsFromJson } from "./settings.js";
import type { Deliverer } from "./sink-delivery.js";
import type { StoreRetry } from "./store-retry.js";

/** What the steps of a run share, in `runBatch` (from an input) and `resumeBatch` (from the store). */
export interface RunSteps {
  store: Store;
  run: RunHandle;
  options: ProcessOptions;
  resolved: ResolvedProcessOptions;
  logger: Logger;
  retry: StoreRetry;
}

/**
 * Opens this process's run of the batch (see `openRun`) as the options name it: their command, or
 * the entry point's own, and their worker id.
 */
export function openRunAs(
  store: Store,
  batchId: string,
  options: ProcessOptions,
  defaultCommand: string,
  run: { leaseMs: number; processStartedAt: number; logger: Logger },
): Promise<OpenedRun> {
  return openRun(store, batchId, {
    command: options.command ?? defaultCommand,
    ...(options.workerId ? { workerId: options.workerId } : {}),
    ...run,
  });
}

/** Plans the batch on a task of its own (see `coordinatePlan`): this process writes it or waits. */
export function startPlanning(
  plan: PlanTask,
  steps: RunSteps,
  input: Pick<CoordinatePlanOptions, "input" | "unreadable" | "onPlanning">,
): void {
  const { store, run, resolved, logger, options } = steps;
  plan.start(
    coordinatePlan({
      store,
      batchId: run.batchId,
      run,
      leaseMs: resolved.leaseMs,
      storeRetryMs: resolved.storeRetryMs,
      logger,
      ...(options.signal ? { signal: options.signal } : {}),
      ...input,
      writing: (on) => plan.setWriting(on),
    }),
  );
}

export interface AlongsidePlan {
  /** Processing may start while the plan is written (nothing it may change is complete yet). */
  streamable: boolean;
  /** True when this run takes over from an ended or dead run of the batch. */
  resumes: boolean;
  /** False: plan only, process nothing. */
  process: boolean;
  /** The settings to process with when the store holds none for the batch. */
  settings: PipelineSettings;
  delivery: Deliverer | null;
}

/**
 * Processes the batch alongside its plan: at once when the plan may stream, after it otherwise.
 * An interrupted plan makes the run interrupted, whatever processing did.
 */
export async function processAlongsidePlan(
  steps: RunSteps,
  plan: PlanTask,
  how: AlongsidePlan,
): Promise<StopReason> {
  const { store, run } = steps;
  let stopReason: StopReason = how.streamable ? "finished" : await plan.outcome();
  const before = await store.counts(run.batchId);
  await store.markRunResumed(run, how.resumes, before.done + before.degraded);
  if (stopReason === "finished" && how.process) {
    // Processing uses the batch's stored settings: another process may have planned it.
    const stored = (await store.getBatch(run.batchId))?.settings;
    stopReason = await processBatch(
      store,
      run,
      stored ? settingsFromJson(stored) : how.settings,
      steps.resolved,
      steps.logger,
      { ...processHooks(steps.options, plan, steps.retry, how.delivery), before },
    );
  }
  if ((await plan.outcome()) === "interrupted") stopReason = "interrupted";
  return stopReason;
}

/** The hooks of processing that goes on alongside a plan that may still be written. */
export function processHooks(
  options: ProcessOptions,
  plan: PlanTask,
  retry: StoreRetry,
  delivery: Deliverer | null,
): ProcessHooks {
  return {
    ...(options.onProgress ? { onProgress: withSinkLag(options.onProgress, delivery) } : {}),
    ...(options.progressIntervalMs ? { progressIntervalMs: options.progressIntervalMs } : {}),
    signal: plan.signal(options.signal),
    ...(options.inject ? { inject: options.inject } : {}),
    ...(plan.running ? { planning: () => plan.running, planWriting: () => plan.writing } : {}),
    storeRetry: retry,
  };
}

/** Progress with the sinks' lag, for the progress line. */
export function withSinkLag(
  onProgress: (progress: Progress) => void,
  delivery: { lag: number | null } | null,
): (progress: Progress) => void {
  if (!delivery) return onProgress;
  return (progress) => onProgress({ ...progress, sinkLag: delivery.lag });
}
