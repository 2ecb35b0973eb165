import { type BreakerTransition, CircuitBreaker } from "../core/breaker.js";
import type { StateCounts } from "../core/types.js";
import { CpuPool } from "../pipeline/cpu-pool.js";
import { ThreadedLocalEmbedder } from "../pipeline/embed/local.js";
import { EmbedQueue } from "../pipeline/embed/queue.js";
import type { ClaimedDocument, Outcome, RunHandle, StagedProgress, Store } from "../store/store.js";
import { Background } from "./background.js";
import { RunEmbedCache } from "./embed-cache.js";
import { Engine, type StopReason } from "./engine.js";
import { FaultInjector, parseFaultSpec } from "./faults.js";
import { currentProcess, deadRuns } from "./liveness.js";
import { type Logger, logsNothing } from "./logger.js";
import { THREADS_START_AFTER_BYTES } from "./prepare-document.js";
import { type DocumentContext, processDocument } from "./process-document.js";
import { ProgressTicker } from "./progress-ticker.js";
import type { Progress, ResolvedProcessOptions } from "./run-options.js";
import { createEmbedder, embedLayerOf, type PipelineSettings, stageLayersOf } from "./settings.js";
import type { StoreRetry } from "./store-retry.js";

/**
 * Contents from this size on are left out of claims when CPU threads run the stages: the thread
 * reads them from the store file itself, and the main thread never copies them.
 */
export const DEFER_CONTENT_FROM_BYTES = 16 * 1024;

/** How often a run looks for dead runs of its batch on this host (see `reap`). */
export const REAP_INTERVAL_MS = 1_000;

/**
 * Otherwise contents from this size on are left out of claims and read when their document
 * starts: claims run up to 128 documents ahead of the free slots, and holding the contents of
 * that many documents of up to 20 MiB each could cost gigabytes.
 */
export const DEFER_LARGE_CONTENT_FROM_BYTES = 256 * 1024;

export interface OpenedRun {
  run: RunHandle;
  /** Runs found dead when this one started (their in-flight documents were recovered). */
  dead: number[];
  /**
   * True when this run takes over from an earlier one that ended or died (a resume), false for
   * the first runs of a batch, including workers starting together on a batch `submit` planned.
   */
  resumes: boolean;
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
  const me = currentProcess();
  const run = await store.startRun({
    batchId,
    workerId: options.workerId ?? `${me.host}:${me.pid}`,
    host: me.host,
    pid: me.pid,
    locality: me.locality,
    pidStart: me.pidStart,
    command: options.command,
    processStartedAt: options.processStartedAt,
  });
  options.logger.info({ event: "run.start", batchId, run: run.run, command: options.command }, "run started");
  const runs = await store.listRuns(batchId);
  const dead = deadRuns(runs, run.run, options.leaseMs);
  const resumes = runs.some(
    (r) => r.run < run.run && r.command !== "submit" && (r.endedAt !== null || dead.includes(r.run)),
  );
  const recovered = await store.recoverInFlight(run, dead);
  if (recovered > 0) {
    options.logger.info(
      { event: "checkpoint.recovered", batchId, run: run.run, recovered, deadRuns: dead },
      "recovered in-flight documents",
    );
  }
  return { run, dead, resumes };
}

