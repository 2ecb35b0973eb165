import { describe, expect, it } from "vitest";
import { chunkTextHash, idempotencyKey } from "../../src/core/keys.js";
import type { PlannedDocument } from "../../src/core/types.js";
import type { ClaimedDocument, CommitRequest, Outcome, RunHandle, Store } from "../../src/store/store.js";
import { freshStoreEachTest, plannedText } from "./conformance-setup.js";

/**
 * The embedding cache's promises, run against every Store (called from `storeConformance`): exact
 * vectors per layer, idempotent writes, the run's counters, committed chunk texts read back for
 * reuse, and garbage collection that keeps exactly what a batch uses.
 */
export function cacheConformance(name: string, factory: () => Promise<Store>): void {
  describe(`Embedding cache conformance: ${name}`, () => {
    let store: Store;
    freshStoreEachTest(factory, (opened) => {
      store = opened;
    });

    const planned = (i: number): PlannedDocument => plannedText(i, "layer");

    async function claimOne(batchId: string): Promise<{ run: RunHandle; doc: ClaimedDocument }> {
      const cursor = await store.beginPlan({
        batchId,
        layer: "layer",
        settings: {},
        inputRef: "m",
        fingerprint: "f",
      });
      await store.planDocuments(batchId, cursor.batch.planGeneration, [planned(0)], {
        records: 1,
        offset: 1,
      });
      await store.finishPlan(batchId, cursor.batch.planGeneration);
      const run = await store.startRun({
        batchId,
        workerId: "w",
        host: "h",
        pid: 1,
        command: "t",
        processStartedAt: 0,
      });
      const claimed = await store.commit(request(run, [], 1));
      return { run, doc: claimed.claimed[0]! };
    }

    const request = (run: RunHandle, outcomes: Outcome[], claim = 0, now = Date.now()): CommitRequest => ({
      run,
      outcomes,
      progress: [],
      claim,
      leaseMs: 30_000,
      now,
    });

    const completed = (doc: ClaimedDocument, texts: string[], prep: string | null): Outcome => ({
      kind: "completed",
      doc,
      degraded: null,
      chunks: texts.map((text, index) => ({
        index,
        text,
        embedding: new Float32Array([index, 0.5]),
        metadata: { n: index },
      })),
      startedAt: Date.now(),
      timings: {},
      prep,
    });

    it("returns exactly the vectors stored under a layer, and keeps the first of an entry", async () => {
      const a = new Float32Array([0.1, -2.5, Math.PI]);
      const b = new Float32Array([1, 2, 3]);
      expect(await store.storeVectors("L", [{ hash: chunkTextHash("a"), embedding: a }], 1)).toBe(1);
      expect(await store.storeVectors("L", [{ hash: chunkTextHash("a"), embedding: b }], 2)).toBe(0);
      const found = await store.lookupVectors("L", [chunkTextHash("a"), chunkTextHash("b")]);
      expect([...found.keys()]).toEqual([chunkTextHash("a")]);
      expect(Array.from(found.get(chunkTextHash("a"))!)).toEqual(Array.from(a));
      expect((await store.lookupVectors("M", [chunkTextHash("a")])).size).toBe(0);
      expect((await store.lookupVectors("L", [])).size).toBe(0);
    });

    it("adds the texts embedded and found to the run's counters, not again on a replay", async () => {
      const { run, doc } = await claimOne("b");
      const counts = { embedded: 5, hits: 3 };
      await store.commit({ ...request(run, [completed(doc, ["x"], null)]), id: 1, embedCounts: counts });
      await store.commit({ ...request(run, []), id: 2, embedCounts: { embedded: 1, hits: 0 } });
      await store.commit({ ...request(run, []), id: 2, replay: true, embedCounts: { embedded: 1, hits: 0 } });
      const [info] = await store.listRuns("b");
      expect({ embedded: info!.textsEmbedded, hits: info!.cacheHits }).toEqual({ embedded: 6, hits: 3 });
    });

    it("reads a document's committed chunk texts back, and claims carry its prepared-text key", async () => {
      const { run, doc } = await claimOne("b");
      expect(doc.contentHash).toBe(planned(0).contentHash);
      expect(doc.outputPrep).toBeNull();
      expect(await store.loadOutputChunks(doc.row)).toBeNull();
      await store.commit(request(run, [completed(doc, ["one", "two"], "prep-1")]));
      expect(await store.loadOutputChunks(doc.row)).toEqual({
        texts: ["one", "two"],
        metadata: [{ n: 0 }, { n: 1 }],
      });
      await store.requeue("b", { failed: false, degraded: false }, Date.now());
      const cursor = await store.beginPlan({
        batchId: "b",
        layer: "layer2",
        settings: {},
        inputRef: "m",
        fingerprint: "g",
      });
      const changed = {
        ...planned(0),
        idempotencyKey: idempotencyKey("s", "d0", planned(0).contentHash, "layer2"),
      };
      await store.planDocuments("b", cursor.batch.planGeneration, [changed], { records: 1, offset: 1 });
      const again = (await store.commit(request(run, [], 1))).claimed[0]!;
      expect(again.hadOutput).toBe(true);
      expect(again.outputPrep).toBe("prep-1");
    });

    it("collects the entries no batch uses under its layer, and history older than a cutoff", async () => {
      const { run, doc } = await claimOne("b");
      const old = Date.now() - 10 * 86_400_000;
      await store.commit(request(run, [completed(doc, ["t0", "t1"], null)]));
      const v = new Float32Array([1, 0]);
      const entry = (text: string) => ({ hash: chunkTextHash(text), embedding: v });
      await store.storeVectors("L", [entry("t0"), entry("t1"), entry("unused")], 1);
      await store.storeVectors("M", [entry("t0")], 1);
      await store.addEvents("b", [
        { run: run.run, at: old, type: "breaker", data: {} },
        { run: run.run, at: Date.now(), type: "breaker", data: {} },
      ]);
      const result = await store.collectGarbage({
        batches: [{ batchId: "b", embedLayer: "L" }],
        olderThan: Date.now() - 86_400_000,
      });
      expect(result).toEqual({ cacheRemoved: 2, cacheKept: 2, eventsRemoved: 1, failuresRemoved: 0 });
      expect(
        [...(await store.lookupVectors("L", [chunkTextHash("t0"), chunkTextHash("t1")])).keys()].sort(),
      ).toEqual([chunkTextHash("t0"), chunkTextHash("t1")].sort());
      expect((await store.lookupVectors("M", [chunkTextHash("t0")])).size).toBe(0);
      expect((await store.events("b")).length).toBe(1);
    });

    it("removes failed attempts older than the cutoff but never a document's last error", async () => {
      const { run, doc } = await claimOne("b");
      const old = Date.now() - 10 * 86_400_000;
      const error = { code: "EMBED_TIMEOUT", message: "slow" };
      const retry: Outcome = { kind: "retry", doc, error, stage: "embed", stageAttempts: 1, notBefore: 0 };
      await store.commit(request(run, [retry], 0, old));
      expect((await store.failureCounts("b"))[0]?.count).toBe(1);
      const result = await store.collectGarbage({ batches: [], olderThan: Date.now() - 86_400_000 });
      expect(result.failuresRemoved).toBe(1);
      expect(await store.failureCounts("b")).toEqual([]);
      const [summary] = await store.listDocuments("b", {});
      expect(summary!.lastError).toEqual(error);
      expect(summary!.state).toBe("pending");
    });
  });
}
