import fs from "node:fs";
import path from "node:path";
import { toDocbatchError } from "../core/errors.js";
import { IdentityMap } from "../core/identity-map.js";
import { lineStartAfter } from "../input/lines.js";
import { defaultBatchId, type InputSource, openInput } from "../input/sources.js";
import { validateInput, validatePart } from "../input/validate.js";
import { ThreadedHttpEmbedder } from "../pipeline/embed/threaded-http.js";
import { type BatchReport, buildReport } from "../report/report.js";
import { createStore, DEFAULT_DB } from "../store/open.js";
import type { BatchInfo, PlanStart, RunHandle, Store } from "../store/store.js";
import { storeError } from "../store/transient.js";
import { finishDelivery, startDelivery } from "./deliver-batch.js";
import type { StopReason } from "./engine.js";
import { InputThread } from "./input-runner.js";
import type { InputRef } from "./input-thread.js";
import { createLogger, type Logger } from "./logger.js";
import { type PlanInput, PlanTask } from "./plan-coordinator.js";
import { ResilientStore } from "./resilient-store.js";
import {
  type OutputOptions,
  type PlanModeOptions,
  type ProcessOptions,
  type Progress,
  pipelineSettings,
  type ResolvedProcessOptions,
  resolveProcessOptions,
  syncOption,
} from "./run-options.js";
import { openRunAs, processAlongsidePlan, type RunSteps, startPlanning } from "./run-steps.js";
import { layerOf, type PipelineSettings, settingsFromJson, settingsToJson } from "./settings.js";
import type { Deliverer } from "./sink-delivery.js";
import type { SinkOptions } from "./sink-options.js";
import { type StoreOutage, StoreRetry } from "./store-retry.js";

export type { OutputOptions, ProcessOptions, Progress } from "./run-options.js";

/** The options of `runBatch` (and of `docbatch run`). Everything but `input` is optional. */
export interface RunBatchOptions extends ProcessOptions, OutputOptions, SinkOptions, PlanModeOptions {
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
  /** Called once this process has completed the plan (processing may still be going on). */
  onPlanned?: () => void;
}

export interface RunResult {
  report: BatchReport;
  stopReason: StopReason;
  /** The contract's exit code for this result. */
  exitCode: number;
  /**
   * `local`: the built-in hashing embedder (not a semantic model); `http`: the batch's endpoint;
   * `model`: a local model (--embed-model-dir).
   */
  embedder: PipelineSettings["embed"]["kind"];
}

/** Input files from this size on are validated on a thread of their own. */
const VALIDATE_IN_THREAD_FROM_BYTES = 16 * 1024 * 1024;

/**
 * Plans a batch from its input (or resumes planning), then processes every unfinished document,
 * and returns the report. Re-running it after any interruption continues where it stopped.
 */
export async function runBatch(options: RunBatchOptions): Promise<RunResult> {
  const processStartedAt = Math.round(performance.timeOrigin);
  const settings = pipelineSettings(options);
  const resolved = resolveProcessOptions(options);
  const sync = syncOption(options.sync);
  const logger: Logger = options.logger ?? createLogger(options.logFile, options.logLevel);
  const dbFile = path.resolve(options.db ?? DEFAULT_DB);
  // A run that plans (a first one for sure) has documents to embed: its planning thread, and the
  // thread of its embedding requests (see createEmbedder), load while the input is opened and
  // checked, on the core validation leaves idle.
  const prewarm = () => {
    InputThread.prewarm();
    if (settings.embed.kind === "http" && resolved.threads > 0) ThreadedHttpEmbedder.prewarm();
  };
  if (!options.store && !fs.existsSync(dbFile)) prewarm();
  const ref = inputRefOf(options, dbFile);
  const source = await openInput(options.input, ref);
  const layer = layerOf(settings);
  const fingerprint = await batchFingerprint(source, layer, settings.maxDocBytes);
  const validate = () => validateSource(source, ref);
  // A new store file is created only for a valid input: validate first when there is none yet.
  let validated = options.prevalidated ?? null;
  if (!validated && !options.store && !fs.existsSync(dbFile)) validated = await validate();
  const raw =
    options.store ?? (await createStore({ db: dbFile }, { durability: options.durability ?? "full" }));
  const retry = storeRetryOf(resolved, logger, options.onStoreOutage);
  const store = new ResilientStore(raw, retry);
  try {
    if (!options.store) await store.open();
    const batchId =
      options.batchId?.trim() ||
      (await defaultBatchId(source, async (id) => (await store.getBatch(id))?.inputRef ?? null));
    const existing = await store.getBatch(batchId);
    if (!existing?.planComplete || existing.fingerprint !== fingerprint) prewarm();
    if (!validated && existing?.fingerprint !== fingerprint) validated = await validate();
    const { run, resumes } = await openRunAs(store, batchId, options, "run", {
      leaseMs: resolved.leaseMs,
      processStartedAt,
      logger,
    });
    const input: PlanInput = {
      source,
      ref,
      maxDocBytes: settings.maxDocBytes,
      layer,
      ...(options.rehash ? { rehash: true } : {}),
    };
    const start = planStartOf(options, {
      batchId,
      layer,
      settings,
      source,
      fingerprint,
      validated,
      existing,
      sync,
    });
    return await endingRun(store, run, logger, () =>
      planAndProcess({ options, resolved, logger, store, retry, run, resumes, input, start, settings }),
    );
  } catch (err) {
    throw storeError(err) ?? err;
  } finally {
    InputThread.discard();
    ThreadedHttpEmbedder.discard();
    if (!options.store) await store.close();
  }
}

