import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresStore } from "../../src/store/postgres/index.js";
import type { ExportRow } from "../../src/store/store.js";
import { EmbeddingTestServer } from "../../src/testing/embedding-server.js";
import { collect, runCli, spawnCli, tempDir } from "../helpers/cli.js";
import { makeCorpus, writeJsonl } from "../helpers/corpus.js";
import { dropSchemas, freshSchemaUrl, pgUrl } from "../helpers/postgres.js";
import { expectCompleteExport } from "../helpers/store.js";

const url = pgUrl();
const schemas: string[] = [];
const stores: PostgresStore[] = [];

function freshStore(prefix: string): { storeUrl: string; store: PostgresStore } {
  const { url: storeUrl, schema } = freshSchemaUrl(url!, prefix);
  schemas.push(schema);
  const store = new PostgresStore({ url: storeUrl, poolSize: 2 });
  stores.push(store);
  return { storeUrl, store };
}

async function exportOf(store: PostgresStore, batchId: string): Promise<ExportRow[]> {
  const rows: ExportRow[] = [];
  for await (const row of store.exportChunks(batchId)) rows.push(row);
  return rows;
}

async function settledCount(store: PostgresStore, batchId: string): Promise<number> {
  const c = await store.counts(batchId).catch(() => null);
  return c ? c.done + c.degraded + c.failed : 0;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!url)("many workers, one batch (Postgres)", () => {
  let embeddings: EmbeddingTestServer;
  let embedUrl: string;
  beforeAll(async () => {
    embeddings = new EmbeddingTestServer({ latencyMs: 3 });
    embedUrl = await embeddings.start();
  });
  afterAll(async () => {
    await embeddings.stop();
    for (const store of stores) await store.close().catch(() => {});
    if (url) await dropSchemas(url, schemas);
  });

  it("four workers share 5,000 documents; two are SIGKILLed; the others finish exactly once", async () => {
    const { storeUrl, store } = freshStore("four");
    const dir = tempDir();
    const input = path.join(dir, "c.jsonl");
    const docs = makeCorpus({ count: 5_000, seed: 31, largeShare: 0.002 });
    writeJsonl(input, docs);
    const submitted = await runCli([
      "submit",
      input,
      "--store",
      storeUrl,
      "--batch-id",
      "w",
      "--chunk-size",
      "400",
      "--embed-url",
      embedUrl,
    ]);
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(submitted.stdout.trim()).toBe("w");
    await store.open();

    const args = [
      "worker",
      "--batch-id",
      "w",
      "--store",
      storeUrl,
      "--lease-ms",
      "3000",
      "--concurrency",
      "4",
      "--no-progress",
      "--json",
    ];
    const workers = [0, 1, 2, 3].map((i) => {
      const child = spawnCli([...args, "--worker-id", `w${i}`]);
      return { child, done: collect(child) };
    });
    // Kill two workers at random moments of the batch.
    const kills: { worker: number; at: number }[] = [];
    const targets = [0.15 + Math.random() * 0.2, 0.4 + Math.random() * 0.2].map((t) =>
      Math.round(t * docs.length),
    );
    for (const [k, target] of targets.entries()) {
      while ((await settledCount(store, "w")) < target) {
        if (workers[k]!.child.exitCode !== null) throw new Error(`worker ${k} exited early`);
        await sleep(20);
      }
      workers[k]!.child.kill("SIGKILL");
      kills.push({ worker: k, at: Date.now() });
    }
    const results = await Promise.all(workers.map((w) => w.done));
    expect(results[0]!.signal).toBe("SIGKILL");
    expect(results[1]!.signal).toBe("SIGKILL");
    for (const survivor of [results[2]!, results[3]!]) expect(survivor.code, survivor.stderr).toBe(0);

    const counts = await store.counts("w");
    expect(counts).toMatchObject({ total: 5_000, done: 5_000, pending: 0, processing: 0 });
    expectCompleteExport(
      await exportOf(store, "w"),
      docs.map((d) => d.id),
    );

    const report = JSON.parse(
      (await runCli(["report", "--batch-id", "w", "--store", storeUrl, "--json"])).stdout,
    );
    expect(report.dup_rate).toBe(0);
    const busy = report.workers.filter((w: { processed: number }) => w.processed > 0);
    expect(busy.map((w: { worker_id: string }) => w.worker_id).sort()).toEqual(["w0", "w1", "w2", "w3"]);
    expect(report.reclaimed_documents).toBeGreaterThan(0);
    const runsOf = new Map<string, number>(
      report.runs.map((r: { worker_id: string; run: number }) => [r.worker_id, r.run]),
    );
    for (const kill of kills) {
      const run = runsOf.get(`w${kill.worker}`);
      const reclaims = report.reclaims.filter((r: { from_run: number }) => r.from_run === run);
      expect(reclaims.length, `worker w${kill.worker} was reclaimed`).toBeGreaterThan(0);
      const first = Math.min(...reclaims.map((r: { at: string }) => Date.parse(r.at)));
      const delay = first - kill.at;
      console.log(
        `worker w${kill.worker} killed; its documents reclaimed ${delay} ms later (${reclaims[0].via})`,
      );
      expect(delay).toBeLessThan(3_000 + 5_000);
    }
    expect(report.reclaim_delay_ms.count).toBeGreaterThan(0);
  }, 240_000);

  it("fences out a zombie: a worker paused past its lease cannot commit, and its late commits are counted", async () => {
    const slow = new EmbeddingTestServer({ latencyMs: 400 });
    const slowUrl = await slow.start();
    try {
      const { storeUrl, store } = freshStore("zombie");
      const dir = tempDir();
      const input = path.join(dir, "c.jsonl");
      const docs = makeCorpus({ count: 120, seed: 5, largeShare: 0 });
      writeJsonl(input, docs);
      expect(
        (await runCli(["submit", input, "--store", storeUrl, "--batch-id", "z", "--embed-url", slowUrl]))
          .code,
      ).toBe(0);
      await store.open();
      const args = [
        "worker",
        "--batch-id",
        "z",
        "--store",
        storeUrl,
        "--lease-ms",
        "1500",
        "--concurrency",
        "4",
        "--no-progress",
        "--json",
      ];
      const zombie = spawnCli([...args, "--worker-id", "zombie"]);
      const zombieDone = collect(zombie);
      while ((await store.counts("z")).processing === 0) await sleep(20);
      await sleep(150);
      zombie.kill("SIGSTOP");
      const live = spawnCli([...args, "--worker-id", "live"]);
      const liveDone = collect(live);
      // Wait until the paused worker's documents were taken over.
      for (;;) {
        const events = await store.events("z", ["reclaim"]);
        if (events.length > 0) break;
        await sleep(50);
      }
      await sleep(300);
      zombie.kill("SIGCONT");
      const [z, l] = await Promise.all([zombieDone, liveDone]);
      expect(l.code, l.stderr).toBe(0);
      expect(z.code, z.stderr).toBe(0);
      const report = JSON.parse(
        (await runCli(["report", "--batch-id", "z", "--store", storeUrl, "--json"])).stdout,
      );
      const zombieWorker = report.workers.find((w: { worker_id: string }) => w.worker_id === "zombie");
      console.log(
        `zombie: ${zombieWorker.fenced_commits} late commits fenced; reclaimed ${report.reclaimed_documents} documents`,
      );
      expect(zombieWorker.fenced_commits).toBeGreaterThan(0);
      expect(report.fenced_commits).toBe(zombieWorker.fenced_commits);
      expect(report.counts).toMatchObject({ total: 120, done: 120 });
      expect(report.dup_rate).toBe(0);
      expectCompleteExport(
        await exportOf(store, "z"),
        docs.map((d) => d.id),
      );
    } finally {
      await slow.stop();
    }
  }, 120_000);

  it("two workers started at the same instant on a fresh database: one plan, no migration race", async () => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const { storeUrl, store } = freshStore("twin");
      const dir = tempDir();
      const input = path.join(dir, "c.jsonl");
      const docs = makeCorpus({ count: 3_000, seed: 9 + attempt, largeShare: 0 });
      writeJsonl(input, docs);
      const args = ["run", input, "--store", storeUrl, "--batch-id", "t", "--no-progress", "--json"];
      const [a, b] = await Promise.all([runCli(args), runCli(args)]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      expect(a.stderr + b.stderr).not.toMatch(/error/i);
      await store.open();
      const batch = (await store.getBatch("t"))!;
      expect(batch).toMatchObject({
        planGeneration: 1,
        planComplete: true,
        planRecords: 3_000,
        duplicatesSkipped: 0,
      });
      expect(await store.counts("t")).toMatchObject({ total: 3_000, done: 3_000 });
      const runs = await store.listRuns("t");
      expect(runs).toHaveLength(2);
      expect(runs.reduce((sum, r) => sum + r.processed, 0)).toBe(3_000);
      expectCompleteExport(
        await exportOf(store, "t"),
        docs.map((d) => d.id),
      );
    }
  }, 120_000);
});
