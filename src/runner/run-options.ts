import os from "node:os";
import { DocbatchError } from "../core/errors.js";
import type { RetryPolicy } from "../core/retry-policy.js";
import type { SyncMode } from "../core/types.js";
import type { FileFilterOptions } from "../input/file-filter.js";
import { CHUNK_UNITS, type ChunkUnit, TOKENIZERS, type TokenizerName } from "../pipeline/chunk-measure.js";
import { modelId } from "../pipeline/embed/model.js";
import { checkModelDir } from "../pipeline/embed/model-runner.js";
import { DEFAULTS } from "./defaults.js";
import type { Logger } from "./logger.js";
import { expectInteger, expectRate } from "./options.js";
import type { PipelineSettings } from "./settings.js";
import type { StoreOutage } from "./store-retry.js";

/** Options of processing, shared by `runBatch`, `resumeBatch` (workers, the server) and the CLI. */
export interface ProcessOptions {
  /**
   * Documents in flight at once, 1 and up. Enough to keep the CPU threads and the embedding
   * requests busy while the main thread commits. @default 32
   */
  concurrency?: number;
  /** Attempts per document and stage before the fallback path, 1 and up. @default 3 */
  maxAttempts?: number;
  /** First retry delay in ms. @default 200 */
  baseDelayMs?: number;
  /** Cap of the exponential part of retry delays, in ms. @default 30_000 */
  maxDelayMs?: number;
  /** Per-request time limit of the embeddings endpoint, in ms. @default the batch's setting, else 30_000 */
  embedTimeoutMs?: number;
  /** Chunk texts per embedding request. @default 64 */
  embedBatchSize?: number;
  /**
   * Embedding requests in flight at once. Below `concurrency`, the texts of several documents
   * share requests (fewer, fuller requests). @default min(concurrency, 8)
   */
  embedConcurrency?: number;
  /** Per-document time limit in ms; 0 for none. @default 0 */
  docTimeoutMs?: number;
  /** Longest wait for an open breaker before a document completes without vectors, in ms. @default 120_000 */
  breakerMaxWaitMs?: number;
  /** End the run early (resumable) when the share of failed documents exceeds this. */
  maxFailRate?: number;
  /**
   * Do not look chunk texts up in the embedding cache: every text is sent to the embedder. Its
   * answers are still stored, for later runs. @default false
   */
  noCache?: boolean;
  /** Fault injection: `parse=P,embed=P,timeout=P,crash=P`. */
  inject?: string;
  /** Seed of fault injection. @default 1 */
  seed?: number;
  /** Lease of a claimed document, in ms, 1000 and up. @default 30_000 */
  leaseMs?: number;
  /** Time running documents get to finish when stopped, in ms. @default 10_000 */
  shutdownGraceMs?: number;
  /** Aborting it stops the run: no new claims, running documents finish or are handed back. */
  signal?: AbortSignal;
  /** Structured logs. @default off */
  logger?: Logger;
  logFile?: string;
  logLevel?: string;
  /** Called about every `progressIntervalMs` while documents are processed. */
  onProgress?: (progress: Progress) => void;
  /** @default 200 */
  progressIntervalMs?: number;
  /** Recorded with the run, shown in reports. @default "run" */
  command?: string;
  /** The id this process reports as a worker. @default "<host>:<pid>" */
  workerId?: string;
  /**
   * Worker threads for parsing, chunking and local embedding; 0 keeps them on the main thread.
   * @default the number of cores, when there are two or more
   */
  threads?: number;
  /**
   * How long each store call is retried through transient failures (a restarting or failing-over
   * database, lost connections, a busy SQLite file), in ms, 0 and up. Commits stay fenced, so a
   * retry never writes anything twice. Past it the run stops with STORE_UNAVAILABLE, resumable.
   * @default 60_000
   */
  storeRetryMs?: number;
  /** Told when the store becomes unreachable (while its calls are retried), and null when it is back. */
  onStoreOutage?: (outage: StoreOutage | null) => void;
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
  /** `stopped`: the run ended before the batch did (interrupted, or the failure budget). */
  phase: "planning" | "processing" | "finished" | "stopped";
  planned: number;
  /**
   * True while the plan is still being written as documents are processed: `total` is what is
   * planned so far and grows (settled documents may briefly exceed it).
   */
  planning?: boolean;
  /** Set while the store is unreachable and its calls are retried: since when, and why. */
  storeRetry?: { since: number; error: string } | null;
  /** Changes committed but not yet acknowledged by the batch's sinks (absent without sinks). */
  sinkLag?: number | null;
}

