import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ExportRow } from "../../src/store/store.js";
import { EmbeddingTestServer } from "../../src/testing/embedding-server.js";
import { commandArgs, runArgs } from "../helpers/args.js";
import { jsonLines, runCli, tempDir } from "../helpers/cli.js";
import { corpusOnDisk, makeCorpus, writeJsonl } from "../helpers/corpus.js";
import { killWhen, rerunWhile, sleep, startCli, waitFor } from "../helpers/processes.js";
import { seededRandom, testSeed } from "../helpers/seed.js";
import { countDone, expectCompleteExport, exportRows } from "../helpers/store.js";

let server: EmbeddingTestServer | null = null;
afterEach(async () => {
  await server?.stop();
  server = null;
});

async function startServer(options: ConstructorParameters<typeof EmbeddingTestServer>[0]): Promise<string> {
  server = new EmbeddingTestServer(options);
  return server.start();
}

describe("under random faults of the embeddings service", () => {
  it.each([0.03, 0.05])(
    "completes at least 99 percent of 2,000 documents at a fault rate of %s, and failure_reasons agrees with the server",
    async (rate) => {
      const url = await startServer({
        latencyMs: 1,
        seed: Math.round(rate * 1000),
        retryAfterSeconds: 1,
        rates: { error500: rate * 0.35, rateLimit429: rate * 0.15, hang: rate * 0.15, drop: rate * 0.35 },
      });
      const { input, db, ids } = corpusOnDisk({ count: 2_000, seed: 5, largeShare: 0.005 });
      const result = await runCli(
        runArgs(input, {
          db,
          batchId: "f",
          concurrency: 8,
          embedUrl: url,
          // Well above the server's latency: under load, a short limit could expire before an
          // answer on its way, and a 429 would then be counted as a timeout.
          embedTimeoutMs: 1500,
          maxAttempts: 4,
          baseDelayMs: 20,
          embedBatchSize: 16,
          chunkSize: 500,
        }),
      );
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout);
      expect(report.completion_rate).toBeGreaterThanOrEqual(0.99);
      const injected = server!.stats().injected;
      expect(injected.error500 + injected.drop + injected.hang + injected.rateLimit429).toBeGreaterThan(20);
      expect(report.failure_reasons.EMBED_UNAVAILABLE ?? 0).toBe(injected.error500 + injected.drop);
      expect(report.failure_reasons.EMBED_RATE_LIMITED ?? 0).toBe(injected.rateLimit429);
      expect(report.failure_reasons.EMBED_TIMEOUT ?? 0).toBe(injected.hang);
      expect(report.retries).toBeGreaterThan(0);
      expectCompleteExport(await exportRows(db, "f"), ids);
    },
    120_000,
  );
});

