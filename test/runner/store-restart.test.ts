import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seededRandom } from "../../src/core/backoff.js";
import { PostgresStore } from "../../src/store/postgres/index.js";
import type { ExportRow } from "../../src/store/store.js";
import { EmbeddingTestServer } from "../../src/testing/embedding-server.js";
import { collect, runCli, spawnCli, tempDir } from "../helpers/cli.js";
import { makeCorpus, writeJsonl } from "../helpers/corpus.js";
import { PrivatePostgres } from "../helpers/private-postgres.js";
import { testSeed } from "../helpers/seed.js";
import { expectCompleteExport } from "../helpers/store.js";

const unavailable = PrivatePostgres.unavailable();
if (unavailable && process.env.CI)
  throw new Error(`the database restart test must run under CI: ${unavailable}`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Documents settled so far, read on a connection of the test's own (none while the server is down). */
async function settled(url: string, schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ n: string }>(
      `SELECT COUNT(*) AS n FROM "${schema}".documents WHERE state IN ('done', 'degraded', 'failed')`,
    );
    return Number(rows[0]!.n);
  } catch {
    return 0;
  } finally {
    await client.end().catch(() => {});
  }
}

describe.skipIf(unavailable !== null)("a database restart under running workers (private Postgres)", () => {
  const server = new PrivatePostgres();
  let embeddings: EmbeddingTestServer;
  let embedUrl: string;
  beforeAll(async () => {
    await server.start();
    embeddings = new EmbeddingTestServer({ latencyMs: 4 });
    embedUrl = await embeddings.start();
  }, 120_000);
  afterAll(async () => {
    await embeddings?.stop();
    await server.stop();
  });

  it("two `run --store` processes ride out `pg_ctl restart`: both exit 0, every chunk exactly once", async () => {
    const random = seededRandom(testSeed("database restart under two runs"));
    const dir = tempDir();
    const input = path.join(dir, "c.jsonl");
    const docs = makeCorpus({ count: 2_500, seed: 41, largeShare: 0.01 });
    writeJsonl(input, docs);
    const schema = "restart";
    const storeUrl = `${server.url}?schema=${schema}`;
    const args = [
      "run",
      input,
      "--store",
      storeUrl,
      "--batch-id",
      "r",
      "--embed-url",
      embedUrl,
      "--embed-batch-size",
      "8",
      "--concurrency",
      "4",
      "--lease-ms",
      "5000",
      "--no-progress",
      "--json",
    ];
    const runners = [0, 1].map(() => {
      const child = spawnCli(args);
      return collect(child);
    });
    // Restart at a random moment: possibly while the runs connect, plan or process.
    const target = Math.floor(random() * 0.7 * docs.length);
    const deadline = Date.now() + 120_000;
    while ((await settled(server.url, schema)) < target && Date.now() < deadline) await sleep(50);
    await server.restart();
    const results = await Promise.all(runners);
    for (const result of results) {
      expect(result.code, result.stderr.slice(-3_000)).toBe(0);
      expect(result.stderr).not.toMatch(/\n\s+at |severity|RangeError/);
    }
    // The outage was seen and said: at least one run was working when the server went away.
    if (target > 0) {
      expect(results.map((r) => r.stderr).join("\n")).toMatch(/the store is unreachable .*retrying/);
    }

    const store = new PostgresStore({ url: storeUrl, poolSize: 2 });
    await store.open();
    try {
      const rows = await completeExport(store, "r", docs);
      const pairs = new Set(rows.map((r) => `${r.doc_id}\u0000${r.chunk_index}`));
      expect(pairs.size).toBe(rows.length);
      expect(await store.counts("r")).toMatchObject({ total: docs.length, pending: 0, processing: 0 });
      const staged = await new pg.Pool({ connectionString: server.url, max: 1 });
      try {
        const { rows: left } = await staged.query(`SELECT COUNT(*)::int AS n FROM "${schema}".staged_chunks`);
        expect(left[0].n).toBe(0);
      } finally {
        await staged.end();
      }
    } finally {
      await store.close();
    }
    const report = JSON.parse(
      (await runCli(["report", "--batch-id", "r", "--store", storeUrl, "--json"])).stdout,
    );
    expect(report.dup_rate).toBe(0);
    expect(report.counts.done + report.counts.degraded).toBe(docs.length);
  }, 300_000);

  it("a store down longer than --store-retry-ms: exit 1 with STORE_UNAVAILABLE only; the same command then resumes", async () => {
    const dir = tempDir();
    const input = path.join(dir, "c.jsonl");
    const docs = makeCorpus({ count: 1_500, seed: 43, largeShare: 0 });
    writeJsonl(input, docs);
    const schema = "outage";
    const storeUrl = `${server.url}?schema=${schema}`;
    const command = ["run", input, "--store", storeUrl, "--batch-id", "o", "--embed-url", embedUrl];
    const args = [...command, "--concurrency", "2", "--store-retry-ms", "3000", "--no-progress", "--json"];
    const running = collect(spawnCli(args));
    while ((await settled(server.url, schema)) < 200) await sleep(20);
    const stoppedAt = Date.now();
    await server.halt();
    const down = await running;
    console.log(`the run gave up ${Date.now() - stoppedAt} ms after the server stopped`);
    await server.resume();
    expect(down.code, down.stderr.slice(-2_000)).toBe(1);
    // It waited for the bound before giving up, and said it was waiting.
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(3_000);
    const lines = down.stderr.trim().split("\n");
    expect(lines[0]).toMatch(/^docbatch: the store is unreachable \(.*\); retrying$/);
    const body = JSON.parse(lines.at(-1)!) as { error: { code: string; message: string; hints: string[] } };
    expect(body.error.code).toBe("STORE_UNAVAILABLE");
    expect(body.error.message).toMatch(/unreachable for \d+ s/);
    expect(body.error.hints.join(" ")).toMatch(/run the same command again/);
    expect(down.stderr).not.toMatch(/\n\s+at |severity|errno/);
    expect(lines).toHaveLength(2);

    const again = await runCli([...command, "--concurrency", "2", "--no-progress", "--json"]);
    expect(again.code, again.stderr.slice(-2_000)).toBe(0);
    const report = JSON.parse(again.stdout);
    expect(report.counts).toMatchObject({ total: docs.length, pending: 0, processing: 0 });
    expect(report.dup_rate).toBe(0);
    const store = new PostgresStore({ url: storeUrl, poolSize: 1 });
    await store.open();
    try {
      const _rows = await completeExport(store, "o", docs);
    } finally {
      await store.close();
    }
  }, 300_000);
});

/** The batch's export, checked to hold every document of `docs` completely. */
async function completeExport(
  store: PostgresStore,
  batchId: string,
  docs: { id: string }[],
): Promise<ExportRow[]> {
  const rows: ExportRow[] = [];
  for await (const row of store.exportChunks(batchId)) rows.push(row);
  expectCompleteExport(
    rows,
    docs.map((d) => d.id),
  );
  return rows;
}
