import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CircuitBreaker } from "../core/breaker.js";
import { DocbatchError } from "../core/errors.js";
import { DEFAULT_RETRY_POLICY } from "../core/retry-policy.js";
import { defaultBatchId, openInput } from "../input/sources.js";
import { validateInput } from "../input/validate.js";
import { type BatchReport, buildReport } from "../report/report.js";
import { DEFAULT_DB } from "../store/open.js";
import { SqliteStore } from "../store/sqlite/index.js";
import type { Store } from "../store/store.js";
import { Engine, type StopReason } from "./engine.js";
import { FaultInjector, parseFaultSpec } from "./faults.js";
import { deadRuns } from "./liveness.js";
import { createLogger, type Logger } from "./logger.js";
import { expectInteger, expectRate } from "./options.js";
import { planBatch } from "./planner.js";
import { processDocument } from "./process-document.js";
import { createEmbedder, layerOf, type PipelineSettings, settingsToJson } from "./settings.js";

/** The options of `runBatch` (and of `docbatch run`). Everything but `input` is optional. */
export interface RunBatchOptions {
  /** A .json, .jsonl/.ndjson file or a directory. */
  input: string;
  /** The SQLite store. @default ".docbatch/docbatch.db" */
  db?: string;
  /** A store to use instead of `db` (e.g. a PostgresStore); it is opened and closed by runBatch. */
  store?: Store;
  /** @default the input's batch_id, else a stable id derived from the input's path */
  batchId?: string;
  /** Documents in flight at once, 1 and up. @default 8 */
  concurrency?: number;
  /** Attempts per document and stage before the fallback path, 1 and up. @default 3 */
  maxAttempts?: number;
  /** First retry delay in ms. @default 200 */
  baseDelayMs?: number;
  /** Cap of the exponential part of retry delays, in ms. @default 30_000 */
  maxDelayMs?: number;
  /** Largest chunk in characters (UTF-16 code units), 16 and up. @default 1000 */
  chunkSize?: number;
  /** Characters repeated between neighbouring chunks, below chunkSize / 2. @default 0 */
  chunkOverlap?: number;
  /** An OpenAI-compatible embeddings endpoint; without it the built-in local embedder is used. */
  embedUrl?: string;
  /** @default "text-embedding-3-small" */
  embedModel?: string;
  /** Per-request time limit of the embeddings endpoint, in ms. @default 30_000 */
  embedTimeoutMs?: number;
  /** Chunk texts per embedding request. @default 64 */
  embedBatchSize?: number;
  /** Dimensions of the local embedder. @default 256 */
  localDimensions?: number;
  /** Per-document time limit in ms; 0 for none. @default 0 */
  docTimeoutMs?: number;
  /** Longest wait for an open breaker before a document completes without vectors, in ms. @default 120_000 */
  breakerMaxWaitMs?: number;
  /** Documents larger than this fail with DOC_TOO_LARGE. @default 20 MiB */
  maxDocBytes?: number;
  /** End the run early (resumable) when the share of failed documents exceeds this. */
  maxFailRate?: number;
  /** Fault injection: `parse=P,embed=P,timeout=P,crash=P`. */
  inject?: string;
  /** Seed of fault injection and jitter. @default 1 */
  seed?: number;
  /** Lease of a claimed document, in ms. @default 30_000 */
  leaseMs?: number;
  /** Time running documents get to finish when stopped, in ms. @default 10_000 */
  shutdownGraceMs?: number;
  /** `full` (default) or `normal` SQLite synchronous mode. */
  durability?: "full" | "normal";
  /** Aborting it stops the run: no new claims, running documents finish or are handed back. */
  signal?: AbortSignal;
  /** Structured logs. @default off */
  logger?: Logger;
  logFile?: string;
  logLevel?: string;
  /** Called about every `progressIntervalMs` while documents are processed. */
  onProgress?: (progress: Progress) => void;
  progressIntervalMs?: number;
  /** Recorded with the run, shown in reports. @default "run" */
  command?: string;
}

export interface Progress {
  batchId: string;
  total: number;
  completed: number;
  failed: number;
  pending: number;
  inFlight: number;
  retriesWaiting: number;
  breaker: string;
  startedAt: number;
  /** Documents settled by this run. */
  processedThisRun: number;
  phase: "planning" | "processing" | "finished";
  planned: number;
}

export interface RunResult {
  report: BatchReport;
  stopReason: StopReason;
  /** The contract's exit code for this result. */
  exitCode: number;
}

/**
 * Plans a batch from its input (or resumes planning), then processes every unfinished document,
 * and returns the report. Re-running it after any interruption continues where it stopped.
 */
