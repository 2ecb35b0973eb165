import type { RandomSource } from "../core/backoff.js";
import { backoffDelay } from "../core/backoff.js";
import type { CircuitBreaker } from "../core/breaker.js";
import { DocbatchError, toDocbatchError } from "../core/errors.js";
import type { Interruptible } from "../core/interrupt.js";
import { decide, type RetryPolicy } from "../core/retry-policy.js";
import type { Chunk, ErrorInfo, JsonObject, StageName } from "../core/types.js";
import type { CpuPool } from "../pipeline/cpu-pool.js";
import { type EmbedQueue, SharedRequestFailed } from "../pipeline/embed/queue.js";
import type { OutputChunks } from "../store/embed-cache.js";
import type { ClaimedDocument, Outcome, StagedChunks, StagedProgress, StageTimings } from "../store/store.js";
import type { RunEmbedCache } from "./embed-cache.js";
import type { Slot } from "./engine.js";
import type { FaultInjector } from "./faults.js";
import {
  fallbackChunks,
  MAIN_THREAD_FROM_BYTES,
  prepareDocument,
  preparedKeyOf,
  reusedOutput,
} from "./prepare-document.js";
import type { PipelineSettings, StageLayers } from "./settings.js";

export interface DocumentContext {
  settings: PipelineSettings;
  /** Every embedding request of the run goes through it (and may share a request with others). */
  embedQueue: EmbedQueue;
  /** Worker threads for the CPU stages; without it they run on this thread. */
  cpu?: CpuPool;
  /** With the local embedder, the threads embed the documents they prepare (its dimension); null otherwise. */
  embedInPool?: number | null;
  /** Chunk texts sent per embedding request. */
  embedBatchSize: number;
  /** Time limit of one embedding request (also the length of an injected hang). */
  embedTimeoutMs: number;
  breaker: CircuitBreaker;
  /** How long a document may wait for an open breaker before it completes without vectors. */
  breakerMaxWaitMs: number;
  policy: RetryPolicy;
  faults: FaultInjector;
  random: RandomSource;
  clock: () => number;
  loadStaged(doc: ClaimedDocument): Promise<StagedChunks | null>;
  /** The run's embedding cache: lookups before embedding, answers stored as they arrive. */
  cache?: RunEmbedCache;
  /** The batch's layer by stage: a document whose parse and chunk parts held keeps its chunk texts. */
  layers?: StageLayers;
  loadOutputChunks?(row: number): Promise<OutputChunks | null>;
  loadContent(row: number): Promise<string | null>;
  /** Where the CPU threads read contents themselves (see Store.contentFile), if they can. */
  contentFile: string | null;
  /** Queues progress of a large document; it is committed with the next group. */
  saveProgress(progress: StagedProgress): void;
  /** Dies abruptly: the `crash` fault. */
  crash(): void;
  /** Resolves once this process has finished writing the plan (at once when it does not plan). */
  planWritten?: () => Promise<void>;
}

/** Why a document's processing was interrupted without a failure of its own. */
export class Interrupted extends Error {}

/**
 * One execution of one document: load → parse → clean → chunk → embed, in order, and what became of
 * it. Failures are turned into retries, the fallback path or a final failure by `decide`; an
 * execution interrupted by shutdown hands the document back without counting an attempt.
 */
export async function processDocument(
  doc: ClaimedDocument,
  ctx: DocumentContext,
  signal: Interruptible,
  slot?: Slot,
): Promise<Outcome> {
  const startedAt = ctx.clock();
  const at: { stage: StageName } = { stage: "parse" };
  try {
    return await execute(doc, ctx, signal, startedAt, at, slot);
  } catch (err) {
    if (err instanceof Interrupted) {
      const stage = doc.failedStage ?? at.stage;
      return { kind: "retry", doc, error: null, stage, stageAttempts: doc.stageAttempts, notBefore: 0 };
    }
    // A document timeout, or a failure no stage anticipated.
    const error = toDocbatchError(err);
    const attempts = stageAttempts(doc, at.stage);
    const decision = decide(error.code, attempts, ctx.policy, ctx.random, error.retryAfterMs);
    if (decision.action === "retry")
      return retry(doc, at.stage, error, attempts, ctx.clock() + decision.delayMs);
    if (decision.action === "fail")
      return { kind: "failed", doc, error: info(error), stage: at.stage, startedAt };
    // The simplest output that cannot fail: fixed-size chunks of plain text, no vectors.
    const timings: StageTimings = {};
    const prepared = await fallbackChunks(doc, ctx, timings);
    const reason = info(error);
    const chunks = prepared.texts.map((text, index) => ({
      index,
      text,
      embedding: null,
      metadata: prepared.metadata[index]!,
    }));
    return {
      kind: "completed",
      doc,
      degraded: reason,
      chunks,
      startedAt,
      timings,
      failures: [{ stage: at.stage, error: reason }],
    };
  }
}

