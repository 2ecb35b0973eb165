import { describe, expect, it } from "vitest";
import { DocbatchError } from "../../src/core/errors.js";
import type { PlannedDocument } from "../../src/core/types.js";
import type { ClaimedDocument, CommitRequest, Outcome, RunHandle, Store } from "../../src/store/store.js";
import { commitRequest, embedTimeoutRetry, freshStoreEachTest, plannedText } from "./conformance-setup.js";

/**
 * The store promises behind retried calls, fenced plans, liveness and memory bounds, run against
 * every Store by `storeConformance`.
 */
export function hardeningConformance(name: string, factory: () => Promise<Store>): void {
  describe(`Store conformance, hardening: ${name}`, () => {
    let store: Store;
    freshStoreEachTest(factory, (opened) => {
      store = opened;
    });

    const planned = (i: number, content = `content ${i}`): PlannedDocument =>
      plannedText(i, "L", { content });

    async function begin(batchId: string) {
      return store.beginPlan({ batchId, layer: "L", settings: {}, inputRef: "mem", fingerprint: "fp" });
    }

    async function plan(batchId: string, docs: PlannedDocument[]) {
      const cursor = await begin(batchId);
      await store.planDocuments(batchId, cursor.batch.planGeneration, docs, {
        records: docs.length,
        offset: docs.length,
      });
      await store.finishPlan(batchId, cursor.batch.planGeneration);
    }

    const newRun = (batchId: string, token?: string) =>
      store.startRun({
        batchId,
        workerId: "w",
        host: "h",
        pid: 42,
        command: "test",
        processStartedAt: 1,
        locality: "linux:boot:pid:[1]",
        pidStart: 1234,
        ...(token ? { token } : {}),
      });

    const request = (run: RunHandle, outcomes: Outcome[], claim = 0, extra: Partial<CommitRequest> = {}) => ({
      ...commitRequest(run, outcomes, claim),
      ...extra,
    });

    const done = (doc: ClaimedDocument, texts: string[]): Outcome => ({
      kind: "completed",
      doc,
      degraded: null,
      chunks: texts.map((text, index) => ({ index, text, embedding: new Float32Array([index, 1]) })),
      startedAt: Date.now() - 5,
      timings: {},
    });

    async function exported(batchId: string) {
      const rows = [];
      for await (const row of store.exportChunks(batchId)) rows.push(row);
      return rows;
    }

    async function stagedRows(doc: ClaimedDocument): Promise<number> {
      const staged = await store.loadStaged({ ...doc, idempotencyKey: doc.idempotencyKey });
      return staged?.texts.length ?? 0;
    }

    it("deletes staged chunks of a document that stages and completes in the same run", async () => {
      await plan("b", [planned(0), planned(1)]);
      const run = await newRun("b");
      const [a, b] = (await store.commit(request(run, [], 2))).claimed;
      expect(a!.hasStaged).toBe(false);
      const texts = { values: ["x", "y", "z"], metadata: [{}, {}, {}], fallback: null };
      const vector = (index: number) => ({ index, embedding: new Float32Array([index, 1]) });
      // `a` stages in one commit and completes in a later one; `b` stages and completes in one.
      await store.commit({ ...request(run, []), progress: [{ doc: a!, texts, vectors: [vector(0)] }] });
      expect(await stagedRows(a!)).toBe(3);
      await store.commit({
        ...request(run, [done(a!, ["x", "y", "z"]), done(b!, ["x", "y", "z"])]),
        progress: [
          { doc: a!, vectors: [vector(1), vector(2)] },
          { doc: b!, texts, vectors: [vector(0), vector(1), vector(2)] },
        ],
      });
      expect(await stagedRows(a!)).toBe(0);
      expect(await stagedRows(b!)).toBe(0);
      expect(await exported("b")).toHaveLength(6);
    });

    it("a replayed commit that had committed writes nothing twice and counts nothing twice", async () => {
      await plan("b", [planned(0), planned(1), planned(2), planned(3)]);
      const run = await newRun("b");
      const [a, b] = (await store.commit(request(run, [], 2, { id: 1 }))).claimed;
      const retry = embedTimeoutRetry(b!, Date.now() + 60_000);
      const first = request(run, [done(a!, ["one", "two"]), retry], 1, { id: 2 });
      const applied = await store.commit(first);
      expect(applied.accepted).toEqual([true, true]);
      // The answer was lost: the same request again, as a replay.
      const again = await store.commit({ ...first, replay: true });
      expect(again.accepted).toEqual([true, true]);
      expect((await exported("b")).map((r) => r.text)).toEqual(["one", "two"]);
      const [runInfo] = await store.listRuns("b");
      expect(runInfo).toMatchObject({ processed: 1, fencedCommits: 0 });
      expect(await store.failureCounts("b")).toMatchObject([{ code: "EMBED_TIMEOUT", count: 1 }]);
      // The lost attempt's claim is the run's to release; what it holds stays.
      const held = [...applied.claimed, ...again.claimed].filter((d) => d.row !== applied.claimed[0]!.row);
      expect(
        await store.releaseUnheld(
          run,
          held.map((d) => d.row),
        ),
      ).toBe(1);
      const counts = await store.counts("b");
      expect(counts).toMatchObject({ done: 1, processing: 1, pending: 2 });
    });

    it("a replayed commit whose first attempt never committed is an ordinary commit", async () => {
      await plan("b", [planned(0)]);
      const run = await newRun("b");
      const [a] = (await store.commit(request(run, [], 1, { id: 1 }))).claimed;
      const result = await store.commit({
        ...request(run, [done(a!, ["only"])], 0, { id: 2 }),
        replay: true,
      });
      expect(result.accepted).toEqual([true]);
      expect((await exported("b")).map((r) => r.text)).toEqual(["only"]);
      expect((await store.listRuns("b"))[0]).toMatchObject({ processed: 1 });
    });

    it("never reclaims a run's own expired leases: they are its own to release", async () => {
      await plan("b", [planned(0)]);
      const run = await newRun("b");
      // Claiming more than there is makes the next claim look for expired leases at once.
      await store.commit({ ...request(run, [], 2), leaseMs: 1 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await store.commit(request(run, [], 1))).claimed).toHaveLength(0);
      const other = await newRun("b");
      expect((await store.commit(request(other, [], 1))).claimed[0]).toMatchObject({ reclaimed: true });
    });

    it("fences plan writes by the lock and the checkpoint; a replayed slice writes nothing", async () => {
      const cursor = await begin("p");
      const generation = cursor.batch.planGeneration;
      const planner = await newRun("p");
      const lock = (await store.tryPlanLock("p", planner, 30_000, []))!;
      expect(lock.run).toBe(planner.run);
      expect((await store.getBatch("p"))!.planLockRun).toBe(planner.run);
      const slice = { records: 2, offset: 20, from: 0, lockRun: planner.run };
      expect(await store.planDocuments("p", generation, [planned(0), planned(1)], slice)).toMatchObject({
        inserted: 2,
      });
      // The same slice again (its answer was lost): nothing new, no duplicates counted.
      expect(await store.planDocuments("p", generation, [planned(0), planned(1)], slice)).toEqual({
        inserted: 0,
        unchanged: 0,
        changed: 0,
        duplicates: 0,
      });
      // A slice from a stale checkpoint cannot move the checkpoint back.
      const plannerSlice = (i: number, from: number) =>
        store.planDocuments("p", generation, [planned(i)], {
          records: i + 1,
          offset: (i + 1) * 10,
          from,
          lockRun: planner.run,
        });
      await expect(plannerSlice(0, 0)).resolves.toMatchObject({ inserted: 0 });
      await expect(plannerSlice(5, 5)).rejects.toMatchObject({ code: "PLAN_LOCK_LOST" });
      // Another run takes the lock over: the first one writes nothing more.
      await lock.release();
      expect((await store.getBatch("p"))!.planLockRun).toBeNull();
      const taker = await newRun("p");
      const taken = (await store.tryPlanLock("p", taker, 30_000, [planner.run]))!;
      const lost = plannerSlice(2, 2);
      await expect(lost).rejects.toBeInstanceOf(DocbatchError);
      await expect(lost).rejects.toMatchObject({ code: "PLAN_LOCK_LOST" });
      await expect(store.finishPlan("p", generation, planner.run)).rejects.toMatchObject({
        code: "PLAN_LOCK_LOST",
      });
      await store.planDocuments("p", generation, [planned(2)], {
        records: 3,
        offset: 30,
        from: 2,
        lockRun: taker.run,
      });
      await store.finishPlan("p", generation, taker.run);
      await taken.release();
      expect(await store.getBatch("p")).toMatchObject({ planRecords: 3, planOffset: 30, planComplete: true });
      expect((await store.counts("p")).total).toBe(3);
    });

    it("starts a run once per token, and tells how long a run has been silent by its own clock", async () => {
      await plan("b", [planned(0)]);
      const first = await newRun("b", "token-1");
      expect(await newRun("b", "token-1")).toEqual(first);
      const second = await newRun("b", "token-2");
      expect(second.run).toBe(first.run + 1);
      const runs = await store.listRuns("b");
      expect(runs).toHaveLength(2);
      expect(runs[0]).toMatchObject({ locality: "linux:boot:pid:[1]", pidStart: 1234, pid: 42 });
      expect(runs[0]!.silentMs).toBeGreaterThanOrEqual(0);
      expect(runs[0]!.silentMs).toBeLessThan(30_000);
      await new Promise((resolve) => setTimeout(resolve, 120));
      const later = await store.listRuns("b");
      expect(later[0]!.silentMs).toBeGreaterThanOrEqual(100);
      // A commit (or a heartbeat) is a sign of life.
      await store.commit(request(first, [], 0));
      expect((await store.listRuns("b"))[0]!.silentMs).toBeLessThan(100);
    });

    it("leaves large contents out of a claim when asked, and loads them on request", async () => {
      const large = "L".repeat(5_000);
      await plan("b", [planned(0, "small"), planned(1, large)]);
      const run = await newRun("b");
      const claimed = (await store.commit(request(run, [], 2, { deferContentFrom: 1_000 }))).claimed;
      expect(claimed.map((d) => [d.docId, d.content, d.contentDeferred ?? false])).toEqual([
        ["d0", "small", false],
        ["d1", null, true],
      ]);
      expect(await store.loadContent(claimed[1]!.row)).toBe(large);
    });
  });
}
