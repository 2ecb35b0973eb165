import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DocbatchError } from "../../core/errors.js";
import { CpuPool } from "../cpu-pool.js";
import type { Embedder } from "./embedder.js";
import { checkModelDir, embedWithModel } from "./model-runner.js";

/**
 * A local sentence-embedding model (ONNX, Hugging Face export layout). With `threads` > 0 it runs
 * in a worker thread of its own, where ONNX Runtime computes each batch on `threads` cores; with 0,
 * on this thread. One model thread rather than one model per pool thread: onnxruntime-node 1.21
 * (the version @huggingface/transformers 3.8 pins) crashes the process when two threads of one
 * process run sessions, and its own threads parallelize a batch as well.
 *
 * Its id names the model and a digest of its files, so replacing the model in the same folder
 * re-embeds.
 */
export class ModelEmbedder implements Embedder {
  readonly id: string;
  private readonly dir: string;
  private readonly pool: CpuPool | null;

  constructor(
    dir: string,
    private readonly threads = 0,
  ) {
    this.dir = checkModelDir(dir);
    this.id = modelId(this.dir);
    this.pool = threads > 0 && CpuPool.available() ? new CpuPool(1) : null;
  }

  async embed(texts: string[], signal: AbortSignal): Promise<Float32Array[]> {
    signal.throwIfAborted();
    if (texts.length === 0) return [];
    try {
      if (this.pool) {
        const task = { kind: "embed" as const, texts, modelDir: this.dir, threads: this.threads };
        const result = await this.pool.run(task, signal);
        return result.vectors ?? [];
      }
      return await embedWithModel(this.dir, texts, 1);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (err instanceof DocbatchError && err.code !== "PARSE_ERROR") throw err;
      // A thread that died under the model is a failure of the embedder, retried as such.
      const message = err instanceof Error ? err.message : String(err);
      throw new DocbatchError("EMBED_UNAVAILABLE", `the local model failed: ${message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}

/** `onnx:<folder name>:<digest of config, tokenizer and model size>`: stable, cheap to compute. */
export function modelId(dir: string): string {
  const hash = createHash("sha256");
  for (const file of ["config.json", "tokenizer.json"]) hash.update(fs.readFileSync(path.join(dir, file)));
  hash.update(String(fs.statSync(path.join(dir, "onnx", "model.onnx")).size));
  return `onnx:${path.basename(dir)}:${hash.digest("hex").slice(0, 12)}`;
}