async function execute(
  doc: ClaimedDocument,
  ctx: DocumentContext,
  signal: Interruptible,
  startedAt: number,
  at: { stage: StageName },
  slot: Slot | undefined,
): Promise<Outcome> {
  const timings: StageTimings = {};
  if (doc.loadError) return { kind: "failed", doc, error: doc.loadError, stage: "load", startedAt };
  if (ctx.breaker.state === "open" && startedAt < ctx.breaker.nextProbeAt) {
    return waitForBreaker(doc, ctx, startedAt);
  }
  const staged = doc.hasStaged ? await ctx.loadStaged(doc) : null;
  const failures: { stage: StageName; error: ErrorInfo }[] = [];
  let texts: string[];
  let metadata: JsonObject[];
  let fallback: ErrorInfo | null;
  let vectors: (Float32Array | null)[];
  let prefilled: Float32Array[] | null = null;
  if (staged) {
    ({ texts, fallback, metadata } = staged);
    vectors = staged.vectors;
  } else {
    const prepared = await chunkTexts(doc, ctx, signal, timings, startedAt);
    if ("outcome" in prepared) return prepared.outcome;
    ({ texts, metadata, fallback, prefilled } = prepared);
    if (fallback) failures.push({ stage: "parse", error: fallback });
    vectors = prefilled ?? new Array<Float32Array | null>(texts.length).fill(null);
    if (!prefilled && texts.length > ctx.embedBatchSize) {
      ctx.saveProgress({ doc, texts: { values: texts, metadata, fallback }, vectors: [] });
    }
  }
  // The fallback path's chunks are not the pipeline's: they are never reused.
  const prep = fallback === null ? preparedKeyOf(doc, ctx) : null;
  throwIfInterrupted(signal);

  at.stage = "embed";
  const embedStart = ctx.clock();
  const hashes = prefilled || !ctx.cache?.caching ? null : ctx.cache.hashesOf(texts);
  if (hashes) await ctx.cache!.fill(hashes, vectors);
  else if (prefilled) ctx.cache?.countEmbedded(prefilled.length);
  const embedded = await embedMissing(doc, ctx, { texts, vectors, hashes }, signal, slot);
  if (!prefilled) timings.embed = ctx.clock() - embedStart;
  if (embedded.outcome) return embedded.outcome;
  if (embedded.degraded) {
    failures.push({ stage: "embed", error: embedded.degraded });
    fallback ??= embedded.degraded;
  }
  if (ctx.faults.hits("crash", doc.idempotencyKey, doc.executions)) ctx.crash();
  const chunks: Chunk[] = texts.map((text, index) => ({
    index,
    text,
    embedding: embedded.degraded ? null : (vectors[index] ?? null),
    metadata: metadata[index] ?? {},
  }));
  return {
    kind: "completed",
    doc,
    degraded: fallback,
    chunks,
    startedAt,
    timings,
    prep,
    // Assigned, not spread: spreading into the literal costs an object per document.
    failures: failures.length > 0 ? failures : undefined,
  };
}

interface ChunkTexts {
  texts: string[];
  metadata: JsonObject[];
  /** Set when the parse stage failed for good and these are the fallback path's chunks. */
  fallback: ErrorInfo | null;
  /** Vectors computed with the chunks (the built-in embedder in the threads), if any. */
  prefilled: Float32Array[] | null;
}

/**
 * A document's chunk texts: its committed ones when only the embedding layer changed, else parsed,
 * cleaned and chunked; after a parse failure, a retry, a final failure or the fallback path's.
 */
