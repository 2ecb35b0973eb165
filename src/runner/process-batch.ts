import os from "node:os";
import { CircuitBreaker } from "../core/breaker.js";
import { CpuPool } from "../pipeline/cpu-pool.js";
import { EmbedQueue } from "../pipeline/embed/queue.js";
import type { ClaimedDocument, Outcome, RunHandle, StagedProgress, Store } from "../store/store.js";
import { Engine, type StopReason } from "./engine.js";
import { FaultInjector, parseFaultSpec } from "./faults.js";
import { deadRuns } from "./liveness.js";
import type { Logger } from "./logger.js";
import { type DocumentContext, processDocument } from "./process-document.js";
import type { Progress, ResolvedProcessOptions } from "./run-options.js";
import { createEmbedder, type PipelineSettings } from "./settings.js";

/**
 * Contents from this size on are left out of claims when CPU threads run the stages: the thread
 * reads them from the store file itself, and the main thread never copies them.
 */
export const DEFER_CONTENT_FROM_BYTES = 16 * 1024;

export interface OpenedRun {
  run: RunHandle;
  /** Runs found dead when this one started (their in-flight documents were recovered). */
  dead: number[];
}

/**
 * Registers this process as a run of the batch and puts back to pending whatever dead runs left
 * in flight: the checkpoint recovery every run starts with.
 */
export async function openRun(
  store: Store,
  batchId: string,
  options: { command: string; workerId?: string; leaseMs: number; processStartedAt: number; logger: Logger },
): Promise<OpenedRun> {
  const run = await store.startRun({
    batchId,
    workerId: options.workerId ?? `${os.hostname()}:${process.pid}`,
    host: os.hostname(),
    pid: process.pid,
    command: options.command,
    processStartedAt: options.processStartedAt,
  });
  options.logger.info({ event: "run.start", batchId, run: run.run, command: options.command }, "run started");
  const dead = deadRuns(await store.listRuns(batchId), run.run, options.leaseMs, Date.now());
  const recovered = await store.recoverInFlight(run, dead);
  if (recovered > 0) {
    options.logger.info(
      { event: "checkpoint.recovered", batchId, run: run.run, recovered, deadRuns: dead },
      "recovered in-flight documents",
    );
  }
  return { run, dead };
}

export interface ProcessHooks {
  onProgress?: (progress: Progress) => void;
  progressIntervalMs?: number;
  signal?: AbortSignal;
  inject?: string;
  /** True while this process is still writing the plan (processing starts before it ends). */
  planning?: () => boolean;
}

/**
 * Processes every claimable document of the batch until none is left (or the run is stopped):
 * the breaker, the embedder and the engine of one run.
 */
