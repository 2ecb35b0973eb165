import { parentPort, workerData } from "node:worker_threads";
import { openInput } from "../input/sources.js";
import { PostgresStore } from "../store/postgres/index.js";
import { SqliteStore } from "../store/sqlite/index.js";
import type { BatchInfo, Store, StoreConnectionSpec } from "../store/store.js";
import { type PlanSummary, planBatch } from "./planner.js";

/**
 * The planning thread: reads, checks, normalizes and hashes the input and writes the plan through
 * a store connection of its own, while the main thread claims and commits the documents already
 * planned. The main thread holds the planning lock and renews it.
 */
export interface PlanThreadData {
  store: StoreConnectionSpec;
  input: { path: string; root?: string; exclude: string[] };
  batch: BatchInfo;
  maxDocBytes: number;
  layer: string;
}

const data = workerData as PlanThreadData;
const stop = new AbortController();
parentPort?.on("message", (message: { stop?: boolean }) => {
  if (message.stop) stop.abort();
});

async function main(): Promise<void> {
  const store: Store =
    data.store.kind === "sqlite"
      ? new SqliteStore({ file: data.store.file, durability: data.store.durability })
      : new PostgresStore({ url: data.store.url, poolSize: 2 });
  await store.open();
  let summary: PlanSummary;
  try {
    const source = await openInput(data.input.path, {
      exclude: data.input.exclude,
      ...(data.input.root ? { root: data.input.root } : {}),
    });
    summary = await planBatch(store, source, data.batch, {
      maxDocBytes: data.maxDocBytes,
      layer: data.layer,
      signal: stop.signal,
    });
  } finally {
    await store.close();
  }
  // Sent once the store is closed: the main thread ends this thread when the message arrives.
  parentPort?.postMessage({ summary });
}

main().catch((err: unknown) => {
  const e = err as { code?: string; message?: string; details?: unknown; hints?: unknown };
  parentPort?.postMessage({
    error: {
      code: e.code ?? "INTERNAL",
      message: e.message ?? String(err),
      details: e.details,
      hints: e.hints,
    },
  });
});