describe("kill -9 with faults on", () => {
  it("re-embeds at most 1% of texts over 8 SIGKILLs at concurrency 8", async () => {
    const url = await startServer({ latencyMs: 3, seed: 9, rates: { error500: 0.015, drop: 0.015 } });
    const { input, db, docs, ids } = corpusOnDisk({ count: 2_500, seed: 21, largeShare: 0.02 });
    const args = runArgs(input, {
      db,
      batchId: "kf",
      concurrency: 8,
      embedUrl: url,
      embedBatchSize: 4,
      chunkSize: 300,
      baseDelayMs: 20,
    });
    const random = seededRandom(testSeed("kill -9 with faults on"));
    let kills = 0;
    for (let k = 1; k <= 8; k++) {
      const target = Math.round((k / 9) * docs.length + (random() - 0.5) * 100);
      if (!(await killWhen(startCli(args), () => countDone(db, "kf") >= target))) break;
      kills += 1;
    }
    expect(kills).toBe(8);
    const final = await runCli(args);
    expect(final.code, final.stderr).toBe(0);
    const report = JSON.parse(final.stdout);
    expect(report.runs).toHaveLength(9);
    const rows = await exportRows(db, "kf");
    expectCompleteExport(rows, ids);
    // Re-embedded = answered with 200 more often than the text appears in the output.
    const expected = new Map<string, number>();
    for (const row of rows) expected.set(row.text, (expected.get(row.text) ?? 0) + 1);
    let served = 0;
    let again = 0;
    for (const [text, n] of server!.textCounts()) {
      served += n;
      again += Math.max(0, n - (expected.get(text) ?? 0));
    }
    const share = again / rows.length;
    console.log(
      `re-embedded ${again} of ${rows.length} texts (${(share * 100).toFixed(3)}%), served ${served}, ${kills} kills`,
    );
    expect(share).toBeLessThanOrEqual(0.01);
  }, 240_000);

  it("resumes a large document from its staged chunks: only missing vectors are requested", async () => {
    const url = await startServer({ latencyMs: 15, seed: 2 });
    const dir = tempDir();
    const input = path.join(dir, "big.jsonl");
    const db = path.join(dir, "s.db");
    const paragraphs = Array.from(
      { length: 400 },
      (_, i) => `Paragraph ${i} talks about unique topic number ${i} at length.`,
    );
    writeJsonl(input, [
      { id: "big", source: "s", format: "text", content: paragraphs.join("\n\n"), metadata: {}, markers: [] },
    ]);
    const args = runArgs(input, { db, batchId: "big", embedUrl: url, embedBatchSize: 4, chunkSize: 80 });
    await killWhen(startCli(args), () => server!.stats().textsOk >= 160, { timeoutMs: 60_000 });
    const before = server!.stats().textsOk;
    const final = await runCli(args);
    expect(final.code, final.stderr).toBe(0);
    const rows = await exportRows(db, "big");
    expect(rows).toHaveLength(400);
    const total = server!.stats().textsOk;
    // Everything answered before the kill was kept, except the requests in flight at that instant.
    expect(total - rows.length).toBeLessThanOrEqual(4);
    expect(before).toBeGreaterThanOrEqual(160);
  }, 120_000);
});

describe("the circuit breaker", () => {
  it("sends only probes while the service is down, and documents that only waited end done", async () => {
    const url = await startServer({ latencyMs: 4, seed: 4 });
    const { input, db, ids } = corpusOnDisk({ count: 800, seed: 8, largeShare: 0 });
    const { finished } = startCli(
      runArgs(input, {
        db,
        batchId: "br",
        concurrency: 8,
        embedUrl: url,
        maxAttempts: 6,
        baseDelayMs: 50,
        chunkSize: 400,
      }),
    );
    await waitFor(() => countDone(db, "br") >= 200, 60_000, finished);
    const downAt = Date.now();
    server!.setDown("503");
    await sleep(4_000);
    server!.setDown(false);
    const upAt = Date.now();
    const result = await finished;
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.counts).toMatchObject({ total: 800, done: 800, degraded: 0 });

    const { SqliteStore } = await import("../../src/store/sqlite/index.js");
    const store = new SqliteStore({ file: db });
    await store.open();
    const events = (await store.events("br", ["breaker"])).map(
      (e) => e.data as { from: string; to: string; at: number },
    );
    await store.close();
    const opened = events.find((e) => e.to === "open" && e.at >= downAt);
    expect(opened, JSON.stringify(events)).toBeDefined();
    const probes = events.filter((e) => e.to === "half-open" && e.at > opened!.at && e.at < upAt).length;
    // Requests sent just before the breaker opened may reach the server a little later on a busy
    // machine; anything past that margin must be a probe.
    const afterOpen = server!.stats().downTimes.filter((t) => t > opened!.at + 250 && t < upAt);
    console.log(
      `down ${upAt - downAt} ms: ${server!.stats().whileDown} requests while down, ${afterOpen.length} after the breaker opened, ${probes} probes`,
    );
    expect(afterOpen.length).toBeLessThanOrEqual(probes);
    expect(probes).toBeGreaterThanOrEqual(1);
    expect(events.at(-1)!.to).toBe("closed");
    expectCompleteExport(await exportRows(db, "br"), ids);
  }, 120_000);
});

