import fs from "node:fs";
import { batchConflict, DocbatchError } from "../core/errors.js";
import type { StateCounts, SyncMode } from "../core/types.js";
import { fileFingerprint, type InputSource, openInput } from "../input/sources.js";
import { validateInput } from "../input/validate.js";
import { renderPrometheus } from "../report/prometheus.js";
import type { BatchAnalysis } from "../report/report.js";
import { type DeleteBatchResult, deleteBatch } from "../runner/delete-batch.js";
import type { Logger } from "../runner/logger.js";
import { resumeBatch } from "../runner/resume-batch.js";
import { retryDocuments } from "../runner/retry.js";
import { batchFingerprint, runBatch } from "../runner/run-batch.js";
import type { OutputOptions, ProcessOptions, Progress } from "../runner/run-options.js";
import { pipelineSettings } from "../runner/run-options.js";
import { layerOf, settingsToJson } from "../runner/settings.js";
import type { SinkOptions } from "../runner/sink-options.js";
import type { PlanCursor, RequeueQuery, Store } from "../store/store.js";
import { ReportCache } from "./report-cache.js";
import { type SpoolLimits, spoolBody } from "./spool.js";
import { HTTP_INPUT, SpoolFolder } from "./spool-folder.js";

export interface ServiceOptions {
  store: Store;
  /** Where uploaded bodies wait until their plan is complete. */
  spoolDir: string;
  /** `path` documents resolve inside this folder; without it they are rejected. */
  root?: string;
  limits: SpoolLimits;
  /** Processing options of every batch (concurrency, retries, …). */
  process: ProcessOptions & SinkOptions;
  /** Output options of new batches (chunking, embeddings). */
  output: OutputOptions;
  logger: Logger;
}

export interface Submission {
  batchId: string;
  /** False when the same body was submitted before: nothing new was started. */
  created: boolean;
}

export interface LiveStatus {
  batch_id: string;
  running: boolean;
  cancelled: boolean;
  plan_complete: boolean;
  counts: StateCounts;
  completion_rate: number;
  progress: Pick<Progress, "inFlight" | "retriesWaiting" | "breaker"> | null;
  at: string;
}

interface Runner {
  controller: AbortController;
  done: Promise<void>;
  progress: Progress | null;
  /** Set when work arrived (a retry, a resume) while this runner was finishing: look again. */
  again: boolean;
}

/**
 * What the HTTP API can do, as a library: submit a batch (validated as a whole, then planned and
 * processed in the background by the same runner as the CLI), watch it, retry, cancel, and resume
 * every unfinished batch this server owns after a restart. The routes are a thin shell over it.
 */
export class BatchService {
  private readonly runners = new Map<string, Runner>();
  private readonly reports: ReportCache;
  private metricsCache: { at: number; text: string } | null = null;
  private readonly spool: SpoolFolder;
  private stopping = false;

  constructor(private readonly options: ServiceOptions) {
    this.spool = new SpoolFolder(options.spoolDir, options.logger);
    this.reports = new ReportCache(options.store);
  }

  get store(): Store {
    return this.options.store;
  }

  get ready(): boolean {
    return !this.stopping;
  }

  async submit(
    body: ReadableStream<Uint8Array> | null,
    kind: "json" | "jsonl",
    batchId?: string,
    sync: SyncMode = "accumulate",
  ): Promise<Submission> {
    if (this.stopping) throw new DocbatchError("SHUTTING_DOWN", "The server is shutting down.");
    const upload = this.spool.uploadFile(kind);
    let release: (() => Promise<void>) | null = null;
    try {
      const { sha256 } = await spoolBody(body, upload, this.options.limits, kind === "jsonl");
      const root = this.options.root ?? this.options.spoolDir;
      const filter = { include: this.options.output.include, exclude: this.options.output.exclude };
      // Read as a stream (one document at a time): a large body never sits in memory whole.
      const source = await openInput(upload, { root, ...filter, label: "The body" });
      const id = batchId?.trim() || source.batchId || `batch-${sha256.slice(0, 16)}`;
      const inputRef = `${HTTP_INPUT}${sha256}`;
      // The same body again answers at once; the decision that counts is beginPlan's, below.
      const existing = await this.store.getBatch(id);
      // With sync=full, another body of an existing batch is its new input: a new plan that ends
      // with the documents it no longer holds deleted. Otherwise an id belongs to one body.
      const replaces = existing !== null && existing.inputRef !== inputRef && sync === "full";
      if (existing && !replaces) {
        if (existing.inputRef === inputRef) return { batchId: id, created: false };
        throw batchConflict(id);
      }
      if (replaces && this.runners.has(id)) {
        throw new DocbatchError(
          "BATCH_RUNNING",
          `Batch ${id} is being processed; submit its new input later.`,
          {
            details: [{ path: "batch_id", problem: "running" }],
          },
        );
      }
      const summary = await validateInput(source, { allowPaths: this.options.root !== undefined });
      // The body takes its batch's name before the batch exists, so that a batch never lacks its
      // body; the name is unique to (id, body), so a racing body of the same id cannot replace it.
      const held = this.spool.hold(id, sha256, kind);
      release = held.release;
      const file = held.file;
      await fs.promises.rename(upload, file);
      const cursor = await this.beginSubmittedPlan({
        id,
        kind,
        file,
        source,
        inputRef,
        hasPaths: summary.hasPaths,
        replaces,
        sync,
      });
      if (!cursor.created && !replaces) {
        // The same body, submitted at the same moment, created it first: the file is the same,
        // and once that batch is planned, no longer needed.
        if (cursor.batch.planComplete) await fs.promises.rm(file, { force: true });
        return { batchId: id, created: false };
      }
      this.start(id);
      return { batchId: id, created: true };
    } finally {
      await fs.promises.rm(upload, { force: true });
      await release?.();
    }
  }