export interface ResolvedProcessOptions {
  concurrency: number;
  policy: RetryPolicy;
  embedTimeoutMs: number | undefined;
  embedBatchSize: number;
  embedConcurrency: number;
  docTimeoutMs: number;
  breakerMaxWaitMs: number;
  maxFailRate: number | undefined;
  /** Look chunk texts up in the embedding cache before embedding them. */
  cacheLookups: boolean;
  leaseMs: number;
  seed: number;
  shutdownGraceMs: number;
  threads: number;
  storeRetryMs: number;
}

/** Validates every numeric option up front, with messages that show the bad value. */
export function resolveProcessOptions(options: ProcessOptions): ResolvedProcessOptions {
  const concurrency = expectInteger("concurrency", options.concurrency ?? DEFAULTS.concurrency, 1, 10_000);
  return {
    concurrency,
    embedConcurrency: expectInteger(
      "embedConcurrency",
      options.embedConcurrency ?? Math.min(concurrency, DEFAULTS.embedConcurrencyCap),
      1,
      10_000,
    ),
    policy: {
      maxAttempts: expectInteger("maxAttempts", options.maxAttempts ?? DEFAULTS.maxAttempts, 1, 100),
      baseDelayMs: expectInteger("baseDelayMs", options.baseDelayMs ?? DEFAULTS.baseDelayMs, 0),
      maxDelayMs: expectInteger("maxDelayMs", options.maxDelayMs ?? DEFAULTS.maxDelayMs, 0),
    },
    embedTimeoutMs:
      options.embedTimeoutMs === undefined
        ? undefined
        : expectInteger("embedTimeoutMs", options.embedTimeoutMs, 1),
    embedBatchSize: expectInteger(
      "embedBatchSize",
      options.embedBatchSize ?? DEFAULTS.embedBatchSize,
      1,
      10_000,
    ),
    docTimeoutMs: expectInteger("docTimeoutMs", options.docTimeoutMs ?? DEFAULTS.docTimeoutMs, 0),
    breakerMaxWaitMs: expectInteger(
      "breakerMaxWaitMs",
      options.breakerMaxWaitMs ?? DEFAULTS.breakerMaxWaitMs,
      0,
    ),
    maxFailRate:
      options.maxFailRate === undefined ? undefined : expectRate("maxFailRate", options.maxFailRate),
    cacheLookups: options.noCache !== true,
    leaseMs: expectInteger("leaseMs", options.leaseMs ?? DEFAULTS.leaseMs, 1_000),
    seed: expectInteger("seed", options.seed ?? DEFAULTS.seed, 0),
    shutdownGraceMs: expectInteger("shutdownGraceMs", options.shutdownGraceMs ?? DEFAULTS.shutdownGraceMs, 0),
    threads: expectInteger("threads", options.threads ?? defaultThreads(), 0, 256),
    storeRetryMs: expectInteger("storeRetryMs", options.storeRetryMs ?? DEFAULTS.storeRetryMs, 0),
  };
}

/**
 * The options of a new plan, from `run`'s flags: which files are documents (`include`,
 * `exclude`: see FileFilterOptions), and what their output is (see PipelineSettings).
 */
/** How a run plans its input: neither part of the layer nor of the output's settings. */
export interface PlanModeOptions {
  /**
   * `full`: once the whole input is planned, every document of the batch that the input no longer
   * holds ends `deleted` (its chunks leave the export, the search index and every sink);
   * `accumulate`: such a document keeps its output. @default "accumulate"
   */
  sync?: SyncMode;
  /** Read every file again, even those whose size and modification time are unchanged. @default false */
  rehash?: boolean;
}

/** The sync mode asked for, checked (a library caller may pass anything). */
export function syncOption(value: unknown): SyncMode {
  if (value === undefined || value === "accumulate" || value === "full") return value ?? "accumulate";
  throw new DocbatchError(
    "USAGE",
    `Expected \`sync\` to be "accumulate" or "full", got \`${String(value)}\``,
    {
      details: [{ path: "sync", problem: "must be accumulate or full" }],
    },
  );
}

