import { parentPort } from "node:worker_threads";
import Database from "better-sqlite3";
import { DocbatchError } from "../core/errors.js";
import type { StageTimings } from "../core/types.js";
import type { CpuTask, EmbedTask, HashEmbedTask, PrepareTask } from "./cpu-pool.js";
import { embedText } from "./embed/local.js";
import { embedWithModel } from "./embed/model-runner.js";
import { prepareChunks, prepareFallback } from "./prepare.js";

/**
 * A worker thread of the CPU pool: parse, clean and chunk a document (and, with the built-in
 * embedder, embed its chunks), or embed texts with the built-in embedder or a local model, off the
 * main thread. Tasks run one at a time in the order they came (the pool relies on it to know which
 * one is running); vectors travel back as transferred buffers.
 */
const stores = new Map<string, Database.Statement>();

/** Reads a content straight from the store file: the main thread never copies it. */
function contentOf(source: PrepareTask["content"]): string {
  if (typeof source === "string") return source;
  let statement = stores.get(source.file);
  if (!statement) {
    const db = new Database(source.file, { readonly: true, fileMustExist: true, timeout: 15_000 });
    statement = db.prepare("SELECT content FROM contents WHERE row = ?").pluck();
    stores.set(source.file, statement);
  }
  return (statement.get(source.row) as string | undefined) ?? "";
}

async function prepare(task: PrepareTask) {
  const timings: StageTimings = {};
  const content = contentOf(task.content);
  const run = task.mode === "fallback" ? prepareFallback : prepareChunks;
  const { texts, metadata } = await run(content, task.format, task.chunk, task.name, timings);
  let vectors: Float32Array[] | null = null;
  if (task.embedDimensions !== null) {
    const t = performance.now();
    vectors = texts.map((text) => embedText(text, task.embedDimensions!));
    timings.embed = performance.now() - t;
  }
  return { texts, metadata, vectors, timings };
}

async function embed(task: EmbedTask) {
  const t = performance.now();
  const vectors = await embedWithModel(task.modelDir, task.texts, task.threads);
  return { texts: [], metadata: [], vectors, timings: { embed: performance.now() - t } };
}

function hashEmbed(task: HashEmbedTask) {
  const t = performance.now();
  const vectors = task.texts.map((text) => embedText(text, task.dimensions));
  return { texts: [], metadata: [], vectors, timings: { embed: performance.now() - t } };
}

function run(task: CpuTask) {
  if (task.kind === "embed") return embed(task);
  if (task.kind === "hash-embed") return hashEmbed(task);
  return prepare(task);
}

const queue: { id: number; task: CpuTask }[] = [];
let busy = false;

async function drain(): Promise<void> {
  if (busy) return;
  busy = true;
  while (queue.length > 0) {
    const { id, task } = queue.shift()!;
    try {
      const result = await run(task);
      const transfer = result.vectors ? result.vectors.map((v) => v.buffer as ArrayBuffer) : [];
      parentPort!.postMessage({ id, ...result }, transfer);
    } catch (err) {
      const error =
        err instanceof DocbatchError
          ? { code: err.code, message: err.message }
          : { code: "PARSE_ERROR", message: (err as Error)?.message ?? String(err) };
      parentPort!.postMessage({ id, error });
    }
  }
  busy = false;
}

parentPort?.on("message", (message: { id: number; task: CpuTask } | { cancel: number }) => {
  if ("cancel" in message) {
    // The pool gave up on a task that had not started (its document's time ran out).
    const i = queue.findIndex((q) => q.id === message.cancel);
    if (i >= 0) queue.splice(i, 1);
    return;
  }
  queue.push(message);
  void drain();
});

// Modules are loaded: tell the pool this thread can take work.
parentPort?.postMessage({ ready: true });
