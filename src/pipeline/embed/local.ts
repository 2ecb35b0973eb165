import type { CpuPool } from "../cpu-pool.js";
import type { Embedder } from "./embedder.js";

/**
 * The built-in embedder: a deterministic feature-hashing model (words, and CJK characters as
 * unigrams and bigrams, hashed into `dimensions` signed buckets, L2-normalized). It needs no
 * network and no model files, so the default mode works offline; texts that share words get
 * similar vectors, which is enough for trying docbatch end to end. Use `--embed-url` for a real
 * model.
 */
export class LocalEmbedder implements Embedder {
  readonly id: string;

  constructor(private readonly dimensions = 256) {
    if (!Number.isInteger(dimensions) || dimensions < 8) {
      throw new RangeError(`Expected \`dimensions\` to be an integer from 8 and up, got \`${dimensions}\``);
    }
    this.id = `local-hash-v1:${dimensions}`;
  }

  async embed(texts: string[], signal: AbortSignal): Promise<Float32Array[]> {
    signal.throwIfAborted();
    return texts.map((text) => embedText(text, this.dimensions));
  }

  async close(): Promise<void> {}
}

const TOKEN = /[\p{L}\p{N}]+/gu;
const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/;

export function embedText(text: string, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  for (const match of text.toLowerCase().matchAll(TOKEN)) {
    const token = match[0];
    if (CJK.test(token)) {
      const chars = Array.from(token);
      for (let i = 0; i < chars.length; i++) {
        add(vector, chars[i]!);
        if (i + 1 < chars.length) add(vector, chars[i]! + chars[i + 1]!);
      }
    } else {
      add(vector, token);
    }
  }
  let norm = 0;
  for (let i = 0; i < dimensions; i++) norm += vector[i]! * vector[i]!;
  if (norm > 0) {
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < dimensions; i++) vector[i]! *= scale;
  }
  return vector;
}

function add(vector: Float32Array, token: string): void {
  const h = fnv1a(token);
  const index = h % vector.length;
  vector[index]! += h & 0x80000000 ? -1 : 1;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The built-in embedder for the texts of documents prepared on the main thread (tiny ones), once
 * the CPU threads run: each request is computed on a thread, so the main thread, which claims,
 * commits and prepares those documents, is not also the one that hashes their words. Before the
 * threads have loaded (or where none start) it computes here, as does a request whose thread died.
 */
export class ThreadedLocalEmbedder implements Embedder {
  readonly id: string;

  constructor(
    private readonly local: Embedder,
    private readonly pool: CpuPool,
    private readonly dimensions: number,
  ) {
    this.id = local.id;
  }

  async embed(texts: string[], signal: AbortSignal): Promise<Float32Array[]> {
    if (!this.pool.loadedAlready) return this.local.embed(texts, signal);
    signal.throwIfAborted();
    // Without the signal: a request takes a thread a millisecond or so, and the pool ends a thread
    // whose task is aborted while it runs (a new one costs a few hundred ms to start).
    const task = { kind: "hash-embed" as const, texts, dimensions: this.dimensions };
    const vectors = await this.pool.run(task).then(
      (result) => result.vectors,
      () => null,
    );
    signal.throwIfAborted();
    return vectors ?? this.local.embed(texts, signal);
  }

  async close(): Promise<void> {}
}
