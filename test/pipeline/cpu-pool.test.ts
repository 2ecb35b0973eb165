import type { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { embedText } from "../../src/pipeline/embed/local.js";
import { prepareChunks } from "../../src/pipeline/prepare.js";
import { prepareDocument, THREAD_FROM_BYTES } from "../../src/runner/prepare-document.js";
import type { DocumentContext } from "../../src/runner/process-document.js";
import type { ClaimedDocument } from "../../src/store/store.js";

// The pool runs the compiled worker: dist/ is built first when stale (test/global-setup.ts).
const { CpuPool } = await import("../../dist/pipeline/cpu-pool.js");
type Pool = InstanceType<typeof CpuPool>;

const chunk = { size: 200, overlap: 0 };

function page(i: number, paragraphs: number): string {
  return Array.from(
    { length: paragraphs },
    (_, p) => `# Part ${p} of page ${i}\n\nPage ${i} says thing ${p} in some detail. It goes on a while.`,
  ).join("\n\n");
}

function task(content: string) {
  return {
    content,
    format: "markdown" as const,
    chunk,
    mode: "normal" as const,
    embedDimensions: 32,
    name: "doc",
  };
}

let pool: Pool | null = null;
afterEach(async () => {
  await pool?.close();
  pool = null;
});

describe("the CPU pool", () => {
  it("returns for every task what the main thread computes, whatever the order of completion", async () => {
    expect(CpuPool.available()).toBe(true);
    pool = new CpuPool(2);
    await pool.ready();
    // Sizes differ by two orders of magnitude, so small tasks overtake large ones.
    const contents = Array.from({ length: 60 }, (_, i) => page(i, i % 7 === 0 ? 400 : 3));
    const results = await Promise.all(contents.map((c) => pool!.run(task(c))));
    for (const [i, result] of results.entries()) {
      const { texts, metadata } = await prepareChunks(contents[i]!, "markdown", chunk, "doc", {});
      expect(result.texts).toEqual(texts);
      expect(result.metadata).toEqual(metadata);
      expect(result.vectors!.map((v) => Array.from(v))).toEqual(
        texts.map((t) => Array.from(embedText(t, 32))),
      );
    }
  });

  it("leaves tasks to the caller until they add up to startAfterBytes, then starts its threads", async () => {
    pool = new CpuPool(2, { startAfterBytes: 1_000 });
    const started = () => pool!["threads"].size;
    expect(pool.warmFor(600)).toBe(false);
    expect(pool.warmFor(300)).toBe(false);
    expect(started()).toBe(0);
    // 900 bytes done elsewhere: one more task, and the threads start with the next.
    expect(pool.warmFor(600)).toBe(false);
    expect(started()).toBe(0);
    pool.warmFor(10);
    expect(started()).toBe(2);
    await pool.ready();
    expect(pool.warmFor(10)).toBe(true);
    const direct = new CpuPool(1);
    try {
      direct.warmFor(10);
      expect(direct["threads"].size).toBe(1);
    } finally {
      await direct.close();
    }
  });

  it("with the built-in embedder, prepares a small text here and a larger one (with its vectors) on a thread", async () => {
    pool = new CpuPool(2);
    const ctx = { cpu: pool, embedInPool: 32, settings: { chunk } } as unknown as DocumentContext;
    const doc = (content: string): ClaimedDocument =>
      ({
        docId: "d",
        format: "markdown",
        content,
        size: Buffer.byteLength(content),
        fileMtime: null,
      }) as ClaimedDocument;
    const small = page(1, 3);
    expect(Buffer.byteLength(small)).toBeLessThan(THREAD_FROM_BYTES);
    const here = await prepareDocument(doc(small), ctx, new AbortController().signal, {});
    expect(here.vectors).toBeNull();
    expect(here.texts).toEqual((await prepareChunks(small, "markdown", chunk, "d", {})).texts);
    expect(pool["threads"].size).toBe(0);
    const large = page(2, 300);
    expect(Buffer.byteLength(large)).toBeGreaterThanOrEqual(THREAD_FROM_BYTES);
    const there = await prepareDocument(doc(large), ctx, new AbortController().signal, {});
    expect(pool["threads"].size).toBe(2);
    expect(there.texts).toEqual((await prepareChunks(large, "markdown", chunk, "d", {})).texts);
    expect(there.vectors).toEqual(there.texts.map((t) => embedText(t, 32)));
  });

  it("fails the task of a thread that dies with PARSE_ERROR, finishes the tasks queued behind it, and replaces it", async () => {
    pool = new CpuPool(2);
    await pool.ready();
    const contents = Array.from({ length: 40 }, (_, i) => page(i, 200));
    const runs = contents.map((c) =>
      pool!.run(task(c)).then(
        (r) => r,
        (err: unknown) => err,
      ),
    );
    // Every task is handed out at once; end one thread while it holds several of them.
    const threads = (pool as unknown as { threads: Map<Worker, { tasks: Map<number, unknown> }> }).threads;
    const [victim, state] = [...threads].find(([, t]) => t.tasks.size > 1)!;
    const held = state.tasks.size;
    await victim.terminate();
    const settled = await Promise.all(runs);
    // (The pool's errors are dist's DocbatchError, not the sources' class.)
    const failed = settled.filter((r) => r instanceof Error) as (Error & { code: string })[];
    expect(held).toBeGreaterThan(1);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.code).toBe("PARSE_ERROR");
    for (const [i, r] of settled.entries()) {
      if (r instanceof Error) continue;
      const expected = await prepareChunks(contents[i]!, "markdown", chunk, "doc", {});
      expect((r as { texts: string[] }).texts).toEqual(expected.texts);
    }
    // Two threads again, and they work.
    expect(threads.size).toBe(2);
    const after = await pool.run(task(page(99, 2)));
    expect(after.texts.length).toBeGreaterThan(0);
  });
});

describe("the CPU pool and a document's time limit", () => {
  it("ends a thread stuck on a task when its signal aborts, replaces it, and runs what was queued behind", async () => {
    pool = new CpuPool(1);
    await pool.ready();
    const threads = (pool as unknown as { threads: Map<Worker, unknown> }).threads;
    const before = [...threads.keys()][0];
    // A markdown document large enough to keep a thread busy for far longer than the limit.
    const hostile = page(0, 60_000);
    const controller = new AbortController();
    const stuck = pool.run(task(hostile), controller.signal).then(
      () => "finished",
      (err: unknown) => err,
    );
    const queued = pool.run(task(page(1, 2)));
    const cancelled = new AbortController();
    const dropped = pool.run(task(page(2, 2)), cancelled.signal).catch((err: unknown) => err);
    cancelled.abort(Object.assign(new Error("gave up"), { code: "DOC_TIMEOUT" }));
    const started = Date.now();
    setTimeout(() => controller.abort(Object.assign(new Error("time is up"), { code: "DOC_TIMEOUT" })), 50);
    const outcome = (await stuck) as Error & { code: string };
    expect(outcome).toBeInstanceOf(Error);
    expect(outcome.code).toBe("DOC_TIMEOUT");
    // Settled at the abort, not when the parser would have finished.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(((await dropped) as { code: string }).code).toBe("DOC_TIMEOUT");
    const next = await queued;
    expect(next.texts.length).toBeGreaterThan(0);
    expect(threads.size).toBe(1);
    expect([...threads.keys()][0]).not.toBe(before);
  });
});