async function chunkTexts(
  doc: ClaimedDocument,
  ctx: DocumentContext,
  signal: Interruptible,
  timings: StageTimings,
  startedAt: number,
): Promise<ChunkTexts | { outcome: Outcome }> {
  const reused = doc.hadOutput ? await reusedOutput(doc, ctx) : null;
  if (reused) return { ...reused, fallback: null, prefilled: null };
  try {
    // A large document starts once the plan is written: the planning thread's memory (it read,
    // decoded and hashed this very content) is returned before processing needs as much again.
    if ((doc.size ?? 0) >= MAIN_THREAD_FROM_BYTES) await ctx.planWritten?.();
    if (ctx.faults.hits("parse", doc.idempotencyKey, doc.attempts)) {
      throw new DocbatchError("PARSE_ERROR", "injected fault: the parser crashed");
    }
    const prepared = await prepareDocument(doc, ctx, signal, timings);
    return {
      texts: prepared.texts,
      metadata: prepared.metadata,
      fallback: null,
      prefilled: prepared.vectors,
    };
  } catch (err) {
    throwIfInterrupted(signal);
    const error = toDocbatchError(err);
    const attempts = stageAttempts(doc, "parse");
    const decision = decide(error.code, attempts, ctx.policy, ctx.random);
    if (decision.action === "retry")
      return { outcome: retry(doc, "parse", error, attempts, startedAt + decision.delayMs) };
    if (decision.action === "fail")
      return { outcome: { kind: "failed", doc, error: info(error), stage: "parse", startedAt } };
    const fallback = info(error);
    return { ...(await fallbackChunks(doc, ctx, timings)), fallback, prefilled: null };
  }
}

interface EmbedResult {
  /** Set when the document leaves this execution early (retry, wait). */
  outcome?: Outcome;
  /** Set when the document completes without vectors, with the reason. */
  degraded?: ErrorInfo;
}

interface EmbedWork {
  texts: string[];
  /** Filled in place; the missing ones are null. */
  vectors: (Float32Array | null)[];
  /** The texts' cache hashes, when the run has a cache. */
  hashes: string[] | null;
}

async function embedMissing(
  doc: ClaimedDocument,
  ctx: DocumentContext,
  { texts, vectors, hashes }: EmbedWork,
  signal: Interruptible,
  slot: Slot | undefined,
): Promise<EmbedResult> {
  const staging = texts.length > ctx.embedBatchSize;
  const missing: number[] = [];
  for (let i = 0; i < vectors.length; i++) if (vectors[i] === null) missing.push(i);
  const oneRequest = missing.length <= ctx.embedBatchSize;
  for (let from = 0, step = 0; from < missing.length; from += ctx.embedBatchSize, step++) {
    throwIfInterrupted(signal);
    const indexes = oneRequest ? missing : missing.slice(from, from + ctx.embedBatchSize);
    // A document of one request has nothing left to do but wait: its slot goes to the next one.
    if (oneRequest && slot) {
      await slot.park(indexes.length, signal);
      throwIfInterrupted(signal);
    }
    const now = ctx.clock();
    const permit = ctx.breaker.acquire(now);
    if (!permit.allowed) {
      const since = doc.breakerWaitSince ?? now;
      if (now - since < ctx.breakerMaxWaitMs) return { outcome: waitForBreaker(doc, ctx, now) };
      const error = {
        code: "CIRCUIT_OPEN",
        message: `the embeddings service was unavailable for ${now - since} ms`,
      };
      return { degraded: error };
    }
    let result: Float32Array[];
    try {
      // Every text missing (a first run): the document's own list, not a copy.
      const asked = indexes.length === texts.length ? texts : indexes.map((i) => texts[i]!);
      result = await requestVectors(doc, ctx, asked, step, signal);
      ctx.breaker.onSuccess(ctx.clock(), permit.probe);
    } catch (err) {
      if (signal.aborted) {
        if (permit.probe) ctx.breaker.cancelProbe();
        throw interruption(signal);
      }
      if (err instanceof SharedRequestFailed) {
        if (permit.probe) ctx.breaker.cancelProbe();
        return { outcome: afterSharedFailure(doc, ctx, toDocbatchError(err.failure)) };
      }
      const error = toDocbatchError(err);
      if (countsAgainstService(error.code)) ctx.breaker.onFailure(ctx.clock(), permit.probe);
      else if (permit.probe) ctx.breaker.cancelProbe();
      const attempts = stageAttempts(doc, "embed");
      const decision = decide(error.code, attempts, ctx.policy, ctx.random, error.retryAfterMs);
      if (decision.action === "retry") {
        return { outcome: retry(doc, "embed", error, attempts, ctx.clock() + decision.delayMs) };
      }
      const reason = info(error);
      return { degraded: reason };
    }
    if (hashes)
      ctx.cache!.remember(indexes.length === hashes.length ? hashes : indexes.map((i) => hashes[i]!), result);
    else ctx.cache?.countEmbedded(result.length);
    for (let k = 0; k < indexes.length; k++) vectors[indexes[k]!] = result[k]!;
    if (staging) {
      ctx.saveProgress({ doc, vectors: indexes.map((index, k) => ({ index, embedding: result[k]! })) });
    }
  }
  return {};
}

