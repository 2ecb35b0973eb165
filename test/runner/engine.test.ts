import path from "node:path";
import { describe, expect, it } from "vitest";
import { contentHash, idempotencyKey } from "../../src/core/keys.js";
import type { PlannedDocument } from "../../src/core/types.js";
import { Engine, type EngineOptions } from "../../src/runner/engine.js";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import type { ClaimedDocument, Outcome } from "../../src/store/store.js";
import { tempDir } from "../helpers/cli.js";

const OPTIONS: EngineOptions = {
  concurrency: 4,
  prefetch: 4,
  leaseMs: 30_000,
  heartbeatMs: 10_000,
  groupDelayMs: 2,
  maxGroupDelayMs: 20,
  groupMax: 64,
  pollMs: 20,
  docTimeoutMs: 0,
};

async function setup(count: number) {
  const store = new SqliteStore({ file: path.join(tempDir(), "e.db") });
  await store.open();
  const docs: PlannedDocument[] = Array.from({ length: count }, (_, i) => {
    const hash = contentHash("text", {}, `c${i}`);
    return {
      seq: i,
      source: "s",
      docId: `d${String(i).padStart(3, "0")}`,
      format: "text",
      metadata: {},
      content: `c${i}`,
      loadError: null,
      contentHash: hash,
      idempotencyKey: idempotencyKey("s", `d${i}`, hash, "l"),
    };
  });
  const cursor = await store.beginPlan({
    batchId: "b",
    layer: "l",
    settings: {},
    inputRef: "m",
    fingerprint: "f",
  });
  await store.planDocuments("b", cursor.batch.planGeneration, docs, { records: count, offset: count });
  await store.finishPlan("b", cursor.batch.planGeneration);
  const run = await store.startRun({
    batchId: "b",
    workerId: "w",
    host: "h",
    pid: process.pid,
    command: "t",
    processStartedAt: Date.now(),
  });
  return { store, run };
}