function inputRefOf(options: RunBatchOptions, dbFile: string): InputRef {
  return {
    path: path.resolve(options.input),
    storeFiles: options.store ? [] : [dbFile],
    ...(options.root ? { root: options.root } : {}),
    ...(options.include ? { include: options.include } : {}),
    ...(options.exclude ? { exclude: options.exclude } : {}),
  };
}

/**
 * A large input file (both kinds are streamed) is validated on a thread of its own, whose memory
 * (the identities of millions of documents) is freed when it ends; a small one is validated here,
 * without a thread's start-up.
 */
async function validateSource(source: InputSource, ref: InputRef): Promise<{ hasPaths: boolean }> {
  const size =
    source.kind !== "directory" && InputThread.available()
      ? (await fs.promises.stat(source.location)).size
      : 0;
  if (size < VALIDATE_IN_THREAD_FROM_BYTES) return validateInput(source);
  const halves = source.kind === "jsonl" ? await validateInHalves(source, ref, size) : null;
  return halves ?? InputThread.validate(ref);
}

/**
 * A large JSON Lines file is validated in two halves at once, the first on a thread and the
 * second here (nothing else runs before the input is known to be valid): on two cores, about half
 * the wait before the first document, most of a run's start on a large input. Null when
 * either half holds a problem, or the halves share an id with different contents: the whole file
 * is then validated again, for the error with its line numbers.
 */
async function validateInHalves(
  source: InputSource,
  ref: InputRef,
  size: number,
): Promise<{ hasPaths: boolean } | null> {
  const middle = await lineStartAfter(source.location, Math.floor(size / 2));
  if (middle === null) return null;
  const [first, second] = await Promise.all([
    InputThread.validatePart(ref, 0, middle),
    validatePart(source, middle, Number.POSITIVE_INFINITY),
  ]);
  if (!first.clean || !second.clean) return null;
  if (!IdentityMap.fromTable(second.identities).agreesWith(first.identities)) return null;
  return { hasPaths: first.hasPaths || second.hasPaths };
}

/** What the plan of this run starts from, and what tells whether the stored plan is up to date. */
function planStartOf(
  options: RunBatchOptions,
  plan: {
    batchId: string;
    layer: string;
    settings: PipelineSettings;
    source: InputSource;
    fingerprint: string;
    validated: { hasPaths: boolean } | null;
    existing: BatchInfo | null;
    sync: PlanStart["sync"];
  },
): PlanStart {
  const { source, validated, existing } = plan;
  return {
    batchId: plan.batchId,
    layer: plan.layer,
    settings: settingsToJson({
      ...plan.settings,
      root: source.root.realRoot,
      ...(options.include ? { include: options.include } : {}),
      ...(options.exclude ? { exclude: options.exclude } : {}),
    }),
    inputRef: options.inputRef ?? source.location,
    // Files of `path` documents may change while the input does not: a complete plan of the same
    // input is then planned again, each file checked by its stat (a folder's fingerprint covers
    // its files' stats already). Validation was skipped only when the fingerprint matched.
    fingerprint: plan.fingerprint,
    externalFiles:
      source.kind !== "directory" && (validated ? validated.hasPaths : (existing?.externalFiles ?? true)),
    sync: plan.sync,
    ...(options.rehash ? { replan: true } : {}),
  };
}

interface RunContext extends RunSteps {
  options: RunBatchOptions;
  /** True when this run takes over from an ended or dead run of the batch. */
  resumes: boolean;
  input: PlanInput;
  start: PlanStart;
  settings: PipelineSettings;
}