describe("fallback and backfill", () => {
  it("retry --degraded backfills: chunks replaced atomically, never half a document, no duplicates", async () => {
    const url = await startServer({ latencyMs: 1, rates: { reject400: 1 } });
    const { input, db, ids } = corpusOnDisk({ count: 300, seed: 13, largeShare: 0.02 });
    const args = runArgs(input, { db, batchId: "bf", embedUrl: url, chunkSize: 300 });
    const first = await runCli(args);
    expect(first.code, first.stderr).toBe(0);
    const degraded = JSON.parse(first.stdout);
    expect(degraded.counts).toMatchObject({ total: 300, degraded: 300, done: 0 });
    expect(degraded.completion_rate).toBe(1);
    const before = await exportRows(db, "bf");
    expect(before.every((r) => r.degraded === true && r.embedding_dim === null)).toBe(true);

    const status = JSON.parse((await runCli(commandArgs("status", { batchId: "bf", db }))).stdout);
    expect(status.degraded_documents).toHaveLength(300);
    expect(status.degraded_documents[0].reason.code).toBe("EMBED_REJECTED");

    server!.setRates({});
    // Slow enough that the backfill spans many snapshots of the reader below.
    server!.setLatency(20);
    const retried = await runCli(commandArgs("retry", { batchId: "bf", db, degraded: true }));
    expect(JSON.parse(retried.stdout).requeued).toBe(300);
    const backfill = startCli(args);
    const seen = { snapshots: 0, halfDone: 0 };
    while (!backfill.exited()) {
      // Export reads are synchronous underneath; give the child's exit event its turn.
      await sleep(20);
      const backfilled = backfilledDocuments(await exportRows(db, "bf"));
      seen.snapshots += 1;
      if (backfilled > 0 && backfilled < 300) seen.halfDone += 1;
    }
    const result = await backfill.finished;
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.counts).toMatchObject({ total: 300, done: 300, degraded: 0 });
    expect(report.dup_rate).toBe(0);
    const after = await exportRows(db, "bf");
    expect(after.every((r) => r.degraded === false && r.embedding_dim === 64)).toBe(true);
    expectCompleteExport(after, ids);
    console.log(`backfill: ${seen.halfDone} of ${seen.snapshots} snapshots taken half done`);
    // The reader really looked while some documents were new and others still old, and saw no mix.
    expect(seen.halfDone).toBeGreaterThan(0);
  }, 120_000);

  it("retry --reason CODE re-queues only documents that failed or degraded with that code", async () => {
    const url = await startServer({ rates: { reject400: 1 } });
    const dir = tempDir();
    const db = path.join(dir, "s.db");
    const input = path.join(dir, "in.json");
    fs.writeFileSync(
      input,
      JSON.stringify({
        documents: [
          { id: "ok", content: "Some text." },
          { id: "gone", path: "missing.txt" },
          { id: "bad-json", content: "{nope", format: "json" },
        ],
      }),
    );
    const run = await runCli(runArgs(input, { db, batchId: "r", embedUrl: url }));
    const report = JSON.parse(run.stdout);
    expect(report.counts).toMatchObject({ total: 3, degraded: 2, failed: 1 });
    expect(report.failure_reasons).toMatchObject({ NOT_FOUND: 1, MALFORMED_CONTENT: 1, EMBED_REJECTED: 2 });
    const requeued = async (reason: string, degraded = false) =>
      JSON.parse((await runCli(commandArgs("retry", { batchId: "r", db, degraded, reason }))).stdout)
        .requeued;
    expect(await requeued("EMBED_REJECTED")).toBe(0);
    expect(await requeued("EMBED_REJECTED", true)).toBe(1);
    expect(await requeued("NOT_FOUND")).toBe(1);
    const status = JSON.parse((await runCli(commandArgs("status", { batchId: "r", db }))).stdout);
    expect(status.counts).toMatchObject({ pending: 2, degraded: 1 });
    expect(status.degraded_documents[0].id).toBe("bad-json");
  }, 60_000);
});