export async function processBatch(
  store: Store,
  run: RunHandle,
  settings: PipelineSettings,
  options: ResolvedProcessOptions,
  logger: Logger,
  hooks: ProcessHooks = {},
): Promise<StopReason> {
  const batchId = run.batchId;
  const before = await store.counts(batchId);
  const progress: Progress = {
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
  };
  const breaker = new CircuitBreaker(undefined, (t) => {
    progress.breaker = t.to;
    logger.warn({ event: "breaker.change", batchId, run: run.run, ...t }, `breaker ${t.from} -> ${t.to}`);
    void store.addEvents(batchId, [{ run: run.run, at: t.at, type: "breaker", data: { ...t } }]);
  });
  const embedSettings =
    settings.embed.kind === "http" && options.embedTimeoutMs !== undefined
      ? { ...settings.embed, timeoutMs: options.embedTimeoutMs }
      : settings.embed;
  const faults = new FaultInjector(parseFaultSpec(hooks.inject), options.seed);
  // No threads for a run with nothing to do (a re-run of a finished batch).
  const work = before.pending + before.processing > 0 || (hooks.planning?.() ?? false);
  const cpu = work && options.threads > 0 && CpuPool.available() ? new CpuPool(options.threads) : undefined;
  await cpu?.ready();
  const sockets = Math.max(options.concurrency, options.embedConcurrency) * 2;
  const embedder = createEmbedder(embedSettings, sockets, work ? options.threads : 0);
  let engine: Engine | null = null;
  const ctx: DocumentContext = {
    settings,
    embedQueue: new EmbedQueue(embedder, options.embedBatchSize, options.embedConcurrency),
    ...(cpu ? { cpu } : {}),
    // Injected embedding faults need the request path; the local model can run in the threads.
    embedInPool:
      cpu && settings.embed.kind === "local" && faults.rates.embed === 0 && faults.rates.timeout === 0
        ? settings.embed.dimensions
        : null,
    embedBatchSize: options.embedBatchSize,
    embedTimeoutMs:
      embedSettings.kind === "http" ? embedSettings.timeoutMs : (options.embedTimeoutMs ?? 30_000),
    breaker,
    breakerMaxWaitMs: options.breakerMaxWaitMs,
    policy: options.policy,
    faults,
    random: Math.random,
    clock: Date.now,
    loadStaged: (doc) => store.loadStaged(doc),
    loadContent: (row) => store.loadContent(row),
    contentFile: cpu ? store.contentFile : null,
    saveProgress: (p: StagedProgress) => engine?.saveProgress(p),
    crash: () => process.kill(process.pid, "SIGKILL"),
  };
  engine = new Engine(
    store,
    run,
    (doc, signal) => processDocument(doc, ctx, signal),
    {
      concurrency: options.concurrency,
      prefetch: Math.max(options.concurrency, 128),
      leaseMs: options.leaseMs,
      heartbeatMs: Math.max(250, Math.floor(options.leaseMs / 3)),
      groupDelayMs: 2,
      maxGroupDelayMs: 50,
      groupMax: 256,
      pollMs: 250,
      docTimeoutMs: options.docTimeoutMs,
      ...(options.maxFailRate !== undefined ? { maxFailRate: options.maxFailRate } : {}),
      ...(hooks.planning ? { planning: hooks.planning } : {}),
      // The CPU threads read large contents from the store file themselves.
      ...(cpu && store.contentFile ? { deferContentFrom: DEFER_CONTENT_FROM_BYTES } : {}),
    },
    logHooks(logger, batchId, run.run),
  );
  const onAbort = () => engine?.stop("interrupted", options.shutdownGraceMs);
  if (hooks.signal?.aborted) return "interrupted";
  hooks.signal?.addEventListener("abort", onAbort, { once: true });
  // While the plan is still written the total grows; it is read once more after planning ends.
  let totalFinal = !hooks.planning;
  const ticker = hooks.onProgress
    ? setInterval(() => {
        const s = engine!.snapshot;
        if (!totalFinal) {
          totalFinal = !hooks.planning!();
          void store.counts(batchId).then((c) => (progress.total = Math.max(progress.total, c.total)));
        }
        progress.completed = before.done + before.degraded + s.completed + s.degraded;
        progress.failed = before.failed + s.failed;
        progress.inFlight = s.inFlight;
        progress.retriesWaiting = s.waiting;
        progress.processedThisRun = s.completed + s.degraded + s.failed;
        progress.pending = Math.max(0, progress.total - progress.completed - progress.failed);
        hooks.onProgress?.({ ...progress });
      }, hooks.progressIntervalMs ?? 200)
    : null;
  // Workers sharing a batch watch for each other: the documents of one that died on this host
  // are put back at once; elsewhere, its leases expire and the claims take them over.
  const reaper = setInterval(
    () => void reap(store, run, options.leaseMs, logger).catch(() => {}),
    Math.max(1_000, Math.floor(options.leaseMs / 3)),
  );
  reaper.unref();
  try {
    return await engine.run();
  } finally {
    clearInterval(reaper);
    if (ticker) clearInterval(ticker);
    await cpu?.close();
    hooks.signal?.removeEventListener("abort", onAbort);
    await embedder.close();
  }
}

async function reap(store: Store, run: RunHandle, leaseMs: number, logger: Logger): Promise<void> {
  const dead = deadRuns(await store.listRuns(run.batchId), run.run, leaseMs, Date.now());
  if (dead.length === 0) return;
  const recovered = await store.recoverInFlight(run, dead);
  if (recovered > 0) {
    logger.info(
      { event: "checkpoint.recovered", batchId: run.batchId, run: run.run, recovered, deadRuns: dead },
      "recovered in-flight documents",
    );
  }
}

function logHooks(logger: Logger, batchId: string, run: number) {
  return {
    onSettled(outcome: Outcome, accepted: boolean) {
      const base = { batchId, run, doc: outcome.doc.docId, source: outcome.doc.source };
      if (!accepted) {
        logger.warn({ ...base, event: "commit.fenced" }, "commit rejected: lease lost");
      } else if (outcome.kind === "completed") {
        for (const failure of outcome.failures ?? []) {
          logger.warn(
            { ...base, event: "doc.fallback", stage: failure.stage, error: failure.error },
            "fallback path",
          );
        }
        const state = outcome.degraded ? "degraded" : "done";
        logger.info(
          { ...base, event: "doc.committed", state, chunks: outcome.chunks.length },
          "document committed",
        );
      } else if (outcome.kind === "failed") {
        logger.error(
          { ...base, event: "doc.failed", stage: outcome.stage, error: outcome.error },
          "document failed",
        );
      } else if (outcome.error) {
        const delayMs = Math.max(0, outcome.notBefore - Date.now());
        logger.warn(
          { ...base, event: "doc.retry", stage: outcome.stage, error: outcome.error, delayMs },
          "retry scheduled",
        );
      } else {
        logger.debug({ ...base, event: "doc.released" }, "document handed back");
      }
    },
    onClaimed(docs: ClaimedDocument[]) {
      for (const doc of docs) {
        logger.debug(
          { batchId, run, doc: doc.docId, event: "doc.claimed", execution: doc.executions },
          "claimed",
        );
      }
    },
  };
}