async function requestVectors(
  doc: ClaimedDocument,
  ctx: DocumentContext,
  texts: string[],
  step: number,
  signal: Interruptible,
): Promise<Float32Array[]> {
  // Injected faults are drawn by the document's failed attempts so far (not by its executions), so
  // they do not depend on how often it waited for the breaker: one seed gives the same failures.
  if (ctx.faults.hits("embed", doc.idempotencyKey, doc.attempts, step)) {
    throw new DocbatchError("EMBED_UNAVAILABLE", "injected fault: the embeddings service answered 503");
  }
  if (ctx.faults.hits("timeout", doc.idempotencyKey, doc.attempts, step)) {
    await new Promise<void>((resolve) => {
      const onAbort = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, ctx.embedTimeoutMs);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    throwIfInterrupted(signal);
    throw new DocbatchError("EMBED_TIMEOUT", `injected fault: no answer within ${ctx.embedTimeoutMs} ms`);
  }
  return ctx.embedQueue.embed(texts, signal);
}

/** Failures that say the service is unhealthy; only these move the breaker. */
function countsAgainstService(code: string): boolean {
  return code === "EMBED_UNAVAILABLE" || code === "EMBED_TIMEOUT" || code === "EMBED_RATE_LIMITED";
}

function stageAttempts(doc: ClaimedDocument, stage: StageName): number {
  return (doc.failedStage === stage ? doc.stageAttempts : 0) + 1;
}

function retry(
  doc: ClaimedDocument,
  stage: StageName,
  error: DocbatchError,
  attempts: number,
  notBefore: number,
): Outcome {
  return { kind: "retry", doc, error: info(error), stage, stageAttempts: attempts, notBefore };
}

/** Hands the document back until the breaker lets a probe through; no attempt is burnt. */
function waitForBreaker(doc: ClaimedDocument, ctx: DocumentContext, now: number): Outcome {
  return handBack(doc, Math.max(ctx.breaker.nextProbeAt, now + 1), doc.breakerWaitSince ?? now);
}

/**
 * A shared request failed and was counted against the document that led it: this one tries again
 * after the backoff its next attempt would wait, without spending an attempt.
 */
function afterSharedFailure(doc: ClaimedDocument, ctx: DocumentContext, error: DocbatchError): Outcome {
  const delayMs = backoffDelay(stageAttempts(doc, "embed") - 1, ctx.policy, ctx.random, error.retryAfterMs);
  return handBack(doc, ctx.clock() + delayMs);
}

/** The document goes back to the store until `notBefore`, its attempts untouched. */
function handBack(doc: ClaimedDocument, notBefore: number, breakerWaitSince?: number): Outcome {
  return {
    kind: "retry",
    doc,
    error: null,
    stage: doc.failedStage ?? "embed",
    stageAttempts: doc.stageAttempts,
    notBefore,
    ...(breakerWaitSince !== undefined ? { breakerWaitSince } : {}),
  };
}

function info(error: DocbatchError): ErrorInfo {
  return { code: error.code, message: error.message };
}

function throwIfInterrupted(signal: Interruptible): void {
  if (signal.aborted) throw interruption(signal);
}

/** A document timeout is a failed attempt (DOC_TIMEOUT); a shutdown is not. */
function interruption(signal: Interruptible): Error {
  const reason = signal.reason;
  if (reason instanceof DocbatchError) return reason;
  return new Interrupted("interrupted");
}
