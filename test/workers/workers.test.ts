import { afterAll, describe, expect, it } from "vitest";
import { EmbeddingTestServer } from "../../src/testing/embedding-server.js";
import { commandArgs, flags, runArgs, workerArgs } from "../helpers/args.js";
import { runCli } from "../helpers/cli.js";
import { corpusOnDisk } from "../helpers/corpus.js";
import { sharedEmbeddings } from "../helpers/embeddings.js";
import { pgUrl, schemaStores } from "../helpers/postgres.js";
import { sleep, startCli, waitFor } from "../helpers/processes.js";
import { seededRandom, testSeed } from "../helpers/seed.js";
import { expectCompleteExport, exportOf, settledCount } from "../helpers/store.js";

const url = pgUrl();
const pg = schemaStores(url);

describe.skipIf(!url)("many workers, one batch (Postgres)", () => {
  const embeddings = sharedEmbeddings({ latencyMs: 3 });
  afterAll(() => pg.cleanup());

  it("four workers share 5,000 documents; two are SIGKILLed; the others finish exactly once", async () => {
    const { storeUrl, store } = pg.fresh("four");
    const { input, docs, ids } = corpusOnDisk({ count: 5_000, seed: 31, largeShare: 0.002 });
    const submitted = await runCli([
      "submit",
      input,
      ...flags({ store: storeUrl, batchId: "w", chunkSize: 400, embedUrl: embeddings.url }),
    ]);
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(submitted.stdout.trim()).toBe("w");
    await store.open();

    const args = { batchId: "w", store: storeUrl, leaseMs: 3000, concurrency: 4 };
    const workers = [0, 1, 2, 3].map((i) => startCli(workerArgs({ ...args, workerId: `w${i}` })));
    // Kill two workers at random moments of the batch.
    const kills: { worker: number; at: number }[] = [];
    const random = seededRandom(testSeed("four workers, two killed"));
    const targets = [0.15 + random() * 0.2, 0.4 + random() * 0.2].map((t) => Math.round(t * docs.length));
    for (const [k, target] of targets.entries()) {
      const reached = await waitFor(
        async () => (await settledCount(store, "w")) >= target,
        240_000,
        workers[k]!.finished,
        20,
      );
      if (!reached) throw new Error(`worker ${k} exited early`);
      workers[k]!.child.kill("SIGKILL");
      kills.push({ worker: k, at: Date.now() });
    }
    const results = await Promise.all(workers.map((w) => w.finished));
    expect(results[0]!.signal).toBe("SIGKILL");
    expect(results[1]!.signal).toBe("SIGKILL");
    for (const survivor of [results[2]!, results[3]!]) expect(survivor.code, survivor.stderr).toBe(0);

    const counts = await store.counts("w");
    expect(counts).toMatchObject({ total: 5_000, done: 5_000, pending: 0, processing: 0 });
    expectCompleteExport(await exportOf(store, "w"), ids);

    const report = JSON.parse(
      (await runCli(commandArgs("report", { batchId: "w", store: storeUrl }))).stdout,
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
      const { storeUrl, store } = pg.fresh("zombie");
      const { input, ids } = corpusOnDisk({ count: 120, seed: 5, largeShare: 0 });
      const submit = ["submit", input, ...flags({ store: storeUrl, batchId: "z", embedUrl: slowUrl })];
      expect((await runCli(submit)).code).toBe(0);
      await store.open();
      const args = { batchId: "z", store: storeUrl, leaseMs: 1500, concurrency: 4 };
      const zombie = startCli(workerArgs({ ...args, workerId: "zombie" }));
      await waitFor(async () => (await store.counts("z")).processing > 0, 120_000, undefined, 20);
      await sleep(150);
      zombie.child.kill("SIGSTOP");
      const live = startCli(workerArgs({ ...args, workerId: "live" }));
      // Wait until the paused worker's documents were taken over.
      await waitFor(async () => (await store.events("z", ["reclaim"])).length > 0, 120_000, undefined, 50);
      await sleep(300);
      zombie.child.kill("SIGCONT");
      const [z, l] = await Promise.all([zombie.finished, live.finished]);
      expect(l.code, l.stderr).toBe(0);
      expect(z.code, z.stderr).toBe(0);
      const report = JSON.parse(
        (await runCli(commandArgs("report", { batchId: "z", store: storeUrl }))).stdout,
      );
      const zombieWorker = report.workers.find((w: { worker_id: string }) => w.worker_id === "zombie");
      console.log(
        `zombie: ${zombieWorker.fenced_commits} late commits fenced; reclaimed ${report.reclaimed_documents} documents`,
      );
      expect(zombieWorker.fenced_commits).toBeGreaterThan(0);
      expect(report.fenced_commits).toBe(zombieWorker.fenced_commits);
      expect(report.counts).toMatchObject({ total: 120, done: 120 });
      expect(report.dup_rate).toBe(0);
      expectCompleteExport(await exportOf(store, "z"), ids);
    } finally {
      await slow.stop();
    }
  }, 120_000);

  it("two workers started at the same instant on a fresh database: one plan, no migration race", async () => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const { storeUrl, store } = pg.fresh("twin");
      const { input, ids } = corpusOnDisk({ count: 3_000, seed: 9 + attempt, largeShare: 0 });
      const args = runArgs(input, { store: storeUrl, batchId: "t" });
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
      expectCompleteExport(await exportOf(store, "t"), ids);
    }
  }, 120_000);
});
