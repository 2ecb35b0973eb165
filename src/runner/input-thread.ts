import { parentPort, workerData } from "node:worker_threads";
import type { FileFilterOptions } from "../input/file-filter.js";
import { openInput } from "../input/sources.js";
import { validateInput, validatePart } from "../input/validate.js";
import type { BatchInfo, StoreConnectionSpec } from "../store/store.js";
import { openThreadStore, preloadThreadStore } from "./thread-store.js";

/**
 * The input thread: it validates an input, or reads, checks, normalizes and hashes it and writes
 * the plan through a store connection of its own while the main thread claims and commits the
 * documents already planned (the main thread holds the planning lock and renews it). Either job
 * runs on a thread that ends with it, so the memory validation needs to find duplicates among
 * millions of documents is returned at once, not when the main thread's collector gets to it.
 */
export interface InputRef extends FileFilterOptions {
  path: string;
  root?: string;
  /** The store's own files, never documents. */
  storeFiles: string[];
}

export type InputThreadData =
  | { job: "validate"; input: InputRef }
  /** Check the lines from byte `from` to byte `to` of a JSON Lines file (see `validatePart`). */
  | { job: "validate-part"; input: InputRef; from: number; to: number }
  | {
      job: "plan";
      store: StoreConnectionSpec;
      input: InputRef;
      batch: BatchInfo;
      maxDocBytes: number;
      layer: string;
      /** Read every file again (`--rehash`). */
      rehash?: boolean;
      /** The run holding the planning lock (the main thread holds and renews it). */
      lockRun: number;
      /** How long each store call rides out a store outage (see StoreRetry). */
      storeRetryMs: number;
    };

/** A thread started ahead of its job, which arrives as a message (see InputThread.prewarm). */
export type StandbyData = { job: "standby" };

const stop = new AbortController();
const jobs: ((job: InputThreadData) => void)[] = [];
parentPort?.on("message", (message: { stop?: boolean; job?: InputThreadData }) => {
  if (message.stop) stop.abort();
  if (message.job) jobs.shift()?.(message.job);
});

/** The job: given at start, or, for a thread on standby, once the main thread has one. */
function jobOf(data: InputThreadData | StandbyData): Promise<InputThreadData> {
  if (data.job !== "standby") return Promise.resolve(data);
  // The planner and the stores load while the main thread opens the store and reads the input.
  void import("./planner.js");
  // (A store that fails to load fails again, and is reported, when the job opens it.)
  preloadThreadStore().catch(() => {});
  return new Promise((resolve) => jobs.push(resolve));
}

function open(input: InputRef) {
  const { path, ...options } = input;
  return openInput(path, options);
}

async function plan(job: Extract<InputThreadData, { job: "plan" }>): Promise<unknown> {
  // The stores are loaded here only: a validating thread starts without them.
  const { planBatch } = await import("./planner.js");
  // Planning appends; a small page cache keeps memory flat however large the input.
  const store = await openThreadStore(job.store, job.storeRetryMs, 4);
  try {
    return await planBatch(store, await open(job.input), job.batch, {
      maxDocBytes: job.maxDocBytes,
      layer: job.layer,
      ...(job.rehash ? { rehash: true } : {}),
      lockRun: job.lockRun,
      signal: stop.signal,
    });
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const data = await jobOf(workerData as InputThreadData | StandbyData);
  if (data.job === "validate-part") {
    const part = await validatePart(await open(data.input), data.from, data.to);
    parentPort?.postMessage({ result: part }, [part.identities.buffer as ArrayBuffer]);
    return;
  }
  const result = data.job === "plan" ? await plan(data) : await validateInput(await open(data.input));
  // Sent once the store is closed: the main thread ends this thread when the message arrives.
  parentPort?.postMessage({ result });
}

main().catch(async (err: unknown) => {
  // A store's own failure (a full disk) crosses to the main thread as the error the user sees.
  const { storeError } = await import("../store/transient.js");
  const e = (storeError(err) ?? err) as {
    code?: string;
    message?: string;
    details?: unknown;
    hints?: unknown;
  };
  parentPort?.postMessage({
    error: {
      code: e.code ?? "INTERNAL",
      message: e.message ?? String(err),
      details: e.details,
      hints: e.hints,
    },
  });
});
