import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DocbatchError } from "../../core/errors.js";
import type { CpuPool } from "../cpu-pool.js";
import type { Embedder } from "./embedder.js";
import { checkModelDir, embedWithModel } from "./model-runner.js";

/**
 * A local sentence-embedding model (ONNX, Hugging Face export layout), run on the CPU threads of
 * the run when there are any (each thread loads the model once), else on this thread. Its id names
 * the model and a digest of its files, so replacing the model in the same folder re-embeds.
 */
export class ModelEmbedder implements Embedder {
  readonly id: string;
  private readonly dir: string;

  constructor(dir: string, private readonly pool?: CpuPool) {
    this.dir = checkModelDir(dir);
    this.id = modelId(this.dir);
  }

  async embed(texts: string[], signal: AbortSignal): Promise<Float32Array[]> {
    signal.throwIfAborted();
    if (texts.length === 0) return [];
    try {
      if (this.pool) {
        const result = await this.pool.run({ kind: "embed", texts, modelDir: this.dir }, signal);
        return result.vectors ?? [];
      }
      return await embedWithModel(this.dir, texts);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (err instanceof DocbatchError && err.code !== "PARSE_ERROR") throw err;
      // A thread that died under the model is a failure of the embedder, retried as such.
      const message = err instanceof Error ? err.message : String(err);
      throw new DocbatchError("EMBED_UNAVAILABLE", `the local model failed: ${message}`, { cause: err });
    }
  }

  async close(): Promise<void> {}
}

/** `onnx:<folder name>:<digest of config, tokenizer and model size>`: stable, cheap to compute. */
export function modelId(dir: string): string {
  const hash = createHash("sha256");
  for (const file of ["config.json", "tokenizer.json"]) hash.update(fs.readFileSync(path.join(dir, file)));
  hash.update(String(fs.statSync(path.join(dir, "onnx", "model.onnx")).size));
  return `onnx:${path.basename(dir)}:${hash.digest("hex").slice(0, 12)}`;
}
