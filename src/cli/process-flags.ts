import { createStore } from "../store/open.js";
import type { Store } from "../store/store.js";
import { intFlag, numberFlag, stringFlag } from "./args.js";

/** Flags of processing, shared by `run`, `worker` and `serve`. */
export const PROCESS_FLAGS = {
  concurrency: { type: "string" },
  "max-attempts": { type: "string" },
  "base-delay-ms": { type: "string" },
  "max-delay-ms": { type: "string" },
  "embed-timeout-ms": { type: "string" },
  "embed-batch-size": { type: "string" },
  "embed-concurrency": { type: "string" },
  "doc-timeout-ms": { type: "string" },
  "breaker-max-wait-ms": { type: "string" },
  "max-fail-rate": { type: "string" },
  "lease-ms": { type: "string" },
  "worker-id": { type: "string" },
  threads: { type: "string" },
  inject: { type: "string" },
  seed: { type: "string" },
  "log-file": { type: "string" },
  "log-level": { type: "string" },
} as const;

/** Flags that shape the output of a new plan, shared by `run`, `submit` and `serve`. */
export const OUTPUT_FLAGS = {
  "chunk-size": { type: "string" },
  "chunk-overlap": { type: "string" },
  "chunk-unit": { type: "string" },
  tokenizer: { type: "string" },
  "embed-url": { type: "string" },
  "embed-model": { type: "string" },
  "embed-max-tokens": { type: "string" },
  "embed-model-dir": { type: "string" },
} as const;

/** Drops undefined entries, so library defaults apply. */
export function defined<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function processOptions(values: Record<string, unknown>) {
  return defined({
    concurrency: intFlag(values.concurrency, "concurrency"),
    maxAttempts: intFlag(values["max-attempts"], "max-attempts"),
    baseDelayMs: intFlag(values["base-delay-ms"], "base-delay-ms"),
    maxDelayMs: intFlag(values["max-delay-ms"], "max-delay-ms"),
    embedTimeoutMs: intFlag(values["embed-timeout-ms"], "embed-timeout-ms"),
    embedBatchSize: intFlag(values["embed-batch-size"], "embed-batch-size"),
    embedConcurrency: intFlag(values["embed-concurrency"], "embed-concurrency"),
    docTimeoutMs: intFlag(values["doc-timeout-ms"], "doc-timeout-ms"),
    breakerMaxWaitMs: intFlag(values["breaker-max-wait-ms"], "breaker-max-wait-ms"),
    maxFailRate: numberFlag(values["max-fail-rate"], "max-fail-rate"),
    leaseMs: intFlag(values["lease-ms"], "lease-ms"),
    workerId: stringFlag(values["worker-id"]),
    threads: intFlag(values.threads, "threads"),
    inject: stringFlag(values.inject),
    seed: intFlag(values.seed, "seed"),
    logFile: stringFlag(values["log-file"]),
    logLevel: stringFlag(values["log-level"]),
  });
}

export function outputOptions(values: Record<string, unknown>) {
  return defined({
    chunkSize: intFlag(values["chunk-size"], "chunk-size"),
    chunkOverlap: intFlag(values["chunk-overlap"], "chunk-overlap"),
    chunkUnit: stringFlag(values["chunk-unit"]) as "chars" | "tokens" | undefined,
    tokenizer: stringFlag(values.tokenizer) as "o200k_base" | "cl100k_base" | undefined,
    embedMaxTokens: intFlag(values["embed-max-tokens"], "embed-max-tokens"),
    embedModelDir: stringFlag(values["embed-model-dir"]),
    embedUrl: stringFlag(values["embed-url"]),
    embedModel: stringFlag(values["embed-model"]),
    embedTimeoutMs: intFlag(values["embed-timeout-ms"], "embed-timeout-ms"),
  });
}

/**
 * The shared store named by `--store URL` (or DOCBATCH_STORE when no --db is given), opened; null
 * for the embedded SQLite store, which `run` opens itself (only once the input is known valid).
 */
export async function sharedStore(values: Record<string, unknown>): Promise<Store | null> {
  const url = stringFlag(values.store) ?? (stringFlag(values.db) ? undefined : process.env.DOCBATCH_STORE);
  if (!url) return null;
  const store = await createStore({ url });
  await store.open();
  return store;
}

/** Runs `fn` with an AbortSignal that SIGINT/SIGTERM abort (a second signal exits at once). */
export async function withSignals<T>(
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<{ result: T; signal: NodeJS.Signals | null }> {
  const controller = new AbortController();
  let received: NodeJS.Signals | null = null;
  const onSignal = (name: NodeJS.Signals) => {
    if (received) process.exit(name === "SIGTERM" ? 143 : 130);
    received = name;
    process.stderr.write(
      `\ndocbatch: ${name} received, finishing in-flight documents (send again to stop at once)\n`,
    );
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const result = await fn(controller.signal);
    return { result, signal: received };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