export interface ProcessHooks {
  onProgress?: (progress: Progress) => void;
  progressIntervalMs?: number;
  signal?: AbortSignal;
  inject?: string;
  /** True while the plan is still being written (processing starts before it ends). */
  planning?: () => boolean;
  /** True while this process writes the plan (see EngineOptions.planWriting). */
  planWriting?: () => boolean;
  /** The retries of the run's store calls: their outages show in the progress. */
  storeRetry?: StoreRetry;
  /** The batch's counts when processing starts, when the caller just read them. */
  before?: StateCounts;
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
  // Stopped already (a cancel right after a submit, a plan that failed): nothing is opened, so
  // nothing is left open.
  if (hooks.signal?.aborted) return "interrupted";
  const before = hooks.before ?? (await store.counts(batchId));
  const background = new Background(logger);
  let ticker: ProgressTicker | null = null;
  const breaker = embeddingBreaker(store, run, logger, background, (state) => {
    if (ticker) ticker.breaker = state;
  });
  const embedSettings = embedSettingsOf(settings, options);
  const faults = new FaultInjector(parseFaultSpec(hooks.inject), options.seed);
  // No threads for a run with nothing to do (a re-run of a finished batch).
  const work = before.pending + before.processing > 0 || (hooks.planning?.() ?? false);
  // Every resource opened from here on is closed in the `finally` below, whatever the way out.
  const sockets = Math.max(options.concurrency, options.embedConcurrency) * 2;
  const embedder = createEmbedder(embedSettings, sockets, work ? options.threads : 0);
  const cache = openEmbedCache(store, batchId, settings, options, logger);
  let cpu: CpuPool | undefined;
  let reaper: NodeJS.Timeout | null = null;
  let unsubscribe: (() => void) | undefined;
  let engine: Engine | null = null;
  const onAbort = () => engine?.stop("interrupted", options.shutdownGraceMs);
  try {
    cpu =
      work && options.threads > 0 && CpuPool.available()
        ? new CpuPool(options.threads, {
            startAfterBytes: options.docTimeoutMs > 0 ? 0 : THREADS_START_AFTER_BYTES,
          })
        : undefined;
    // The threads start once documents need them (see THREADS_START_AFTER_BYTES), and nothing
    // waits for them to load their modules: text documents run on this thread meanwhile, other
    // tasks wait in the threads' queues.
    engine = createEngine(store, run, settings, options, logger, hooks, {
      embedder,
      embedSettings,
      faults,
      breaker,
      cpu,
      cache,
      getEngine: () => engine,
    });
    hooks.signal?.addEventListener("abort", onAbort, { once: true });
    // Stopped while the threads started: the listener above came too late to hear it.
    if (hooks.signal?.aborted) return "interrupted";
    const running = engine;
    ticker = startProgressTicker(store, batchId, before, running, hooks, background, logger);
    unsubscribe = hooks.storeRetry?.subscribe((outage) => {
      if (ticker) ticker.storeOutage = outage;
      // Leases may have run short while the store was away: renew them before anything else.
      if (!outage) running.heartbeatNow();
    });
    reaper = startReaper(store, run, options.leaseMs, logger, background);
    return await running.run();
  } finally {
    if (reaper) clearInterval(reaper);
    ticker?.stop();
    unsubscribe?.();
    hooks.signal?.removeEventListener("abort", onAbort);
    await background.drain();
    await cache.close();
    await cpu?.close();
    await embedder.close();
  }
}

/** The embedding service's breaker of a run: its changes are logged, kept as events and shown. */
function embeddingBreaker(
  store: Store,
  run: RunHandle,
  logger: Logger,
  background: Background,
  onState: (state: BreakerTransition["to"]) => void,
): CircuitBreaker {
  return new CircuitBreaker(undefined, (t) => {
    onState(t.to);
    logger.warn(
      { event: "breaker.change", batchId: run.batchId, run: run.run, ...t },
      `breaker ${t.from} -> ${t.to}`,
    );
    background.run("breaker event", () =>
      store.addEvents(run.batchId, [{ run: run.run, at: t.at, type: "breaker", data: { ...t } }]),
    );
  });
}

/** The batch's embedding settings, with the run's own time limit of an HTTP call. */
function embedSettingsOf(
  settings: PipelineSettings,
  options: ResolvedProcessOptions,
): PipelineSettings["embed"] {
  return settings.embed.kind === "http" && options.embedTimeoutMs !== undefined
    ? { ...settings.embed, timeoutMs: options.embedTimeoutMs }
    : settings.embed;
}

function openEmbedCache(
  store: Store,
  batchId: string,
  settings: PipelineSettings,
  options: ResolvedProcessOptions,
  logger: Logger,
): RunEmbedCache {
  const layer = embedLayerOf(settings);
  // The cache is there for paid or slow models, not for the built-in embedder.
  if (settings.embed.kind === "local") return RunEmbedCache.countingOnly(store, layer);
  return new RunEmbedCache(store, layer, options.cacheLookups, (err) =>
    logger.warn(
      { event: "cache.write_failed", batchId, error: err instanceof Error ? err.message : String(err) },
      "embedding cache write failed; its texts will be embedded again when met",
    ),
  );
}

/** Progress reports every interval, when the caller asked for them. */
function startProgressTicker(
  store: Store,
  batchId: string,
  before: StateCounts,
  running: Engine,
  hooks: ProcessHooks,
  background: Background,
  logger: Logger,
): ProgressTicker | null {
  if (!hooks.onProgress) return null;
  const ticker = new ProgressTicker({
    store,
    batchId,
    before,
    stats: () => running.snapshot,
    onProgress: hooks.onProgress,
    ...(hooks.progressIntervalMs ? { intervalMs: hooks.progressIntervalMs } : {}),
    ...(hooks.planning ? { planning: hooks.planning } : {}),
    background,
    logger,
  });
  ticker.start();
  return ticker;
}

