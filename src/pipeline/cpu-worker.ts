import { parentPort } from "node:worker_threads";
import Database from "better-sqlite3";
import { DocbatchError } from "../core/errors.js";
import type { StageTimings } from "../store/store.js";
import type { CpuTask } from "./cpu-pool.js";
import { embedText } from "./embed/local.js";
import { prepareChunks, prepareFallback } from "./prepare.js";

/**
 * A worker thread of the CPU pool: parse, clean and chunk a document (and, with the local
 * embedder, embed its chunks), off the main thread. Vectors travel back as transferred buffers.
 */
const stores = new Map<string, Database.Statement>();

/** Reads a content straight from the store file: the main thread never copies it. */
function contentOf(source: CpuTask["content"]): string {
  if (typeof source === "string") return source;
  let statement = stores.get(source.file);
  if (!statement) {
    const db = new Database(source.file, { readonly: true, fileMustExist: true, timeout: 15_000 });
    statement = db.prepare("SELECT content FROM contents WHERE row = ?").pluck();
    stores.set(source.file, statement);
  }
  return (statement.get(source.row) as string | undefined) ?? "";
}

parentPort?.on("message", (message: { id: number; task: CpuTask }) => {
  const { id, task } = message;
  try {
    const timings: StageTimings = {};
    const content = contentOf(task.content);
    const texts =
      task.mode === "fallback"
        ? prepareFallback(content, task.format, task.chunk, timings)
        : prepareChunks(content, task.format, task.chunk, timings);
    let vectors: Float32Array[] | null = null;
    if (task.embedDimensions !== null) {
      const t = performance.now();
      vectors = texts.map((text) => embedText(text, task.embedDimensions!));
      timings.embed = performance.now() - t;
    }
    parentPort!.postMessage(
      { id, texts, vectors, timings },
      vectors ? vectors.map((v) => v.buffer as ArrayBuffer) : [],
    );
  } catch (err) {
    const error =
      err instanceof DocbatchError
        ? { code: err.code, message: err.message }
        : { code: "PARSE_ERROR", message: (err as Error)?.message ?? String(err) };
    parentPort!.postMessage({ id, error });
  }
});

// Modules are loaded: tell the pool this thread can take work.
parentPort?.postMessage({ ready: true });