export async function runBatch(options: RunBatchOptions): Promise<RunResult> {
  const processStartedAt = Math.round(performance.timeOrigin);
  const settings = pipelineSettings(options);
  const concurrency = expectInteger("concurrency", options.concurrency ?? 8, 1, 10_000);
  const maxAttempts = expectInteger(
    "maxAttempts",
    options.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts,
    1,
    100,
  );
  const baseDelayMs = expectInteger(
    "baseDelayMs",
    options.baseDelayMs ?? DEFAULT_RETRY_POLICY.baseDelayMs,
    0,
  );
  const maxDelayMs = expectInteger("maxDelayMs", options.maxDelayMs ?? DEFAULT_RETRY_POLICY.maxDelayMs, 0);
  const embedBatchSize = expectInteger("embedBatchSize", options.embedBatchSize ?? 64, 1, 10_000);
  const leaseMs = expectInteger("leaseMs", options.leaseMs ?? 30_000, 1_000);
  const docTimeoutMs = expectInteger("docTimeoutMs", options.docTimeoutMs ?? 0, 0);
  const breakerMaxWaitMs = expectInteger("breakerMaxWaitMs", options.breakerMaxWaitMs ?? 120_000, 0);
  const maxFailRate =
    options.maxFailRate === undefined ? undefined : expectRate("maxFailRate", options.maxFailRate);
  const seed = expectInteger("seed", options.seed ?? 1, 0);
  const faults = new FaultInjector(parseFaultSpec(options.inject), seed);
  const logger = options.logger ?? createLogger(options.logFile, options.logLevel);
  const dbFile = path.resolve(options.db ?? DEFAULT_DB);
  const source = await openInput(options.input, { exclude: options.store ? [] : [dbFile] });
  const batchId = options.batchId?.trim() || defaultBatchId(source);
  const layer = layerOf(settings);
  const fingerprint = `${await source.fingerprint()}|${layer}`;

  // A new store file is created only for a valid input: validate first when there is none yet.
  const freshFile = !options.store && !fs.existsSync(dbFile);
  let validated = freshFile ? await validateInput(source) : null;
  const store = options.store ?? new SqliteStore({ file: dbFile, durability: options.durability ?? "full" });
  await store.open();
  try {
    const existing = await store.getBatch(batchId);
    const upToDate = existing !== null && existing.fingerprint === fingerprint;
    if (!upToDate && !validated) validated = await validateInput(source);

    const run = await store.startRun({
      batchId,
      workerId: `${os.hostname()}:${process.pid}`,
      host: os.hostname(),
      pid: process.pid,
      command: options.command ?? "run",
      processStartedAt,
    });
    logger.info({ event: "run.start", batchId, run: run.run, input: source.location }, "run started");
    const dead = deadRuns(await store.listRuns(batchId), run.run, leaseMs, Date.now());
    const recovered = await store.recoverInFlight(run, dead);
    if (recovered > 0) {
      logger.info(
        { event: "checkpoint.recovered", batchId, run: run.run, recovered, deadRuns: dead },
        "recovered in-flight documents",
      );
    }
    const cursor = await store.beginPlan({
      batchId,
      layer,
      settings: settingsToJson(settings),
      inputRef: source.location,
      fingerprint: validated?.hasPaths ? null : fingerprint,
    });
    const progressState: Progress = {
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
      phase: "planning",
      planned: cursor.batch.planRecords,
    };
    let stopReason: StopReason = "finished";
    if (!cursor.upToDate) {
      const lock = await store.tryPlanLock(batchId, run, leaseMs, dead);
      if (lock) {
        try {
          const planned = await planBatch(store, source, cursor.batch, {
            maxDocBytes: settings.maxDocBytes,
            layer,
            lock,
            lockTtlMs: leaseMs,
            ...(options.signal ? { signal: options.signal } : {}),
          });
          logger.info({ event: "plan.done", batchId, run: run.run, ...planned }, "planned");
          if (!planned.complete) stopReason = "interrupted";
        } finally {
          await lock.release();
        }
      } else {
        stopReason = await waitForPlan(store, batchId, options.signal);
      }
    }
    const before = await store.counts(batchId);
    await store.markRunResumed(run, cursor.existed, before.done + before.degraded);

    if (stopReason === "finished" && !options.signal?.aborted) {
      const breaker = new CircuitBreaker(undefined, (t) => {
        progressState.breaker = t.to;
        logger.warn({ event: "breaker.change", batchId, run: run.run, ...t }, `breaker ${t.from} -> ${t.to}`);
        void store.addEvents(batchId, [{ run: run.run, at: t.at, type: "breaker", data: { ...t } }]);
      });
      const embedder = createEmbedder(
        settings.embed.kind === "http"
          ? { ...settings.embed, timeoutMs: options.embedTimeoutMs ?? settings.embed.timeoutMs }
          : settings.embed,
        concurrency * 2,
      );
      let engine: Engine | null = null;
      const ctx = {
        settings,
        embedder,
        embedBatchSize,
        embedTimeoutMs: options.embedTimeoutMs ?? 30_000,
        breaker,
        breakerMaxWaitMs,
        policy: { maxAttempts, baseDelayMs, maxDelayMs },
        faults,
        random: Math.random,
        clock: Date.now,
        loadStaged: store.loadStaged.bind(store),
        saveProgress: (p: Parameters<Engine["saveProgress"]>[0]) => engine?.saveProgress(p),
        crash: () => process.kill(process.pid, "SIGKILL"),
      };
      engine = new Engine(
        store,
        run,
        (doc, signal) => processDocument(doc, ctx, signal),
        {
          concurrency,
          prefetch: Math.max(concurrency, 32),
          leaseMs,
          heartbeatMs: Math.max(250, Math.floor(leaseMs / 3)),
          groupDelayMs: 4,
          groupMax: 256,
          pollMs: 250,
          docTimeoutMs,
          ...(maxFailRate !== undefined ? { maxFailRate } : {}),
        },
        engineLogHooks(logger, batchId, run.run),
      );
      const onAbort = () => engine?.stop("interrupted", options.shutdownGraceMs ?? 10_000);
      options.signal?.addEventListener("abort", onAbort, { once: true });
      progressState.phase = "processing";
      progressState.total = before.total;
      const ticker = options.onProgress
        ? setInterval(() => {
            const s = engine!.snapshot;
            progressState.completed = before.done + before.degraded + s.completed + s.degraded;
            progressState.failed = before.failed + s.failed;
            progressState.inFlight = s.inFlight;
            progressState.retriesWaiting = s.waiting;
            progressState.processedThisRun = s.completed + s.degraded + s.failed;
            progressState.pending = Math.max(
              0,
              progressState.total - progressState.completed - progressState.failed,
            );
            options.onProgress?.({ ...progressState });
          }, options.progressIntervalMs ?? 200)
        : null;
      try {
        stopReason = await engine.run();
      } finally {
        if (ticker) clearInterval(ticker);
        options.signal?.removeEventListener("abort", onAbort);
        await embedder.close();
      }
    } else if (options.signal?.aborted) {
      stopReason = "interrupted";
    }
    await store.endRun(run, stopReason, Date.now());
    logger.info({ event: "run.end", batchId, run: run.run, reason: stopReason }, "run ended");
    const report = await buildReport(store, batchId);
    if (options.onProgress) {
      options.onProgress({
        ...progressState,
        phase: "finished",
        total: report.counts.total,
        completed: report.counts.done + report.counts.degraded,
        failed: report.counts.failed,
        pending: report.counts.pending + report.counts.processing,
        inFlight: 0,
      });
    }
    return { report, stopReason, exitCode: exitCodeFor(stopReason, report) };
  } finally {
    await store.close();
  }
}

