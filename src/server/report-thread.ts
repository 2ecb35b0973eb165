import { parentPort, workerData } from "node:worker_threads";
import { analyzeBatch } from "../report/report.js";
import type { Store, StoreConnectionSpec } from "../store/store.js";

/**
 * The report thread of a server: reports read every document of a batch and sort its latencies,
 * which takes the main thread a second for a few hundred thousand documents. Here they are
 * computed on a store connection of the thread's own, one request after the other, while the main
 * thread keeps answering (health checks, event streams, claims and commits).
 */
const spec = workerData as StoreConnectionSpec;

async function openStore(): Promise<Store> {
  const store: Store =
    spec.kind === "sqlite"
      ? new (await import("../store/sqlite/index.js")).SqliteStore({
          file: spec.file,
          durability: spec.durability,
        })
      : new (await import("../store/postgres/index.js")).PostgresStore({ url: spec.url, poolSize: 2 });
  await store.open();
  return store;
}

const opened = openStore();
let queue: Promise<void> = Promise.resolve();

parentPort?.on("message", (message: { id: number; batchId: string }) => {
  queue = queue.then(async () => {
    try {
      const analysis = await analyzeBatch(await opened, message.batchId);
      parentPort?.postMessage({ id: message.id, analysis });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      parentPort?.postMessage({
        id: message.id,
        error: { code: e.code ?? "INTERNAL", message: e.message ?? String(err) },
      });
    }
  });
});