describe("fault injection and limits", () => {
  it("--inject is deterministic for a seed and takes the real code paths", async () => {
    const dir = tempDir();
    const input = path.join(dir, "c.jsonl");
    writeJsonl(input, makeCorpus({ count: 600, seed: 3, largeShare: 0 }));
    const reports = [];
    for (const name of ["a", "b"]) {
      const result = await runCli(
        runArgs(input, {
          db: path.join(dir, `${name}.db`),
          batchId: "i",
          inject: "parse=0.05,embed=0.05,timeout=0.02",
          seed: 42,
          embedTimeoutMs: 50,
          baseDelayMs: 5,
          maxAttempts: 2,
        }),
      );
      expect(result.code, result.stderr).toBe(0);
      reports.push(JSON.parse(result.stdout));
    }
    expect(reports[0].failure_reasons).toEqual(reports[1].failure_reasons);
    expect(reports[0].counts).toEqual(reports[1].counts);
    expect(reports[0].failure_reasons.PARSE_ERROR).toBeGreaterThan(10);
    expect(reports[0].failure_reasons.EMBED_UNAVAILABLE).toBeGreaterThan(10);
    expect(reports[0].failure_reasons.EMBED_TIMEOUT).toBeGreaterThan(3);
    expect(reports[0].counts.degraded).toBeGreaterThan(0);
    expect(reports[0].completion_rate).toBe(1);
  }, 60_000);

  it("--inject crash=P kills the process abruptly; re-running converges", async () => {
    const { input, db, ids } = corpusOnDisk({ count: 400, seed: 1, largeShare: 0 });
    const args = runArgs(input, { db, batchId: "c", inject: "crash=0.01" });
    const { result, runs } = await rerunWhile(args, (r) => r.signal === "SIGKILL", 51);
    const crashes = runs - 1;
    expect(crashes).toBeGreaterThan(0);
    expect(result.code, result.stderr).toBe(0);
    expectCompleteExport(await exportRows(db, "c"), ids);
  }, 120_000);

  it("--max-fail-rate stops early with exit 3, resumable", async () => {
    const dir = tempDir();
    const input = path.join(dir, "in.json");
    fs.writeFileSync(
      input,
      JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: `m${i}`, path: `nowhere/${i}.txt` }))),
    );
    const result = await runCli(
      runArgs(input, { db: path.join(dir, "s.db"), maxFailRate: 0.2, concurrency: 2 }),
    );
    expect(result.code).toBe(3);
    const report = JSON.parse(result.stdout);
    expect(report.counts.failed).toBeGreaterThanOrEqual(20);
    expect(report.counts.pending).toBeGreaterThan(0);
    expect(report.runs[0].exit_reason).toBe("fail-budget");
    expect(result.stderr).toContain("--max-fail-rate");
  }, 60_000);

  it("--doc-timeout-ms aborts a slow document as a failed attempt, then takes the fallback path", async () => {
    // Only the embedding wait may run out the time limit: the CPU stages of a small document (a
    // thread's start-up included) stay far below it even on a busy machine.
    const url = await startServer({ latencyMs: 3_000 });
    const dir = tempDir();
    const input = path.join(dir, "in.jsonl");
    writeJsonl(input, makeCorpus({ count: 3, seed: 2, largeShare: 0 }));
    const db = path.join(dir, "s.db");
    const result = await runCli(
      runArgs(input, { db, embedUrl: url, docTimeoutMs: 600, maxAttempts: 2, baseDelayMs: 10 }),
    );
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.counts).toMatchObject({ total: 3, degraded: 3 });
    expect(report.failure_reasons.DOC_TIMEOUT).toBe(6);
    const rows = jsonLines((await runCli(["export", "--db", db, "--batch-id", report.batch_id])).stdout);
    expect(rows.every((r) => r.embedding_dim === null)).toBe(true);
  }, 60_000);
});

/**
 * Checks one snapshot of a batch being backfilled: every document whole (chunks 0..n-1, one count)
 * and either all old (degraded, no vector) or all new, never half of each. Returns how many are new.
 */
function backfilledDocuments(rows: ExportRow[]): number {
  const byDoc = new Map<string, ExportRow[]>();
  for (const r of rows) byDoc.set(r.doc_id, [...(byDoc.get(r.doc_id) ?? []), r]);
  expect(byDoc.size).toBe(300);
  let backfilled = 0;
  for (const [id, chunks] of byDoc) {
    expect(
      chunks.map((c) => c.chunk_index),
      id,
    ).toEqual(chunks.map((_, i) => i));
    expect(chunks.every((c) => c.chunk_count === chunks.length)).toBe(true);
    const kinds = new Set(chunks.map((c) => `${c.degraded}/${c.embedding_dim}`));
    expect(kinds.size, `${id} is half old, half new`).toBe(1);
    if (chunks[0]!.degraded === false) backfilled += 1;
  }
  return backfilled;
}
