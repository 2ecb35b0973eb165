import { describe, expect, it } from "vitest";
import type { PlannedDocument } from "../../src/core/types.js";
import type { ClaimedDocument, Outcome, RunHandle, Store } from "../../src/store/store.js";
import { cacheConformance } from "./cache-conformance.js";
import { hardeningConformance } from "./conformance-hardening.js";
import {
  commitRequest,
  embedTimeoutRetry,
  freshStoreEachTest,
  plannedText,
  startTestRun,
} from "./conformance-setup.js";
import { indexConformance } from "./index-conformance.js";

/**
 * One suite, run unchanged against every Store, so that SQLite and Postgres promise exactly the
 * same things. `factory` returns a fresh, empty store each time.
 */
export function storeConformance(name: string, factory: () => Promise<Store>): void {
  hardeningConformance(name, factory);
  indexConformance(name, factory);
  cacheConformance(name, factory);
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    freshStoreEachTest(factory, (opened) => {
      store = opened;
    });

    const LAYER = "test-layer";
    const planned = (i: number, content = `content ${i}`, id = `d${i}`): PlannedDocument =>
      plannedText(i, LAYER, { content, docId: id, metadata: { i } });

    async function planBatch(batchId: string, docs: PlannedDocument[], fingerprint = "fp1") {
      const cursor = await store.beginPlan({
        batchId,
        layer: LAYER,
        settings: { a: 1 },
        inputRef: "mem",
        fingerprint,
      });
      const progress = await store.planDocuments(batchId, cursor.batch.planGeneration, docs, {
        records: docs.length,
        offset: docs.length,
      });
      await store.finishPlan(batchId, cursor.batch.planGeneration);
      return { cursor, progress };
    }

    const newRun = (batchId: string): Promise<RunHandle> => startTestRun(store, batchId);

    const request = (run: RunHandle, outcomes: Outcome[], claim = 0, now = Date.now(), leaseMs = 30_000) =>
      commitRequest(run, outcomes, claim, { now, leaseMs });

    const done = (doc: ClaimedDocument, texts: string[], now = Date.now()): Outcome => ({
      kind: "completed",
      doc,
      degraded: null,
      chunks: texts.map((text, index) => ({ index, text, embedding: new Float32Array([index, 1, 2]) })),
      startedAt: now - 5,
      timings: { parse: 1, embed: 2 },
    });

    async function exported(batchId: string) {
      const rows = [];
      for await (const row of store.exportChunks(batchId)) rows.push(row);
      return rows;
    }

    it("plans once, counts duplicates, and resumes a plan at its checkpoint", async () => {
      const { cursor, progress } = await planBatch("b", [planned(0), planned(1), planned(1)]);
      expect(cursor.existed).toBe(false);
      expect(cursor.created).toBe(true);
      expect(progress).toEqual({ inserted: 2, unchanged: 0, changed: 0, duplicates: 1 });
      const batch = await store.getBatch("b");
      expect(batch).toMatchObject({
        planComplete: true,
        planRecords: 3,
        planOffset: 3,
        duplicatesSkipped: 1,
      });
      const again = await store.beginPlan({
        batchId: "b",
        layer: LAYER,
        settings: {},
        inputRef: "mem",
        fingerprint: "fp1",
      });
      expect(again.upToDate).toBe(true);
      expect(again.existed).toBe(true);
      expect(again.created).toBe(false);
      expect((await store.counts("b")).total).toBe(2);
    });

    it("creates a batch atomically: of racing exclusive creators, one input owns it, other inputs get BATCH_CONFLICT", async () => {
      const start = (inputRef: string) =>
        store.beginPlan({
          batchId: "race",
          layer: LAYER,
          settings: {},
          inputRef,
          fingerprint: inputRef,
          exclusive: true,
        });
      const refs = ["http:a", "http:b", "http:a", "http:c", "http:b", "http:a"];
      const results = await Promise.allSettled(refs.map(start));
      const created = results.filter((r) => r.status === "fulfilled" && r.value.created);
      expect(created).toHaveLength(1);
      const owner = (await store.getBatch("race"))!;
      expect(owner.planGeneration).toBe(1);
      results.forEach((result, i) => {
        if (refs[i] === owner.inputRef) {
          expect(result.status, `${refs[i]} owns the batch`).toBe("fulfilled");
        } else {
          expect(result.status, `${refs[i]} must not take the batch over`).toBe("rejected");
          expect((result as PromiseRejectedResult).reason).toMatchObject({
            code: "BATCH_CONFLICT",
            status: 409,
          });
        }
      });
      // Not exclusive (a changed input of `docbatch run`): a new plan generation, as before.
      const changed = await store.beginPlan({
        batchId: "race",
        layer: LAYER,
        settings: {},
        inputRef: "file",
        fingerprint: "file",
      });
      expect(changed).toMatchObject({ created: false, batch: { planGeneration: 2, inputRef: "file" } });
    });

    it("claims pending documents in input order, each once, and commits chunks with the state", async () => {
      await planBatch("b", [planned(0), planned(1), planned(2)]);
      const run = await newRun("b");
      const first = await store.commit(request(run, [], 2));
      expect(first.claimed.map((d) => d.docId)).toEqual(["d0", "d1"]);
      expect(first.claimed[0]).toMatchObject({
        content: "content 0",
        metadata: { i: 0 },
        executions: 1,
        reclaimed: false,
      });
      const second = await store.commit(request(run, [done(first.claimed[0]!, ["a", "b"])], 5));
      expect(second.accepted).toEqual([true]);
      expect(second.claimed.map((d) => d.docId)).toEqual(["d2"]);
      const counts = await store.counts("b");
      expect(counts).toMatchObject({ total: 3, done: 1, processing: 2, pending: 0 });
      const rows = await exported("b");
      expect(rows.map((r) => [r.doc_id, r.chunk_index, r.chunk_count, r.text, r.embedding_dim])).toEqual([
        ["d0", 0, 2, "a", 3],
        ["d0", 1, 2, "b", 3],
      ]);
      expect(rows[0]!.idempotency_key).toBe(`${first.claimed[0]!.idempotencyKey}:0`);
      expect(rows[0]!.metadata).toEqual({ i: 0 });
    });

    it("keeps each chunk's metadata and a file's time, and exports them beside the document's own", async () => {
      const mtime = Date.UTC(2024, 4, 1, 12, 0, 0);
      await planBatch("b", [
        { ...planned(0), metadata: { i: 0, title: "user title" }, fileMtime: mtime + 0.75 },
      ]);
      const run = await newRun("b");
      const [doc] = (await store.commit(request(run, [], 1))).claimed;
      expect(doc!.fileMtime).toBe(mtime);
      const outcome = done(doc!, ["a", "b"]);
      if (outcome.kind !== "completed") throw new Error("unreachable");
      outcome.chunks[0]!.metadata = { title: "parsed title", headings: ["H"], char_start: 0, char_end: 1 };
      outcome.chunks[1]!.metadata = { title: "parsed title", headings: [], page_start: 2, page_end: 3 };
      await store.commit(request(run, [outcome]));
      const rows = await exported("b");
      // The document's metadata wins on a clash: user metadata is never overwritten.
      expect(rows.map((r) => r.metadata)).toEqual([
        { title: "user title", headings: ["H"], char_start: 0, char_end: 1, i: 0 },
        { title: "user title", headings: [], page_start: 2, page_end: 3, i: 0 },
      ]);
    });

    it("rejects and counts a commit whose lease was taken over (fencing)", async () => {
      await planBatch("b", [planned(0)]);
      const zombie = await newRun("b");
      // A lease long enough that a loaded machine gets to the live run's first claim within it.
      const [stale] = (await store.commit(request(zombie, [], 1, Date.now(), 500))).claimed;
      const live = await newRun("b");
      expect((await store.commit(request(live, [], 1))).claimed).toHaveLength(0);
      // Leases are timed by the store's clock (the database's, for a shared store): wait it out.
      await new Promise((resolve) => setTimeout(resolve, 600));
      const now = Date.now();
      const taken = await store.commit(request(live, [], 1, now));
      expect(taken.claimed).toHaveLength(1);
      expect(taken.claimed[0]!.reclaimed).toBe(true);
      expect(taken.claimed[0]!.fence).toBeGreaterThan(stale!.fence);
      const late = await store.commit(request(zombie, [done(stale!, ["zombie"])], 0, now + 6_000));
      expect(late.accepted).toEqual([false]);
      const ok = await store.commit(request(live, [done(taken.claimed[0]!, ["live"])], 0, now + 7_000));
      expect(ok.accepted).toEqual([true]);
      expect((await exported("b")).map((r) => r.text)).toEqual(["live"]);
      const runs = await store.listRuns("b");
      expect(runs.find((r) => r.run === zombie.run)!.fencedCommits).toBe(1);
      expect(runs.find((r) => r.run === live.run)!.recoveredInFlight).toBe(1);
    });

    it("puts documents of dead runs back to pending and counts them", async () => {
      await planBatch("b", [planned(0), planned(1)]);
      const dead = await newRun("b");
      await store.commit(request(dead, [], 2));
      const next = await newRun("b");
      expect(await store.recoverInFlight(next, [dead.run])).toBe(2);
      expect((await store.counts("b")).pending).toBe(2);
      const runs = await store.listRuns("b");
      expect(runs.find((r) => r.run === next.run)!.recoveredInFlight).toBe(2);
      expect(runs.find((r) => r.run === dead.run)!.exitReason).toBe("crashed");
    });

    it("schedules retries with backoff and records every failed attempt", async () => {
      await planBatch("b", [planned(0)]);
      const run = await newRun("b");
      const now = Date.now();
      const [doc] = (await store.commit(request(run, [], 1, now))).claimed;
      const retry = embedTimeoutRetry(doc!, now + 60_000);
      const after = await store.commit(request(run, [retry], 1, now + 1));
      expect(after.claimed).toHaveLength(0);
      expect(await store.nextClaimableAt(run)).toBe(now + 60_000);
      const later = await store.commit(request(run, [], 1, now + 60_000));
      expect(later.claimed[0]).toMatchObject({
        attempts: 1,
        stageAttempts: 1,
        failedStage: "embed",
        executions: 2,
      });
      await store.commit(
        request(
          run,
          [
            {
              kind: "failed",
              doc: later.claimed[0]!,
              error: { code: "NOT_FOUND", message: "gone" },
              stage: "load",
              startedAt: now,
            },
          ],
          0,
          now + 60_001,
        ),
      );
      expect(await store.failureCounts("b")).toEqual([
        { code: "EMBED_TIMEOUT", count: 1, exampleDocId: "d0", exampleMessage: "slow" },
        { code: "NOT_FOUND", count: 1, exampleDocId: "d0", exampleMessage: "gone" },
      ]);
      const [failed] = await store.listDocuments("b", { states: ["failed"] });
      expect(failed).toMatchObject({
        docId: "d0",
        attempts: 2,
        lastError: { code: "NOT_FOUND", message: "gone" },
      });
      expect(await store.nextClaimableAt(run)).toBeNull();
    });

    it("replaces a changed document's chunks only when its new output commits", async () => {
      await planBatch("b", [planned(0, "old")]);
      const run = await newRun("b");
      const [doc] = (await store.commit(request(run, [], 1))).claimed;
      await store.commit(request(run, [done(doc!, ["old 1", "old 2"])]));
      const { progress } = await planBatch("b", [planned(0, "new")], "fp2");
      expect(progress.changed).toBe(1);
      expect((await store.counts("b")).pending).toBe(1);
      expect((await exported("b")).map((r) => r.text)).toEqual(["old 1", "old 2"]);
      const [again] = (await store.commit(request(run, [], 1))).claimed;
      expect(again!.content).toBe("new");
      await store.commit(request(run, [done(again!, ["new"])]));
      expect((await exported("b")).map((r) => r.text)).toEqual(["new"]);
      const unchanged = await planBatch("b", [planned(0, "new")], "fp3");
      expect(unchanged.progress.unchanged).toBe(1);
    });

    it("backfills a degraded document: old chunks stay visible until the new ones replace them", async () => {
      await planBatch("b", [planned(0)]);
      const run = await newRun("b");
      const [doc] = (await store.commit(request(run, [], 1))).claimed;
      const degraded: Outcome = {
        ...(done(doc!, ["x"]) as Extract<Outcome, { kind: "completed" }>),
        degraded: { code: "EMBED_TIMEOUT", message: "slow" },
      };
      (degraded as Extract<Outcome, { kind: "completed" }>).chunks = [
        { index: 0, text: "x", embedding: null },
      ];
      await store.commit(request(run, [degraded]));
      expect((await exported("b"))[0]).toMatchObject({ degraded: true, embedding_dim: null });
      expect(await store.requeue("b", { failed: true, degraded: false }, Date.now())).toBe(0);
      expect(
        await store.requeue("b", { failed: true, degraded: true, reason: "PARSE_ERROR" }, Date.now()),
      ).toBe(0);
      expect(
        await store.requeue("b", { failed: true, degraded: true, reason: "EMBED_TIMEOUT" }, Date.now()),
      ).toBe(1);
      expect(await exported("b")).toHaveLength(1);
      const [again] = (await store.commit(request(run, [], 1))).claimed;
      await store.commit(request(run, [done(again!, ["x", "y"])]));
      const rows = await exported("b");
      expect(rows.map((r) => [r.text, r.degraded, r.embedding_dim])).toEqual([
        ["x", false, 3],
        ["y", false, 3],
      ]);
      const facts = await store.documentFacts("b", 0);
      expect(facts.reexecuted).toBe(0);
      expect(facts.durations).toHaveLength(1);
      expect(facts.stages.parse).toHaveLength(1);
      expect(facts.commits).toHaveLength(1);
    });

    it("cancels and un-cancels a batch", async () => {
      await planBatch("b", [planned(0)]);
      expect((await store.getBatch("b"))!.cancelledAt).toBeNull();
      await store.setCancelled("b", true, 1234);
      expect((await store.getBatch("b"))!.cancelledAt).toBe(1234);
      await store.setCancelled("b", false, 1235);
      expect((await store.getBatch("b"))!.cancelledAt).toBeNull();
    });

    it("re-queues one document by id, and re-reads documents whose file was missing", async () => {
      const missing = {
        ...planned(1),
        content: null,
        loadError: { code: "NOT_FOUND", message: "gone" },
        path: "x.txt",
      };
      await planBatch("b", [planned(0), missing, planned(2)]);
      const run = await newRun("b");
      const claimed = (await store.commit(request(run, [], 3))).claimed;
      await store.commit(
        request(
          run,
          claimed.map((doc) => ({
            kind: "failed",
            doc,
            error: { code: "NOT_FOUND", message: "gone" },
            stage: "load",
            startedAt: 0,
          })),
        ),
      );
      const candidates = await store.reloadCandidates("b", {
        failed: true,
        degraded: false,
        reason: "NOT_FOUND",
      });
      expect(candidates).toEqual([
        {
          row: claimed[1]!.row,
          source: "s",
          docId: "d1",
          format: "text",
          metadata: { i: 1 },
          path: "x.txt",
          loadError: { code: "NOT_FOUND", message: "gone" },
        },
      ]);
      const fresh = planned(1, "found at last");
      await store.reloadDocument(candidates[0]!.row, fresh);
      expect(
        await store.requeue("b", { failed: true, degraded: false, docId: "d1", source: "s" }, Date.now()),
      ).toBe(1);
      expect(await store.requeue("b", { failed: true, degraded: false, docId: "d9" }, Date.now())).toBe(0);
      const [again] = (await store.commit(request(run, [], 5))).claimed;
      expect(again).toMatchObject({
        docId: "d1",
        content: "found at last",
        loadError: null,
        idempotencyKey: fresh.idempotencyKey,
      });
      expect((await store.counts("b")).failed).toBe(2);
    });

    it("stages chunks and vectors of a large document and hands them to the next execution", async () => {
      await planBatch("b", [planned(0)]);
      const run = await newRun("b");
      const [doc] = (await store.commit(request(run, [], 1))).claimed;
      await store.commit({
        ...request(run, []),
        progress: [
          {
            doc: doc!,
            texts: {
              values: ["a", "b", "c"],
              metadata: [{ title: "T", headings: ["H"] }, {}, {}],
              fallback: null,
            },
            vectors: [],
          },
          { doc: doc!, vectors: [{ index: 0, embedding: new Float32Array([1, 2]) }] },
        ],
      });
      const next = await newRun("b");
      await store.recoverInFlight(next, [run.run]);
      const [again] = (await store.commit(request(next, [], 1))).claimed;
      expect(again!.hasStaged).toBe(true);
      const staged = await store.loadStaged(again!);
      expect(staged!.texts).toEqual(["a", "b", "c"]);
      expect(staged!.metadata).toEqual([{ title: "T", headings: ["H"] }, {}, {}]);
      expect(Array.from(staged!.vectors[0]!)).toEqual([1, 2]);
      expect(staged!.vectors[1]).toBeNull();
    });

    it("counts and lists files skipped as not documents, keeping those of the latest plan only", async () => {
      const first = await store.beginPlan({
        batchId: "b",
        layer: LAYER,
        settings: {},
        inputRef: "dir",
        fingerprint: "f1",
      });
      const generation = first.batch.planGeneration;
      await store.planDocuments("b", generation, [planned(0)], { records: 2, offset: 2 }, [
        { path: "z/photo.png", kind: "image" },
      ]);
      // A plan resumed from its checkpoint may skip the same file again: still one row.
      await store.planDocuments("b", generation, [], { records: 4, offset: 4 }, [
        { path: "a.gz", kind: "archive" },
        { path: "z/photo.png", kind: "image" },
      ]);
      await store.finishPlan("b", generation);
      expect(await store.listSkipped("b")).toEqual([
        { path: "a.gz", kind: "archive" },
        { path: "z/photo.png", kind: "image" },
      ]);
      expect(await store.listSkipped("b", 1)).toEqual([{ path: "a.gz", kind: "archive" }]);
      const counts = await store.counts("b");
      expect(counts).toMatchObject({ total: 1, pending: 1, skipped_unsupported: 2 });
      expect((await store.counts("other")).skipped_unsupported).toBe(0);

      // The folder changed: the next plan's list replaces it once that plan is complete.
      const second = await store.beginPlan({
        batchId: "b",
        layer: LAYER,
        settings: {},
        inputRef: "dir",
        fingerprint: "f2",
      });
      expect(second.batch.planGeneration).toBe(generation + 1);
      await store.planDocuments("b", second.batch.planGeneration, [], { records: 1, offset: 1 }, [
        { path: "font.woff2", kind: "font" },
      ]);
      expect((await store.counts("b")).skipped_unsupported).toBe(3);
      await store.finishPlan("b", second.batch.planGeneration);
      expect(await store.listSkipped("b")).toEqual([{ path: "font.woff2", kind: "font" }]);
      expect((await store.counts("b")).skipped_unsupported).toBe(1);
    });
  });
}
