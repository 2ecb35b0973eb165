import { describe, expect, it } from "vitest";
import type { ErrorInfo, PlannedDocument } from "../../src/core/types.js";
import { deliver } from "../../src/runner/sink-delivery.js";
import { MemorySink } from "../../src/sinks/memory/index.js";
import type { ClaimedDocument, Outcome, RunHandle, Store } from "../../src/store/store.js";
import { commitRequest, embedTimeoutRetry, freshStoreEachTest, plannedText } from "./conformance-setup.js";

/**
 * The index layer's promises, run against every Store (called from `storeConformance`): output
 * changes enter the outbox in the commit's transaction, reading them back always converges a sink
 * on the export, and sink cursors are leased and fenced like documents.
 */
export function indexConformance(name: string, factory: () => Promise<Store>): void {
  describe(`Index conformance: ${name}`, () => {
    let store: Store;
    let generation = 0;
    freshStoreEachTest(factory, (opened) => {
      store = opened;
      generation = 0;
    });

    const doc = (i: number, content = `content ${i}`): PlannedDocument =>
      plannedText(i, "layer", { content, metadata: { i } });

    async function plan(
      docs: PlannedDocument[],
      sync: "accumulate" | "full" = "accumulate",
    ): Promise<number> {
      generation += 1;
      const cursor = await store.beginPlan({
        batchId: "b",
        layer: "layer",
        settings: {},
        inputRef: "mem",
        fingerprint: `fp${generation}`,
        sync,
      });
      await store.planDocuments("b", cursor.batch.planGeneration, docs, {
        records: docs.length,
        offset: docs.length,
      });
      return store.finishPlan("b", cursor.batch.planGeneration);
    }

    const newRun = () =>
      store.startRun({
        batchId: "b",
        workerId: "w",
        host: "h",
        pid: 1,
        command: "test",
        processStartedAt: Date.now(),
      });

    async function commit(run: RunHandle, outcomes: Outcome[], claim = 0): Promise<ClaimedDocument[]> {
      const result = await store.commit(commitRequest(run, outcomes, claim));
      expect(result.accepted.every(Boolean)).toBe(true);
      return result.claimed;
    }

    const completed = (d: ClaimedDocument, texts: string[], degraded: ErrorInfo | null = null): Outcome => ({
      kind: "completed",
      doc: d,
      degraded,
      chunks: texts.map((text, index) => ({
        index,
        text,
        embedding: degraded ? null : new Float32Array([index + 1, text.length, 3]),
      })),
      startedAt: Date.now() - 5,
      timings: {},
    });

    /** Delivers every change after `from` to `sink`; returns the new cursor. */
    async function drain(sink: MemorySink, from = 0): Promise<number> {
      let cursor = from;
      for (;;) {
        const page = await store.readChanges("b", cursor, 2);
        if (page.throughSeq === cursor) return cursor;
        await deliver(sink, page);
        cursor = page.throughSeq;
      }
    }

    async function exportState(): Promise<Map<string, string>> {
      const rows = new Map<string, string>();
      for await (const r of store.exportChunks("b")) rows.set(r.idempotency_key, r.text);
      return rows;
    }

    const sinkState = (sink: MemorySink) => new Map([...sink.chunks].map(([k, c]) => [k, c.text]));

    it("a full plan deletes what it did not reach, with its outbox deletes; an accumulating one keeps it", async () => {
      await plan([doc(0), doc(1), doc(2)]);
      const run = await newRun();
      const [d0, d1, d2] = await commit(run, [], 3);
      await commit(run, [completed(d0!, ["a", "b"]), completed(d1!, ["c"]), completed(d2!, ["d"])]);
      const sink = new MemorySink();
      const cursor = await drain(sink);
      expect(await plan([doc(0)])).toBe(0);
      expect((await store.counts("b")).deleted).toBe(0);
      expect(await plan([doc(0), doc(2)], "full")).toBe(1);
      const counts = await store.counts("b");
      expect(counts).toMatchObject({ deleted: 1, total: 2, done: 2 });
      const page = await store.readChanges("b", cursor, 100);
      expect(page.changes.map((c) => [c.op, c.doc_id, c.chunk_index])).toEqual([["delete", "d1", 0]]);
      await drain(sink, cursor);
      expect(sinkState(sink)).toEqual(await exportState());
      expect([...(await exportState()).values()].sort()).toEqual(["a", "b", "d"]);
      // What the store knows of documents, deleted ones included (a planner reads their files again).
      const known = await store.knownDocuments("b", [
        { source: "s", docId: "d1" },
        { source: "s", docId: "d0" },
        { source: "s", docId: "nope" },
      ]);
      expect(known.map((k) => [k.docId, k.state]).sort()).toEqual([
        ["d0", "done"],
        ["d1", "deleted"],
      ]);
      // It comes back: planned like a new document.
      await plan([doc(0), doc(1), doc(2)], "full");
      expect(await store.counts("b")).toMatchObject({ deleted: 0, total: 3, pending: 1 });
    });

    it("retires a batch (every chunk's delete in the outbox), then purges every row it owns", async () => {
      await plan([doc(0), doc(1)]);
      const run = await newRun();
      const [d0, d1] = await commit(run, [], 2);
      await commit(run, [completed(d0!, ["a", "b"]), completed(d1!, ["c"])]);
      await store.attachSinks("b", ["memory:x"], Date.now());
      const sink = new MemorySink();
      const cursor = await drain(sink);
      expect(await store.retireBatch("b", Date.now())).toBe(2);
      expect(await store.retireBatch("b", Date.now())).toBe(0);
      expect((await store.getBatch("b"))?.cancelledAt).not.toBeNull();
      await drain(sink, cursor);
      expect(sink.chunks.size).toBe(0);
      expect(await exportState()).toEqual(new Map());
      expect(await store.purgeBatch("b")).toBe(true);
      expect(await store.getBatch("b")).toBeNull();
      expect(await store.listRuns("b")).toEqual([]);
      expect(await store.sinkCursors("b")).toEqual([]);
      expect((await store.counts("b")).total + (await store.counts("b")).deleted).toBe(0);
      expect(await store.purgeBatch("b")).toBe(false);
    });

    it("records each commit's output changes; replaying them gives the export", async () => {
      await plan([doc(0), doc(1), doc(2)]);
      const run = await newRun();
      const claimed = await commit(run, [], 3);
      await commit(run, [completed(claimed[0]!, ["a", "b"]), completed(claimed[1]!, ["c"])]);
      // A retry changes no output: nothing enters the outbox.
      await commit(run, [embedTimeoutRetry(claimed[2]!, 0)]);
      const page = await store.readChanges("b", 0, 100);
      expect(page.headSeq).toBe(2);
      expect(page.changes.map((c) => [c.seq, c.op, c.doc_id, c.chunk_index])).toEqual([
        [1, "upsert", "d0", 0],
        [1, "upsert", "d0", 1],
        [2, "upsert", "d1", 0],
      ]);
      const first = page.changes[0]!;
      expect(first).toMatchObject({ key: `${claimed[0]!.idempotencyKey}:0`, text: "a", metadata: { i: 0 } });
      expect(first.op === "upsert" && Array.from(first.embedding ?? [])).toEqual([1, 1, 3]);
      const sink = new MemorySink();
      expect(await drain(sink)).toBe(2);
      expect(sinkState(sink)).toEqual(await exportState());
    });

    it("deletes a replaced document's stale chunks, and skips versions a later commit replaced", async () => {
      await plan([doc(0), doc(1)]);
      const run = await newRun();
      const [d0, d1] = await commit(run, [], 2);
      await commit(run, [completed(d0!, ["old 0", "old 1", "old 2"]), completed(d1!, ["keep"])]);
      const early = new MemorySink();
      const cursor = await drain(early);
      await plan([doc(0, "changed"), doc(1)]);
      const [again] = await commit(run, [], 1);
      // Readers see the old chunks until the new ones commit, in the store and in the outbox.
      expect((await store.readChanges("b", cursor, 100)).changes).toEqual([]);
      await commit(run, [completed(again!, ["new"])]);
      const page = await store.readChanges("b", cursor, 100);
      expect(page.changes.map((c) => [c.op, c.chunk_index])).toEqual([
        ["delete", 0],
        ["delete", 1],
        ["delete", 2],
        ["upsert", 0],
      ]);
      await drain(early, cursor);
      expect(sinkState(early)).toEqual(await exportState());
      // A sink starting from the beginning never receives the replaced version.
      const late = new MemorySink();
      await drain(late);
      expect(late.calls.flatMap((c) => (c.op === "upsert" ? c.chunks.map((x) => x.text) : []))).not.toContain(
        "old 0",
      );
      expect(sinkState(late)).toEqual(await exportState());
    });

    it("a backfill of the same key deletes only the chunks it no longer has; a failure deletes all", async () => {
      await plan([doc(0)]);
      const run = await newRun();
      const [d0] = await commit(run, [], 1);
      await commit(run, [completed(d0!, ["x", "y", "z"], { code: "EMBED_TIMEOUT", message: "slow" })]);
      const sink = new MemorySink();
      const cursor = await drain(sink);
      expect(await store.requeue("b", { failed: false, degraded: true }, Date.now())).toBe(1);
      const [again] = await commit(run, [], 1);
      await commit(run, [completed(again!, ["x2", "y2"])]);
      const page = await store.readChanges("b", cursor, 100);
      expect(page.changes.map((c) => [c.op, c.chunk_index])).toEqual([
        ["delete", 2],
        ["upsert", 0],
        ["upsert", 1],
      ]);
      const cursor2 = await drain(sink, cursor);
      expect(sinkState(sink)).toEqual(await exportState());
      // A document that ends failed loses its output: every key leaves the sink.
      await store.requeue("b", { failed: false, degraded: true }, Date.now());
      await plan([doc(0, "changed")]);
      const [third] = await commit(run, [], 1);
      await commit(run, [
        {
          kind: "failed",
          doc: third!,
          error: { code: "NOT_FOUND", message: "gone" },
          stage: "load",
          startedAt: 0,
        },
      ]);
      await drain(sink, cursor2);
      expect(await exportState()).toEqual(new Map());
      expect(sink.chunks.size).toBe(0);
    });

    it("leases and fences sink cursors; an acknowledged seq is kept", async () => {
      await plan([doc(0)]);
      const run = await newRun();
      const [d0] = await commit(run, [], 1);
      await commit(run, [completed(d0!, ["a"])]);
      await store.attachSinks("b", ["jsonl:/x", "jsonl:/y"], Date.now());
      await store.attachSinks("b", ["jsonl:/x"], Date.now());
      const a = { owner: "a", host: "h", pid: 1 };
      const b = { owner: "b", host: "h", pid: 2 };
      const lease = await store.claimSink("b", "jsonl:/x", a, 30_000, []);
      expect(lease).toMatchObject({ deliveredSeq: 0 });
      expect(await store.claimSink("b", "jsonl:/x", b, 30_000, [])).toBeNull();
      expect(await store.ackSink(lease!, 1, 30_000)).toBe(true);
      await store.recordSinkError(lease!, { code: "SINK_UNAVAILABLE", message: "down" });
      let cursors = await store.sinkCursors("b");
      expect(cursors.map((c) => [c.uri, c.deliveredSeq, c.lag, c.lastError?.code ?? null])).toEqual([
        ["jsonl:/x", 1, 0, "SINK_UNAVAILABLE"],
        ["jsonl:/y", 0, 1, null],
      ]);
      // A dead owner's cursor is taken over at once; the old owner can no longer move it.
      const taken = await store.claimSink("b", "jsonl:/x", b, 30_000, ["a"]);
      expect(taken).toMatchObject({ deliveredSeq: 1 });
      expect(taken!.fence).toBeGreaterThan(lease!.fence);
      expect(await store.ackSink(lease!, 5, 30_000)).toBe(false);
      await store.releaseSink(taken!);
      // An expired lease is free as well.
      const short = await store.claimSink("b", "jsonl:/y", a, 1, []);
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(await store.claimSink("b", "jsonl:/y", b, 30_000, [])).not.toBeNull();
      expect(await store.ackSink(short!, 1, 30_000)).toBe(false);
      cursors = await store.sinkCursors("b");
      expect(cursors.map((c) => c.deliveredSeq)).toEqual([1, 0]);
      expect(await store.detachSink("b", "jsonl:/y")).toBe(true);
      expect(await store.detachSink("b", "jsonl:/y")).toBe(false);
      expect((await store.sinkCursors("b")).map((c) => c.uri)).toEqual(["jsonl:/x"]);
    });

    it("finds the chunk whose vector equals the query first", async () => {
      await plan([doc(0), doc(1)]);
      const run = await newRun();
      const [d0, d1] = await commit(run, [], 2);
      await commit(run, [
        completed(d0!, ["alpha", "beta gamma"]),
        completed(d1!, ["x"], { code: "EMBED_TIMEOUT", message: "" }),
      ]);
      const query = new Float32Array([2, "beta gamma".length, 3]);
      const result = await store.search("b", query, 5);
      expect(["sqlite-vec", "pgvector", "exact-scan"]).toContain(result.index);
      // Chunks without vectors are not searchable.
      expect(result.hits.map((h) => [h.doc_id, h.chunk_index])).toEqual([
        ["d0", 1],
        ["d0", 0],
      ]);
      expect(result.hits[0]).toMatchObject({
        text: "beta gamma",
        metadata: { i: 0 },
        idempotency_key: `${d0!.idempotencyKey}:1`,
      });
      expect(result.hits[0]!.score).toBeCloseTo(1, 5);
      expect((await store.search("other", query, 5)).hits).toEqual([]);
      // Replaced chunks leave the index with the store's chunks.
      await plan([doc(0, "changed"), doc(1)]);
      const [again] = await commit(run, [], 1);
      await commit(run, [completed(again!, ["delta"])]);
      expect((await store.search("b", query, 5)).hits.map((h) => h.text)).toEqual(["delta"]);
    });
  });
}