  /**
   * Creates the batch of a held body with its plan's start, or begins a new plan of its input
   * (`replaces`). Created and compared in one transaction: of racing submissions, one body owns
   * the id; the file is removed when another body does.
   */
  private async beginSubmittedPlan(body: {
    id: string;
    kind: "json" | "jsonl";
    file: string;
    source: InputSource;
    inputRef: string;
    hasPaths: boolean;
    replaces: boolean;
    sync: SyncMode;
  }): Promise<PlanCursor> {
    const { id, kind, file, source, inputRef } = body;
    const settings = pipelineSettings(this.options.output);
    const layer = layerOf(settings);
    const fingerprint = body.hasPaths
      ? null
      : await batchFingerprint(
          { fingerprint: () => fileFingerprint(kind, file, source.filter) },
          layer,
          settings.maxDocBytes,
        );
    try {
      return await this.store.beginPlan({
        batchId: id,
        layer,
        settings: settingsToJson({ ...settings, root: source.root.realRoot }),
        inputRef,
        fingerprint,
        exclusive: !body.replaces,
        sync: body.sync,
      });
    } catch (err) {
      // Our file, unless the same body (same name) owns the batch.
      const owner = await this.store.getBatch(id).catch(() => null);
      if (owner?.inputRef !== inputRef) await fs.promises.rm(file, { force: true });
      throw err;
    }
  }

  /** Resumes every unfinished, uncancelled batch submitted over HTTP (after a crash or restart). */
  async resumeOwned(): Promise<string[]> {
    await this.spool.sweep(this.store, true);
    const resumed: string[] = [];
    for (const batch of await this.store.listBatches()) {
      if (!batch.inputRef.startsWith(HTTP_INPUT) || batch.cancelledAt !== null) continue;
      const counts = await this.store.counts(batch.batchId);
      if (batch.planComplete && counts.pending + counts.processing === 0) continue;
      this.start(batch.batchId);
      resumed.push(batch.batchId);
    }
    return resumed;
  }

  isRunning(batchId: string): boolean {
    return this.runners.has(batchId);
  }

  async retry(batchId: string, query: RequeueQuery): Promise<number> {
    if (this.stopping) throw new DocbatchError("SHUTTING_DOWN", "The server is shutting down.");
    await this.requireBatch(batchId);
    const requeued = await retryDocuments(this.store, batchId, query);
    this.invalidate(batchId);
    if (requeued > 0) {
      await this.store.setCancelled(batchId, false, Date.now());
      this.start(batchId);
    }
    return requeued;
  }

  async cancel(batchId: string): Promise<void> {
    await this.requireBatch(batchId);
    await this.store.setCancelled(batchId, true, Date.now());
    const runner = this.runners.get(batchId);
    runner?.controller.abort();
    await runner?.done;
  }

  /**
   * Deletes a batch with all it owns, its chunks leaving its sinks first (see `deleteBatch`);
   * refused while this server processes it (BATCH_RUNNING: cancel it first).
   */
  async deleteBatch(batchId: string, dropSinks: boolean): Promise<DeleteBatchResult> {
    await this.requireBatch(batchId);
    if (this.runners.has(batchId)) {
      throw new DocbatchError("BATCH_RUNNING", `Batch ${batchId} is being processed by this server.`, {
        details: [{ path: "batch_id", problem: "running" }],
        hints: [`Cancel it first (POST /v1/batches/${batchId}/cancel), then delete it.`],
      });
    }
    const result = await deleteBatch({
      store: this.store,
      batchId,
      dropSinks,
      logger: this.options.logger,
      ...(this.options.process.sinks ? { sinks: this.options.process.sinks } : {}),
    });
    this.invalidate(batchId);
    await this.spool.sweep(this.store, false);
    return result;
  }

