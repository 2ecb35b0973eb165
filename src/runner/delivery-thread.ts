import { parentPort, workerData } from "node:worker_threads";
import type { Store, StoreConnectionSpec } from "../store/store.js";
import { type DeliveryLog, SinkDelivery } from "./sink-delivery.js";
import { openThreadStore } from "./thread-store.js";

/**
 * The delivery thread: it feeds a batch's sinks (see SinkDelivery) through a store connection of
 * its own, so that reading the outbox, turning vectors into text and writing them never take the
 * main thread's time from claims and commits. The main thread asks it to drain and to stop, and
 * learns the lag and the log lines from its messages (src/runner/delivery-runner.ts).
 */
export interface DeliveryThreadData {
  store: StoreConnectionSpec;
  batchId: string;
  /** The sinks as this process was given them: remembered URI → URI with its password. */
  sources: [string, string][];
  leaseMs: number;
  /** How long each store call rides out a store outage (see StoreRetry). */
  storeRetryMs: number;
}

export type DeliveryThreadRequest = { drain: number; timeoutMs: number } | { stop: true };

export type DeliveryThreadMessage =
  | { started: true }
  | { lag: number | null }
  | { drained: number; caughtUp: boolean }
  | { log: "info" | "warn"; fields: object; text: string }
  | { stopped: true }
  | { error: { code: string; message: string } };

const data = workerData as DeliveryThreadData;
const post = (message: DeliveryThreadMessage) => parentPort?.postMessage(message);

const log: DeliveryLog = {
  info: (fields, text) => post({ log: "info", fields, text }),
  warn: (fields, text) => post({ log: "warn", fields, text }),
};

/**
 * The thread's own connection. On SQLite it commits without an fsync of its own (synchronous
 * NORMAL, still crash-safe in WAL mode): it writes only sink cursors, and an acknowledgement lost
 * to a power failure means a redelivery, which upserts by key make harmless. An fsync per
 * acknowledgement would hold the write lock the main thread's commits wait for.
 */
function openStore(): Promise<Store> {
  const spec = data.store.kind === "sqlite" ? { ...data.store, durability: "normal" as const } : data.store;
  return openThreadStore(spec, data.storeRetryMs, 16);
}

async function main(): Promise<void> {
  const store = await openStore();
  const delivery = new SinkDelivery(store, data.batchId, {
    sources: new Map(data.sources),
    logger: log,
    leaseMs: data.leaseMs,
  });
  let lastLag: number | null | undefined;
  const tellLag = () => {
    if (delivery.lag !== lastLag) post({ lag: delivery.lag });
    lastLag = delivery.lag;
  };
  const ticker = setInterval(tellLag, 200);
  parentPort?.on("message", (request: DeliveryThreadRequest) => {
    if ("drain" in request) {
      void delivery
        .drain(request.timeoutMs)
        .catch(() => false)
        .then((caughtUp) => {
          tellLag();
          post({ drained: request.drain, caughtUp });
        });
      return;
    }
    clearInterval(ticker);
    void delivery
      .stop()
      .then(() => store.close())
      .catch(() => {})
      .then(() => post({ stopped: true }));
  });
  await delivery.start();
  tellLag();
  post({ started: true });
}

main().catch((err: unknown) => {
  const e = err as { code?: string; message?: string };
  post({ error: { code: e.code ?? "INTERNAL", message: e.message ?? String(err) } });
});