export interface OutputOptions extends FileFilterOptions {
  /** Largest chunk in `chunkUnit`s, 16 and up. @default 1000 */
  chunkSize?: number;
  /** Units repeated between neighbouring chunks, below chunkSize / 2. @default 0 */
  chunkOverlap?: number;
  /** What chunkSize and chunkOverlap count: characters (UTF-16 code units) or tokens. @default "chars" */
  chunkUnit?: ChunkUnit;
  /** The tokenizer of the `tokens` unit and of embedMaxTokens. @default "o200k_base" */
  tokenizer?: TokenizerName;
  /** The embedding model's input limit in tokens: longer chunks are split before embedding. @default none */
  embedMaxTokens?: number;
  /**
   * A local sentence-embedding model (ONNX; config.json, tokenizer.json, onnx/model.onnx) used
   * instead of the built-in embedder; needs the optional @huggingface/transformers. @default none
   */
  embedModelDir?: string;
  /** An OpenAI-compatible embeddings endpoint; without it the built-in local embedder is used. */
  embedUrl?: string;
  /** @default "text-embedding-3-small" */
  embedModel?: string;
  /** Dimensions of the local embedder. @default 256 */
  localDimensions?: number;
  /** Documents larger than this fail with DOC_TOO_LARGE. @default 20 MiB */
  maxDocBytes?: number;
  embedTimeoutMs?: number;
}

export function pipelineSettings(options: OutputOptions): PipelineSettings {
  const size = expectInteger("chunkSize", options.chunkSize ?? DEFAULTS.chunkSize, 16);
  const overlap = expectInteger("chunkOverlap", options.chunkOverlap ?? DEFAULTS.chunkOverlap, 0);
  if (overlap * 2 >= size) {
    throw new DocbatchError(
      "USAGE",
      `Expected \`chunkOverlap\` to be below chunkSize / 2 (${size / 2}), got \`${overlap}\``,
      { details: [{ path: "chunkOverlap", problem: "must be below chunkSize / 2" }] },
    );
  }
  const maxDocBytes = expectInteger("maxDocBytes", options.maxDocBytes ?? DEFAULTS.maxDocBytes, 1);
  const timeoutMs = expectInteger("embedTimeoutMs", options.embedTimeoutMs ?? DEFAULTS.embedTimeoutMs, 1);
  const chunk = { size, overlap, ...chunkShape(options) };
  if (options.embedUrl && options.embedModelDir) {
    throw new DocbatchError("USAGE", "Give either --embed-url or --embed-model-dir, not both.", {
      details: [{ path: "embedModelDir", problem: "conflicts with embedUrl" }],
    });
  }
  if (options.embedModelDir !== undefined) {
    const dir = checkModelDir(options.embedModelDir);
    return { chunk, embed: { kind: "model", dir, id: modelId(dir) }, maxDocBytes };
  }
  const embed: PipelineSettings["embed"] = options.embedUrl
    ? {
        kind: "http",
        url: options.embedUrl,
        model: options.embedModel ?? DEFAULTS.embedModel,
        timeoutMs,
      }
    : {
        kind: "local",
        dimensions: expectInteger(
          "localDimensions",
          options.localDimensions ?? DEFAULTS.localDimensions,
          8,
          65_536,
        ),
      };
  return { chunk, embed, maxDocBytes };
}

/** The unit, tokenizer and token limit of chunks, only when they differ from the defaults. */
function chunkShape(options: OutputOptions): Partial<PipelineSettings["chunk"]> {
  const oneOf = <T extends string>(
    name: string,
    value: T | undefined,
    allowed: readonly T[],
  ): T | undefined => {
    if (value === undefined || allowed.includes(value)) return value;
    throw new DocbatchError(
      "USAGE",
      `Expected \`${name}\` to be one of ${allowed.join(", ")}, got \`${String(value)}\``,
      {
        details: [{ path: name, problem: `one of ${allowed.join(", ")}` }],
      },
    );
  };
  const unit = oneOf("chunkUnit", options.chunkUnit, CHUNK_UNITS);
  const tokenizer = oneOf("tokenizer", options.tokenizer, TOKENIZERS);
  const maxTokens =
    options.embedMaxTokens === undefined
      ? undefined
      : expectInteger("embedMaxTokens", options.embedMaxTokens, 16);
  return {
    ...(unit === "tokens" ? { unit } : {}),
    ...(tokenizer !== undefined && tokenizer !== "o200k_base" ? { tokenizer } : {}),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
  };
}

function defaultThreads(): number {
  const cores = os.availableParallelism();
  return cores >= 2 ? cores : 0;
}