  async resume(batchId: string): Promise<void> {
    if (this.stopping) throw new DocbatchError("SHUTTING_DOWN", "The server is shutting down.");
    await this.requireBatch(batchId);
    await this.store.setCancelled(batchId, false, Date.now());
    this.start(batchId);
  }

  async live(batchId: string): Promise<LiveStatus> {
    const batch = await this.requireBatch(batchId);
    const counts = await this.store.counts(batchId);
    const runner = this.runners.get(batchId);
    const p = runner?.progress;
    return {
      batch_id: batchId,
      running: runner !== undefined,
      cancelled: batch.cancelledAt !== null,
      plan_complete: batch.planComplete,
      counts,
      completion_rate:
        counts.total === 0 ? (batch.planComplete ? 1 : 0) : (counts.done + counts.degraded) / counts.total,
      progress: p ? { inFlight: p.inFlight, retriesWaiting: p.retriesWaiting, breaker: p.breaker } : null,
      at: new Date().toISOString(),
    };
  }

  /** The batch's report (see ReportCache: computed off the main thread, kept for a while). */
  async analysis(batchId: string): Promise<BatchAnalysis> {
    await this.requireBatch(batchId);
    return this.reports.analysis(batchId, this.runners.has(batchId));
  }

  async metrics(): Promise<string> {
    if (this.metricsCache && Date.now() - this.metricsCache.at < 2_000) return this.metricsCache.text;
    const analyses = [];
    for (const batch of await this.store.listBatches()) analyses.push(await this.analysis(batch.batchId));
    const text = renderPrometheus(analyses);
    this.metricsCache = { at: Date.now(), text };
    return text;
  }

  async requireBatch(batchId: string) {
    const batch = await this.store.getBatch(batchId);
    if (!batch) {
      throw new DocbatchError("BATCH_NOT_FOUND", `No batch \`${batchId}\`.`, {
        details: [{ path: "batch_id", problem: `no batch ${JSON.stringify(batchId)}` }],
        hints: ["GET /v1/batches lists the batches."],
      });
    }
    return batch;
  }

  /** Stops claiming; running documents finish or are handed back; every run ends checkpointed. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const runner of this.runners.values()) runner.controller.abort();
    await Promise.all([...this.runners.values()].map((r) => r.done));
    await this.reports.close();
  }

  private invalidate(batchId: string): void {
    this.reports.invalidate(batchId);
  }

  /**
   * Runs the batch in the background: planning the rest of its upload when the plan is incomplete
   * (a fresh submission, or one interrupted by a crash or a cancel), then processing.
   */
  private start(batchId: string): void {
    if (this.stopping) return;
    const existing = this.runners.get(batchId);
    if (existing) {
      existing.again = true;
      return;
    }
    const controller = new AbortController();
    const runner: Runner = { controller, done: Promise.resolve(), progress: null, again: false };
    const common = {
      ...this.options.process,
      store: this.store,
      logger: this.options.logger,
      signal: controller.signal,
      command: "serve",
      onProgress: (p: Progress) => {
        runner.progress = p;
      },
    };
    runner.done = (async () => {
      try {
        const batch = await this.requireBatch(batchId);
        const spooled = this.spool.filesOf(batchId, batch.inputRef).find((f) => fs.existsSync(f));
        if (!batch.planComplete && spooled) {
          await runBatch({
            ...this.options.output,
            ...common,
            input: spooled,
            batchId,
            inputRef: batch.inputRef,
            prevalidated: { hasPaths: batch.fingerprint === null },
            sync: batch.planSync,
            root: this.options.root ?? this.options.spoolDir,
            // The body is no longer needed, nor any other left by a crash after planning.
            onPlanned: () => void this.spool.sweep(this.store, false),
          });
          // Planned by another process meanwhile, or while this one stopped: sweep now.
          if ((await this.store.getBatch(batchId))?.planComplete) await this.spool.sweep(this.store, false);
        } else if (!batch.planComplete) {
          this.options.logger.error(
            { event: "serve.resume", batchId },
            "plan incomplete and its upload is gone",
          );
          return;
        }
        // Documents re-queued while the last run was finishing are picked up by another pass.
        for (;;) {
          runner.again = false;
          const counts = await this.store.counts(batchId);
          const current = await this.store.getBatch(batchId);
          if (controller.signal.aborted || !current?.planComplete || current.cancelledAt !== null) break;
          if (counts.pending + counts.processing === 0) break;
          await resumeBatch({ ...common, batchId });
          this.invalidate(batchId);
        }
      } catch (err) {
        this.options.logger.error(
          { event: "serve.batch_failed", batchId, error: (err as Error).message },
          "batch run failed",
        );
      } finally {
        this.runners.delete(batchId);
        this.invalidate(batchId);
        // Work that arrived after the last look (between it and this line) gets a runner of its own.
        if (runner.again && !controller.signal.aborted && !this.stopping) this.start(batchId);
      }
    })();
    this.runners.set(batchId, runner);
  }
}
