import { DEFAULT_RETRY_POLICY } from "../core/retry-policy.js";

/**
 * The defaults of every library option, in one place: `resolveProcessOptions` and
 * `pipelineSettings` apply them, and the CLI's option table (src/cli/options.ts) shows them in
 * `--help` and the README, so the documented default is the one that runs.
 */
export const DEFAULTS = {
  concurrency: 32,
  /** Embedding requests in flight: min(concurrency, this). */
  embedConcurrencyCap: 8,
  maxAttempts: DEFAULT_RETRY_POLICY.maxAttempts,
  baseDelayMs: DEFAULT_RETRY_POLICY.baseDelayMs,
  maxDelayMs: DEFAULT_RETRY_POLICY.maxDelayMs,
  embedTimeoutMs: 30_000,
  embedBatchSize: 64,
  docTimeoutMs: 0,
  breakerMaxWaitMs: 120_000,
  leaseMs: 30_000,
  /** How long each store call is retried while the store is unreachable. */
  storeRetryMs: 60_000,
  seed: 1,
  shutdownGraceMs: 10_000,
  chunkSize: 1000,
  chunkOverlap: 0,
  embedModel: "text-embedding-3-small",
  localDimensions: 256,
  maxDocBytes: 20 * 1024 * 1024,
  progressIntervalMs: 5_000,
  logLevel: "info",
  durability: "full",
} as const;
