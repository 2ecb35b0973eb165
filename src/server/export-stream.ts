import fs from "node:fs";
import { Worker } from "node:worker_threads";
import { DocbatchError } from "../core/errors.js";
import { threadFile } from "../core/own-files.js";
import { jsonWithVector } from "../core/vector-json.js";
import type { Store } from "../store/store.js";
import type { ExportJob } from "./export-thread.js";
import { TimeSlice } from "./time-slice.js";

const THREAD_FILE = threadFile("server/export-thread.js");

/**
 * A batch's export as JSON Lines, in pieces. Read and serialized on a thread of its own
 * (src/server/export-thread.ts) when the store can be opened there; otherwise here, in slices of
 * a few milliseconds between which the event loop runs. Ending the iteration early (the client
 * went away) stops the thread.
 */
export async function* exportStream(
  store: Store,
  batchId: string,
  withEmbeddings: boolean,
): AsyncGenerator<string | Uint8Array> {
  const spec = store.connectionSpec();
  if (spec === null || !fs.existsSync(THREAD_FILE)) {
    yield* exportHere(store, batchId, withEmbeddings);
    return;
  }
  const job: ExportJob = { spec, batchId, withEmbeddings };
  const worker = new Worker(THREAD_FILE, { workerData: job });
  const arrived: (Uint8Array | Error | null)[] = [];
  let wake: (() => void) | null = null;
  const push = (item: Uint8Array | Error | null) => {
    arrived.push(item);
    wake?.();
  };
  worker.on(
    "message",
    (m: { chunk?: Uint8Array; done?: true; error?: { code: string; message: string } }) => {
      if (m.chunk) push(m.chunk);
      else if (m.done) push(null);
      else if (m.error) push(new DocbatchError(m.error.code, m.error.message));
    },
  );
  worker.on("error", (err) =>
    push(new DocbatchError("INTERNAL", `the export thread failed: ${err.message}`)),
  );
  worker.on("exit", () => push(null));
  try {
    for (;;) {
      while (arrived.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const item = arrived.shift()!;
      if (item === null) return;
      if (item instanceof Error) throw item;
      yield item;
      // Taken by the client: the thread may send one more.
      worker.postMessage("more");
    }
  } finally {
    await worker.terminate();
  }
}

async function* exportHere(store: Store, batchId: string, withEmbeddings: boolean): AsyncGenerator<string> {
  let buffer = "";
  const slice = new TimeSlice();
  for await (const row of store.exportChunks(batchId, { withEmbeddings })) {
    buffer += `${jsonWithVector(row)}\n`;
    if (buffer.length > 1 << 16 || slice.due) {
      yield buffer;
      buffer = "";
    }
    // The rows come without waiting (a page of them at a time): other requests get turns.
    if (slice.due) await slice.yield();
  }
  if (buffer) yield buffer;
}
