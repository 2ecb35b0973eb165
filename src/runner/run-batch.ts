import fs from "node:fs";
import path from "node:path";
import { defaultBatchId, type InputSource, openInput } from "../input/sources.js";
import { validateInput } from "../input/validate.js";
import { type BatchReport, buildReport } from "../report/report.js";
import { DEFAULT_DB } from "../store/open.js";
import { SqliteStore } from "../store/sqlite/index.js";
import type { Store } from "../store/store.js";
import { finishDelivery, startDelivery } from "./deliver-batch.js";
import type { StopReason } from "./engine.js";
import { InputThread } from "./input-runner.js";
import { deadRuns } from "./liveness.js";
import { createLogger, type Logger } from "./logger.js";
import { type PlanSummary, planBatch } from "./planner.js";
import { openRun, processBatch } from "./process-batch.js";
import {
  type OutputOptions,
  type ProcessOptions,
  type Progress,
  pipelineSettings,
  resolveProcessOptions,
} from "./run-options.js";
import { layerOf, settingsFromJson, settingsToJson } from "./settings.js";
import type { SinkOptions } from "./sink-options.js";

export type { OutputOptions, ProcessOptions, Progress } from "./run-options.js";

/** The options of `runBatch` (and of `docbatch run`). Everything but `input` is optional. */
export interface RunBatchOptions extends ProcessOptions, OutputOptions, SinkOptions {
  /** A .json, .jsonl/.ndjson file or a directory. */
  input: string;
  /** The SQLite store. @default ".docbatch/docbatch.db" */
  db?: string;
  /** A store to use instead of `db` (e.g. a PostgresStore); the caller opens and closes it. */
  store?: Store;
  /** @default the input's batch_id, else a stable id derived from the input's path */
  batchId?: string;
  /** `full` (default) or `normal` SQLite synchronous mode. */
  durability?: "full" | "normal";
  /** `path` documents resolve inside this folder. @default the input's folder */
  root?: string;
  /** Recorded as the batch's input. @default the input's absolute path */
  inputRef?: string;
  /** Skip validation: the caller validated this exact input already. */
  prevalidated?: { hasPaths: boolean };
  /** Plan (or finish planning) and stop: workers process the batch (`docbatch submit`). */
  planOnly?: boolean;
}

export interface RunResult {
  report: BatchReport;
  stopReason: StopReason;
  /** The contract's exit code for this result. */
  exitCode: number;
}

/** JSON Lines inputs from this size on are validated on a thread of their own. */
const VALIDATE_IN_THREAD_FROM_BYTES = 16 * 1024 * 1024;

/**
 * Plans a batch from its input (or resumes planning), then processes every unfinished document,
 * and returns the report. Re-running it after any interruption continues where it stopped.
 */