function exitCodeFor(reason: StopReason, report: BatchReport): number {
  if (reason === "interrupted") return 130;
  if (reason === "fail-budget") return 3;
  return report.completion_rate >= 0.99 ? 0 : 3;
}

async function waitForPlan(store: Store, batchId: string, signal?: AbortSignal): Promise<StopReason> {
  for (;;) {
    if (signal?.aborted) return "interrupted";
    const batch = await store.getBatch(batchId);
    if (batch?.planComplete) return "finished";
    await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 200));
  }
}

export function pipelineSettings(options: RunBatchOptions): PipelineSettings {
  const size = expectInteger("chunkSize", options.chunkSize ?? 1000, 16);
  const overlap = expectInteger("chunkOverlap", options.chunkOverlap ?? 0, 0);
  if (overlap * 2 >= size) {
    throw new DocbatchError(
      "USAGE",
      `Expected \`chunkOverlap\` to be below chunkSize / 2 (${size / 2}), got \`${overlap}\``,
    );
  }
  const maxDocBytes = expectInteger("maxDocBytes", options.maxDocBytes ?? 20 * 1024 * 1024, 1);
  const timeoutMs = expectInteger("embedTimeoutMs", options.embedTimeoutMs ?? 30_000, 1);
  const embed: PipelineSettings["embed"] = options.embedUrl
    ? {
        kind: "http",
        url: options.embedUrl,
        model: options.embedModel ?? "text-embedding-3-small",
        timeoutMs,
      }
    : {
        kind: "local",
        dimensions: expectInteger("localDimensions", options.localDimensions ?? 256, 8, 65_536),
      };
  return { chunk: { size, overlap }, embed, maxDocBytes };
}

function engineLogHooks(logger: Logger, batchId: string, run: number) {
  return {
    onSettled(outcome: import("../store/store.js").Outcome, accepted: boolean) {
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
        logger.info(
          {
            ...base,
            event: "doc.committed",
            state: outcome.degraded ? "degraded" : "done",
            chunks: outcome.chunks.length,
          },
          "document committed",
        );
      } else if (outcome.kind === "failed") {
        logger.error(
          { ...base, event: "doc.failed", stage: outcome.stage, error: outcome.error },
          "document failed",
        );
      } else if (outcome.error) {
        logger.warn(
          {
            ...base,
            event: "doc.retry",
            stage: outcome.stage,
            error: outcome.error,
            delayMs: Math.max(0, outcome.notBefore - Date.now()),
          },
          "retry scheduled",
        );
      } else {
        logger.debug({ ...base, event: "doc.released" }, "document handed back");
      }
    },
    onClaimed(docs: import("../store/store.js").ClaimedDocument[]) {
      for (const doc of docs) {
        logger.debug(
          { batchId, run, doc: doc.docId, event: "doc.claimed", execution: doc.executions },
          "claimed",
        );
      }
    },
  };
}