async function planAndProcess(ctx: RunContext): Promise<RunResult> {
  const { options, logger, store, run } = ctx;
  // In-flight documents were recovered when the run opened; now the sink cursors.
  const sinks = await startDelivery(
    store,
    run.batchId,
    options,
    logger,
    !options.planOnly,
    ctx.resolved.storeRetryMs,
  );
  try {
    const stopReason = await planAndProcessDocuments(ctx, sinks.delivery);
    await finishDelivery(sinks.delivery, stopReason, sinks.waitMs, logger, run.batchId);
    return await finishRun(store, run, stopReason, logger, options.onProgress);
  } finally {
    await sinks.delivery?.stop();
  }
}

async function planAndProcessDocuments(ctx: RunContext, delivery: Deliverer | null): Promise<StopReason> {
  const { options, run } = ctx;
  const cursor = await ctx.store.beginPlan(ctx.start);
  const plan = new PlanTask();
  if (!cursor.upToDate) {
    startPlanning(plan, ctx, {
      input: ctx.input,
      onPlanning: (planned) => options.onProgress?.({ ...idle(run.batchId, "planning"), planned }),
    });
    plan.outcome().then(
      (stop) => stop === "finished" && options.onPlanned?.(),
      () => {},
    );
  }
  return processAlongsidePlan(ctx, plan, {
    // Processing starts while the plan is being written when nothing it may change is complete
    // already: a new batch, or the rest of an interrupted plan of the same input. A changed input
    // (a new plan generation over existing documents) is planned first.
    streamable: !options.planOnly && (!cursor.existed || cursor.batch.planRecords > 0),
    resumes: ctx.resumes,
    process: !options.planOnly,
    settings: ctx.settings,
    delivery,
  });
}

/** Records the end of a run and builds the report it returns. */
export async function finishRun(
  store: Store,
  run: RunHandle,
  stopReason: StopReason,
  logger: Logger,
  onProgress?: (progress: Progress) => void,
): Promise<RunResult> {
  await store.endRun(run, stopReason, Date.now());
  logger.info({ event: "run.end", batchId: run.batchId, run: run.run, reason: stopReason }, "run ended");
  const report = await buildReport(store, run.batchId);
  onProgress?.(finished(report, stopReason));
  const batch = await store.getBatch(run.batchId);
  const embedder = batch ? settingsFromJson(batch.settings).embed.kind : "local";
  return { report, stopReason, exitCode: exitCodeFor(stopReason, report), embedder };
}

/**
 * What a plan was made from: the input, the layer, and the size limit (a document over it fails
 * when planned, so a raised limit must plan the input again).
 */
export async function batchFingerprint(
  source: Pick<InputSource, "fingerprint">,
  layer: string,
  maxDocBytes: number,
): Promise<string> {
  return `${await source.fingerprint()}|${layer}|max-doc-bytes=${maxDocBytes}`;
}

export function exitCodeFor(reason: StopReason, report: BatchReport): number {
  if (reason === "interrupted") return 130;
  if (reason === "fail-budget") return 3;
  // A run is complete only when every sink holds what the store holds.
  if (report.sinks.some((s) => s.lag > 0)) return 3;
  return report.completion_rate >= 0.99 ? 0 : 3;
}

/** How long a run's store calls ride out an outage, told to the logs and to `onStoreOutage`. */
export function storeRetryOf(
  resolved: ResolvedProcessOptions,
  logger: Logger,
  onStoreOutage?: (outage: StoreOutage | null) => void,
): StoreRetry {
  return new StoreRetry({
    budgetMs: resolved.storeRetryMs,
    logger,
    ...(onStoreOutage ? { onChange: onStoreOutage } : {}),
  });
}

/**
 * Runs the body of a run; if it fails, the run is recorded as ended by that failure (when the store
 * can still be reached) before the error goes on, so that no run stays marked running after it.
 */
export async function endingRun<T>(
  store: Store,
  run: RunHandle,
  logger: Logger,
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (err) {
    const error = storeError(err) ?? toDocbatchError(err);
    logger.error(
      { event: "run.end", batchId: run.batchId, run: run.run, reason: "error", code: error.code },
      "run failed",
    );
    // An unreachable store was retried for long enough already; the run is found dead later.
    if (error.code !== "STORE_UNAVAILABLE") {
      await store.endRun(run, `error:${error.code}`, Date.now()).catch(() => {});
    }
    throw err;
  }
}

function idle(batchId: string, phase: Progress["phase"]): Progress {
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

export function finished(report: BatchReport, reason: StopReason): Progress {
  const c = report.counts;
  return {
    ...idle(report.batch_id, reason === "finished" ? "finished" : "stopped"),
    total: c.total,
    completed: c.done + c.degraded,
    failed: c.failed,
    pending: c.pending + c.processing,
    planned: c.total,
  };
}