export async function runBatch(options: RunBatchOptions): Promise<RunResult> {
  const processStartedAt = Math.round(performance.timeOrigin);
  const settings = pipelineSettings(options);
  const resolved = resolveProcessOptions(options);
  const logger: Logger = options.logger ?? createLogger(options.logFile, options.logLevel);
  const dbFile = path.resolve(options.db ?? DEFAULT_DB);
  const source = await openInput(options.input, {
    exclude: options.store ? [] : [dbFile],
    ...(options.root ? { root: options.root } : {}),
  });
  const batchId = options.batchId?.trim() || defaultBatchId(source);
  const layer = layerOf(settings);
  const fingerprint = await batchFingerprint(source, layer);

  const inputRef = {
    path: source.location,
    exclude: options.store ? [] : [dbFile],
    ...(options.root ? { root: options.root } : {}),
  };
  // A large streamed input is validated on a thread of its own, whose memory (the identities of
  // millions of documents) is freed when it ends; a small one, or a JSON file (in memory already),
  // is validated here, without a thread's start-up.
  const validate = async () =>
    source.kind === "jsonl" &&
    InputThread.available() &&
    (await fs.promises.stat(source.location)).size >= VALIDATE_IN_THREAD_FROM_BYTES
      ? InputThread.validate(inputRef)
      : validateInput(source);
  // A new store file is created only for a valid input: validate first when there is none yet.
  let validated = options.prevalidated ?? null;
  if (!validated && !options.store && !fs.existsSync(dbFile)) validated = await validate();
  const store = options.store ?? new SqliteStore({ file: dbFile, durability: options.durability ?? "full" });
  if (!options.store) await store.open();
  try {
    const existing = await store.getBatch(batchId);
    if (!validated && existing?.fingerprint !== fingerprint) validated = await validate();

    const { run } = await openRun(store, batchId, {
      command: options.command ?? "run",
      ...(options.workerId ? { workerId: options.workerId } : {}),
      leaseMs: resolved.leaseMs,
      processStartedAt,
      logger,
    });
    // In-flight documents were recovered above; now the sink cursors.
    const sinks = await startDelivery(store, batchId, options, logger, !options.planOnly);
    const cursor = await store.beginPlan({
      batchId,
      layer,
      settings: settingsToJson({ ...settings, root: source.root.realRoot }),
      inputRef: options.inputRef ?? source.location,
      fingerprint: validated?.hasPaths ? null : fingerprint,
    });
    let stopReason: StopReason = "finished";
    // Processing starts while the plan is being written when nothing it may change is complete
    // already: a new batch, or the rest of an interrupted plan of the same input. A changed
    // input (a new plan generation over existing documents) is planned first.
    const streamable = !options.planOnly && (!cursor.existed || cursor.batch.planRecords > 0);
    let planning: Promise<PlanSummary | null> | null = null;
    let planningActive = false;
    const planFailed = new AbortController();
    // One process plans; the others wait, and take over from the plan checkpoint if it dies.
    for (let upToDate = cursor.upToDate; !upToDate; ) {
      const dead = deadRuns(await store.listRuns(batchId), run.run, resolved.leaseMs, Date.now());
      const lock = await store.tryPlanLock(batchId, run, resolved.leaseMs, dead);
      if (lock) {
        const batch = (await store.getBatch(batchId))!;
        options.onProgress?.({ ...idle(batchId, "planning"), planned: batch.planRecords });
        const spec = store.connectionSpec();
        const inThread = spec !== null && InputThread.available();
        const plan = (
          batch.planComplete
            ? Promise.resolve(null)
            : inThread
              ? InputThread.plan(
                  {
                    store: spec,
                    input: inputRef,
                    batch,
                    maxDocBytes: settings.maxDocBytes,
                    layer,
                  },
                  lock,
                  resolved.leaseMs,
                  options.signal,
                )
              : planBatch(store, source, batch, {
                  maxDocBytes: settings.maxDocBytes,
                  layer,
                  lock,
                  lockTtlMs: resolved.leaseMs,
                  ...(options.signal ? { signal: options.signal } : {}),
                })
        ).finally(() => lock.release());
        if (streamable) {
          planningActive = true;
          const running = plan.finally(() => {
            planningActive = false;
          });
          running.catch(() => planFailed.abort());
          planning = running;
        } else {
          stopReason = planOutcome(await plan, logger, batchId, run.run);
        }
        break;
      }
      if (options.signal?.aborted) {
        stopReason = "interrupted";
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 150 + Math.random() * 150));
      upToDate = (await store.getBatch(batchId))?.planComplete ?? false;
    }
    const before = await store.counts(batchId);
    await store.markRunResumed(run, cursor.existed, before.done + before.degraded);
    if (stopReason === "finished" && !options.planOnly) {
      // Processing uses the batch's stored settings: another process may have planned it.
      const stored = (await store.getBatch(batchId))?.settings;
      const signal = options.signal
        ? AbortSignal.any([options.signal, planFailed.signal])
        : planFailed.signal;
      stopReason = await processBatch(
        store,
        run,
        stored ? settingsFromJson(stored) : settings,
        resolved,
        logger,
        {
          ...(options.onProgress ? { onProgress: withSinkLag(options.onProgress, sinks.delivery) } : {}),
          ...(options.progressIntervalMs ? { progressIntervalMs: options.progressIntervalMs } : {}),
          signal,
          ...(options.inject ? { inject: options.inject } : {}),
          ...(planning ? { planning: () => planningActive } : {}),
        },
      );
    }
    if (planning) {
      const planned = planOutcome(await planning, logger, batchId, run.run);
      if (planned === "interrupted") stopReason = "interrupted";
    }
    await finishDelivery(sinks.delivery, stopReason, sinks.waitMs, logger, batchId);
    await store.endRun(run, stopReason, Date.now());
    logger.info({ event: "run.end", batchId, run: run.run, reason: stopReason }, "run ended");
    const report = await buildReport(store, batchId);
    options.onProgress?.(finished(report));
    return { report, stopReason, exitCode: exitCodeFor(stopReason, report) };
  } finally {
    if (!options.store) await store.close();
  }
}

/** What a batch's plan is checked against: the input as it is now, and the layer. */
export async function batchFingerprint(source: InputSource, layer: string): Promise<string> {
  return `${await source.fingerprint()}|${layer}`;
}

function planOutcome(planned: PlanSummary | null, logger: Logger, batchId: string, run: number): StopReason {
  if (!planned) return "finished";
  logger.info({ event: "plan.done", batchId, run, ...planned }, "planned");
  return planned.complete ? "finished" : "interrupted";
}

export function exitCodeFor(reason: StopReason, report: BatchReport): number {
  if (reason === "interrupted") return 130;
  if (reason === "fail-budget") return 3;
  // A run is complete only when every sink holds what the store holds.
  if (report.sinks.some((s) => s.lag > 0)) return 3;
  return report.completion_rate >= 0.99 ? 0 : 3;
}

/** Another process holds the planning lock: wait until its plan is complete (or it dies). */
export async function waitForPlan(store: Store, batchId: string, signal?: AbortSignal): Promise<StopReason> {
  for (;;) {
    if (signal?.aborted) return "interrupted";
    const batch = await store.getBatch(batchId);
    if (batch?.planComplete) return "finished";
    await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 200));
  }
}

/** Progress with the sinks' lag, for the progress line. */
export function withSinkLag(
  onProgress: (progress: Progress) => void,
  delivery: { lag: number | null } | null,
): (progress: Progress) => void {
  if (!delivery) return onProgress;
  return (progress) => onProgress({ ...progress, sinkLag: delivery.lag });
}

function idle(batchId: string, phase: "planning" | "finished") {
  return {
    batchId,
    total: 0,
    completed: 0,
    failed: 0,
    pending: 0,
    inFlight: 0,
    retriesWaiting: 0,
    breaker: "closed",
    startedAt: Date.now(),
    processedThisRun: 0,
    phase,
    planned: 0,
  };
}

export function finished(report: BatchReport) {
  const c = report.counts;
  return {
    ...idle(report.batch_id, "finished"),
    total: c.total,
    completed: c.done + c.degraded,
    failed: c.failed,
    pending: c.pending + c.processing,
    planned: c.total,
  };
}