const completed = (doc: ClaimedDocument): Outcome => ({
  kind: "completed",
  doc,
  degraded: null,
  chunks: [{ index: 0, text: doc.content ?? "", embedding: null }],
  startedAt: Date.now(),
  timings: {},
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("Engine", () => {
  it("keeps exactly `concurrency` documents in flight, never more, without a waiting room", async () => {
    const { store, run } = await setup(60);
    let inFlight = 0;
    let peak = 0;
    const engine = new Engine(
      store,
      run,
      async (doc, signal, slot) => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        // No waiting room: a document waiting for its vectors keeps its slot.
        await slot.park(1, signal);
        await sleep(3 + (doc.seq % 5));
        inFlight -= 1;
        return completed(doc);
      },
      OPTIONS,
    );
    expect(await engine.run()).toBe("finished");
    expect(peak).toBe(4);
    expect((await store.counts("b")).done).toBe(60);
  });

  it("gives the slot of a document waiting for vectors to the next one, within the waiting room", async () => {
    const { store, run } = await setup(80);
    const now = { working: 0, running: 0, waitingTexts: 0 };
    const peak = { working: 0, running: 0, waitingTexts: 0 };
    const track = () => {
      for (const k of ["working", "running", "waitingTexts"] as const) peak[k] = Math.max(peak[k], now[k]);
    };
    const engine = new Engine(
      store,
      run,
      async (doc, signal, slot) => {
        now.running += 1;
        now.working += 1;
        track();
        await sleep(1);
        // Three texts each; the room holds ten, so three documents wait in it at most, and the
        // next ones wait for space holding their slots.
        await slot.park(3, signal);
        now.working -= 1;
        now.waitingTexts += 3;
        track();
        await sleep(15);
        now.waitingTexts -= 3;
        now.running -= 1;
        return completed(doc);
      },
      { ...OPTIONS, concurrency: 2, prefetch: 2, waitingRoomTexts: 10 },
    );
    expect(await engine.run()).toBe("finished");
    expect((await store.counts("b")).done).toBe(80);
    expect(peak.waitingTexts).toBe(9);
    expect(peak.running).toBe(5);
    expect(peak.working).toBe(2);
  });

  it("lets healthy documents flow while a failing one waits out its backoff outside a slot", async () => {
    const { store, run } = await setup(30);
    const order: string[] = [];
    let sickAttempts = 0;
    const engine = new Engine(
      store,
      run,
      async (doc) => {
        await sleep(2);
        if (doc.docId === "d000" && sickAttempts++ < 2) {
          return {
            kind: "retry",
            doc,
            error: { code: "EMBED_UNAVAILABLE", message: "503" },
            stage: "embed",
            stageAttempts: sickAttempts,
            // Long enough for the 29 others to pass through the one slot on a loaded machine.
            notBefore: Date.now() + 1_000,
          };
        }
        order.push(doc.docId);
        return completed(doc);
      },
      { ...OPTIONS, concurrency: 1, prefetch: 1 },
    );
    expect(await engine.run()).toBe("finished");
    expect(order).toHaveLength(30);
    // With one slot, every other document completed before the sick one's backoffs ran out.
    expect(order[order.length - 1]).toBe("d000");
    const [summary] = await store.listDocuments("b", { states: ["done"], limit: 1 });
    expect(summary).toMatchObject({ docId: "d000", attempts: 3 });
  });

  it("on stop, hands back claimed documents untouched and lets running ones finish", async () => {
    const { store, run } = await setup(40);
    let started = 0;
    const engine = new Engine(
      store,
      run,
      async (doc) => {
        started += 1;
        if (started === 6) engine.stop("interrupted", 5_000);
        await sleep(10);
        return completed(doc);
      },
      OPTIONS,
    );
    expect(await engine.run()).toBe("interrupted");
    const counts = await store.counts("b");
    expect(counts.processing).toBe(0);
    expect(counts.done).toBe(started);
    expect(counts.pending).toBe(40 - started);
    const [first] = await store.listDocuments("b", { states: ["pending"], limit: 1 });
    expect(first!.attempts).toBe(0);
  });

  describe("claims ahead", () => {
    /** Runs `count` documents, each taking `ms`, and records every commit's claim and outcomes. */
    async function commitsOf(count: number, ms: number, options: Partial<EngineOptions>) {
      const { store, run } = await setup(count);
      const commits: { claimed: number; outcomes: number }[] = [];
      const commit = store.commit.bind(store);
      store.commit = async (request) => {
        const result = await commit(request);
        commits.push({ claimed: result.claimed.length, outcomes: request.outcomes.length });
        return result;
      };
      const engine = new Engine(
        store,
        run,
        async (doc) => {
          if (ms > 0) await sleep(ms);
          return completed(doc);
        },
        { ...OPTIONS, concurrency: 4, prefetch: 32, groupMax: 1024, ...options },
      );
      expect(await engine.run()).toBe("finished");
      expect((await store.counts("b")).done).toBe(count);
      return commits;
    }

    it("what fast documents settle in the longest group delay: fewer, larger commits", async () => {
      const fixed = await commitsOf(3000, 0, {});
      const adaptive = await commitsOf(3000, 0, { maxPrefetch: 512 });
      // A fixed claim-ahead commits whenever the 36 claimed documents run out.
      expect(Math.max(...fixed.map((c) => c.claimed))).toBeLessThanOrEqual(36);
      expect(Math.max(...adaptive.map((c) => c.claimed))).toBeGreaterThan(36);
      expect(Math.max(...adaptive.map((c) => c.claimed))).toBeLessThanOrEqual(4 + 512);
      expect(adaptive.length).toBeLessThan(fixed.length * 0.6);
    });

    it("no more than `prefetch` for slow documents", async () => {
      // Four at a time, 25 ms each: 0.16 documents settle per ms, 3.2 in the longest delay (20 ms).
      const commits = await commitsOf(120, 25, { maxPrefetch: 512 });
      expect(Math.max(...commits.map((c) => c.claimed))).toBeLessThanOrEqual(4 + 32);
    });
  });
});