/**
 * Workers sharing a batch watch for each other: the documents of one that died on this host are
 * put back within a second (its process is gone); elsewhere, its leases expire and the claims take
 * them over. The look is cheap (the runs of the batch, and a signal 0 per local pid), so it runs
 * every second whatever the lease: tied to a third of the default 30 s lease, a worker killed on
 * the same host waited 5 s on average, 10 s at worst.
 */
function startReaper(
  store: Store,
  run: RunHandle,
  leaseMs: number,
  logger: Logger,
  background: Background,
): NodeJS.Timeout {
  const reaper = setInterval(
    () => background.run("reaper", () => reap(store, run, leaseMs, logger), "reaper"),
    REAP_INTERVAL_MS,
  );
  reaper.unref();
  return reaper;
}

interface RunResources {
  embedder: ReturnType<typeof createEmbedder>;
  embedSettings: PipelineSettings["embed"];
  faults: FaultInjector;
  breaker: CircuitBreaker;
  cpu: CpuPool | undefined;
  cache: RunEmbedCache;
  getEngine: () => Engine | null;
}

/** The engine of one run, with the context every document is processed in. */
function createEngine(
  store: Store,
  run: RunHandle,
  settings: PipelineSettings,
  options: ResolvedProcessOptions,
  logger: Logger,
  hooks: ProcessHooks,
  { embedder, embedSettings, faults, breaker, cpu, cache, getEngine }: RunResources,
): Engine {
  // Injected embedding faults need the request path; otherwise the built-in embedder runs in the
  // threads with the chunks of the documents they prepare (its vectors are not cached: see
  // openEmbedCache), and through the queue for those prepared here: on the threads too once they
  // run, here before.
  const embedInPool =
    cpu && settings.embed.kind === "local" && faults.rates.embed === 0 && faults.rates.timeout === 0
      ? settings.embed.dimensions
      : null;
  const queued =
    cpu && embedInPool !== null ? new ThreadedLocalEmbedder(embedder, cpu, embedInPool) : embedder;
  const ctx: DocumentContext = {
    settings,
    embedQueue: new EmbedQueue(
      queued,
      options.embedBatchSize,
      options.embedConcurrency,
      cache.caching ? () => cache.flush() : undefined,
    ),
    ...(cpu ? { cpu } : {}),
    embedInPool,
    cache,
    layers: stageLayersOf(settings),
    loadOutputChunks: (row) => store.loadOutputChunks(row),
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
    saveProgress: (p: StagedProgress) => getEngine()?.saveProgress(p),
    crash: () => process.kill(process.pid, "SIGKILL"),
    planWritten: async () => {
      while (hooks.planning?.() && !hooks.signal?.aborted) await new Promise((r) => setTimeout(r, 50));
    },
  };
  return new Engine(
    store,
    run,
    (doc, signal, slot) => processDocument(doc, ctx, signal, slot),
    {
      concurrency: options.concurrency,
      prefetch: Math.max(options.concurrency, 128),
      maxPrefetch: 1024,
      leaseMs: options.leaseMs,
      heartbeatMs: Math.max(250, Math.floor(options.leaseMs / 3)),
      groupDelayMs: 2,
      maxGroupDelayMs: 50,
      groupMax: 1024,
      pollMs: 250,
      docTimeoutMs: options.docTimeoutMs,
      ...(options.maxFailRate !== undefined ? { maxFailRate: options.maxFailRate } : {}),
      ...(hooks.planning ? { planning: hooks.planning } : {}),
      ...(hooks.planWriting ? { planWriting: hooks.planWriting } : {}),
      // The CPU threads read large contents from the store file themselves.
      deferContentFrom: cpu && store.contentFile ? DEFER_CONTENT_FROM_BYTES : DEFER_LARGE_CONTENT_FROM_BYTES,
      embedCounts: () => cache.takeCounts(),
      // Room for a second round of full requests behind the ones in flight.
      waitingRoomTexts: 2 * options.embedConcurrency * options.embedBatchSize,
    },
    logHooks(logger, run.batchId, run.run),
  );
}

async function reap(store: Store, run: RunHandle, leaseMs: number, logger: Logger): Promise<void> {
  const dead = deadRuns(await store.listRuns(run.batchId), run.run, leaseMs);
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
  // Once per settled document: without a log, its entries are not even built.
  const quiet = logsNothing(logger);
  return {
    onSettled(outcome: Outcome, accepted: boolean) {
      if (quiet) return;
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
    onReleased(count: number) {
      logger.info(
        { batchId, run, event: "claims.released", documents: count },
        "claims of a commit whose answer was lost, put back",
      );
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
