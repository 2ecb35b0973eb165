import type { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import type { Embedder } from "../../src/pipeline/embed/embedder.js";
import { embedText, LocalEmbedder, ThreadedLocalEmbedder } from "../../src/pipeline/embed/local.js";

// The pool runs the compiled worker: dist/ is built first when stale (test/global-setup.ts).
const { CpuPool } = await import("../../dist/pipeline/cpu-pool.js");
type Pool = InstanceType<typeof CpuPool>;
type SourcePool = ConstructorParameters<typeof ThreadedLocalEmbedder>[1];

const DIMS = 32;

/** The built-in embedder, counting the texts it embeds on this thread. */
class CountingLocal implements Embedder {
  private readonly inner = new LocalEmbedder(DIMS);
  readonly id = this.inner.id;
  here = 0;
  embed(texts: string[], signal: AbortSignal): Promise<Float32Array[]> {
    this.here += texts.length;
    return this.inner.embed(texts, signal);
  }
  async close(): Promise<void> {}
}

const texts = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => `Text ${i} of ${tag} says something about batch ${i % 7} 第${i}页`);
const expected = (list: string[]) => list.map((t) => Array.from(embedText(t, DIMS)));
const plain = (vectors: Float32Array[]) => vectors.map((v) => Array.from(v));

let pool: Pool | null = null;
afterEach(async () => {
  await pool?.close();
  pool = null;
});

describe("the built-in embedder behind the CPU threads", () => {
  it("embeds here, without starting the threads, until they have loaded", async () => {
    pool = new CpuPool(2);
    const local = new CountingLocal();
    const embedder = new ThreadedLocalEmbedder(local, pool as unknown as SourcePool, DIMS);
    const list = texts(10, "a");
    expect(plain(await embedder.embed(list, new AbortController().signal))).toEqual(expected(list));
    expect(local.here).toBe(10);
    expect((pool as unknown as { threads: Map<Worker, unknown> }).threads.size).toBe(0);
    expect(embedder.id).toBe(local.id);
  });

  it("embeds on the threads once they run, with the vectors this thread computes, in order", async () => {
    pool = new CpuPool(2);
    await pool.ready();
    const local = new CountingLocal();
    const embedder = new ThreadedLocalEmbedder(local, pool as unknown as SourcePool, DIMS);
    const lists = Array.from({ length: 20 }, (_, i) => texts(1 + (i % 32), `request ${i}`));
    const results = await Promise.all(lists.map((l) => embedder.embed(l, new AbortController().signal)));
    for (const [i, vectors] of results.entries()) expect(plain(vectors)).toEqual(expected(lists[i]!));
    expect(local.here).toBe(0);
  });

  it("embeds here what a thread that died was holding, and rejects an aborted request without ending a thread", async () => {
    pool = new CpuPool(1);
    await pool.ready();
    const local = new CountingLocal();
    const embedder = new ThreadedLocalEmbedder(local, pool as unknown as SourcePool, DIMS);
    const list = texts(2_000, "long");
    const running = embedder.embed(list, new AbortController().signal);
    const threads = (pool as unknown as { threads: Map<Worker, unknown> }).threads;
    await [...threads.keys()][0]!.terminate();
    expect(plain(await running)).toEqual(expected(list));
    expect(local.here).toBe(2_000);

    const workers = [...threads.keys()];
    const controller = new AbortController();
    const aborted = embedder.embed(texts(2_000, "aborted"), controller.signal);
    controller.abort(new Error("the document's time ran out"));
    await expect(aborted).rejects.toThrow("the document's time ran out");
    expect([...threads.keys()]).toEqual(workers);
    expect(local.here).toBe(2_000);
  });
});
