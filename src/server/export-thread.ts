import { parentPort, workerData } from "node:worker_threads";
import { jsonWithVector } from "../core/vector-json.js";
import type { Store, StoreConnectionSpec } from "../store/store.js";

/**
 * The thread of one export: it reads the batch's chunks on a store connection of its own and
 * sends them as JSON Lines in buffers of about 256 KB (moved, not copied), a few ahead of what the
 * client has taken: the main thread only passes buffers on, so a long export never holds up
 * other requests, whatever the size of the batch.
 */
export interface ExportJob {
  spec: StoreConnectionSpec;
  batchId: string;
  withEmbeddings: boolean;
}

const job = workerData as ExportJob;
const BUFFER_BYTES = 256 * 1024;
/** Buffers sent and not yet taken by the client. */
const AHEAD = 4;

let credits = AHEAD;
let wake: (() => void) | null = null;
parentPort?.on("message", () => {
  credits += 1;
  wake?.();
});

async function openStore(): Promise<Store> {
  const store: Store =
    job.spec.kind === "sqlite"
      ? new (await import("../store/sqlite/index.js")).SqliteStore({
          file: job.spec.file,
          durability: job.spec.durability,
        })
      : new (await import("../store/postgres/index.js")).PostgresStore({ url: job.spec.url, poolSize: 1 });
  await store.open();
  return store;
}

async function send(text: string): Promise<void> {
  while (credits === 0) await new Promise<void>((resolve) => (wake = resolve));
  credits -= 1;
  const bytes = Buffer.from(text);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  parentPort?.postMessage({ chunk: copy }, [copy.buffer]);
}

async function main(): Promise<void> {
  const store = await openStore();
  try {
    let buffer = "";
    for await (const row of store.exportChunks(job.batchId, { withEmbeddings: job.withEmbeddings })) {
      buffer += `${jsonWithVector(row)}\n`;
      if (buffer.length >= BUFFER_BYTES) {
        await send(buffer);
        buffer = "";
      }
    }
    if (buffer) await send(buffer);
  } finally {
    await store.close();
  }
  parentPort?.postMessage({ done: true });
}

main().catch((err: unknown) => {
  parentPort?.postMessage({
    error: { code: (err as { code?: string }).code ?? "INTERNAL", message: String(err) },
  });
});
