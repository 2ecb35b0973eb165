import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddingTestServer } from "../../src/testing/embedding-server.js";
import { jsonLines, runCli, tempDir } from "../helpers/cli.js";
import { dropSchemas, freshSchemaUrl, pgUrl } from "../helpers/postgres.js";
import { peekSqlite } from "../helpers/store.js";

const url = pgUrl();

interface Doc {
  id: string;
  content: string;
  metadata: Record<string, unknown>;
}

/** Documents of 2–6 paragraphs, each paragraph a sentence with words of its own. */
function documents(count: number): Doc[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `doc-${i}`,
    content: Array.from(
      { length: 2 + (i % 5) },
      (_, p) => `Paragraph ${p} of document ${i} speaks of topic t${i}x${p} and of nothing else at all.`,
    ).join("\n\n"),
    metadata: { version: 1, team: `t${i % 3}` },
  }));
}

function writeInput(file: string, docs: Doc[]): string {
  fs.writeFileSync(file, JSON.stringify({ documents: docs }));
  return file;
}

/**
 * The embedding cache through the CLI, against a real HTTP embedding server that counts every
 * text it answers: what is sent is what the cache did not hold, nothing more and nothing less.
 */
describe("embedding cache", () => {
  let server: EmbeddingTestServer;
  let dir: string;
  const schemas: string[] = [];
  beforeAll(async () => {
    server = new EmbeddingTestServer({ latencyMs: 1 });
    await server.start();
    dir = tempDir("docbatch-cache-");
  });
  afterAll(async () => {
    await server.stop();
    if (url) await dropSchemas(url, schemas);
  });

  /** A run against the server; returns its report and the texts the server answered in it. */
  async function run(input: string, store: string[], extra: string[] = [], embedUrl = server.url) {
    server.reset();
    const args = ["run", input, ...store, "--embed-url", embedUrl, "--chunk-size", "120", "--no-progress"];
    const result = await runCli([...args, "--json", ...extra]);
    expect(result.code, result.stderr).toBe(0);
    return { report: JSON.parse(result.stdout), sent: server.stats().textsOk };
  }

  async function exportOf(store: string[], batchId: string) {
    const result = await runCli(["export", ...store, "--batch-id", batchId]);
    expect(result.code, result.stderr).toBe(0);
    return jsonLines(result.stdout);
  }

  it("embeds nothing for a metadata-only change of 200 documents, and exports the new metadata", async () => {
    const store = ["--db", path.join(dir, "meta.db")];
    const docs = documents(260);
    const first = await run(writeInput(path.join(dir, "meta-1.json"), docs), store, ["--batch-id", "m"]);
    expect(first.sent).toBe(first.report.texts_embedded);
    expect(first.sent).toBeGreaterThan(260);
    const changed = docs.map((d, i) => (i < 200 ? { ...d, metadata: { ...d.metadata, version: 2 } } : d));
    const second = await run(writeInput(path.join(dir, "meta-2.json"), changed), store, ["--batch-id", "m"]);
    expect(second.sent).toBe(0);
    expect(second.report.counts).toMatchObject({ done: 260, unchanged_skipped: 60 });
    expect(second.report.texts_embedded).toBe(first.report.texts_embedded);
    const rows = await exportOf(store, "m");
    const versions = new Map(rows.map((r) => [r.doc_id, (r.metadata as { version: number }).version]));
    expect(versions.get("doc-0")).toBe(2);
    expect(versions.get("doc-199")).toBe(2);
    expect(versions.get("doc-200")).toBe(1);
    expect(second.report.cache_hits).toBe(rows.filter((r) => versions.get(r.doc_id as string) === 2).length);
  }, 300_000);

  it("re-embeds only the changed chunks of a changed document", async () => {
    const store = ["--db", path.join(dir, "changed.db")];
    const docs = documents(20);
    await run(writeInput(path.join(dir, "changed-1.json"), docs), store, ["--batch-id", "c"]);
    const before = new Set((await exportOf(store, "c")).map((r) => r.text as string));
    const edited = docs.map((d, i) =>
      i === 4 ? { ...d, content: d.content.replace("Paragraph 3 of", "Paragraph three of") } : d,
    );
    const second = await run(writeInput(path.join(dir, "changed-2.json"), edited), store, [
      "--batch-id",
      "c",
    ]);
    const after = await exportOf(store, "c");
    const fresh = new Set(after.map((r) => r.text as string).filter((t) => !before.has(t)));
    expect(fresh.size).toBeGreaterThan(0);
    expect(after.filter((r) => r.doc_id === "doc-4").length).toBeGreaterThan(fresh.size);
    expect(second.sent).toBe(fresh.size);
    expect(second.report.counts).toMatchObject({ done: 20, unchanged_skipped: 19 });
  }, 300_000);

  it("embeds each text once over two batches of the same documents, and every text with --no-cache", async () => {
    const store = ["--db", path.join(dir, "two.db")];
    const input = writeInput(path.join(dir, "two.json"), documents(40));
    const first = await run(input, store, ["--batch-id", "one"]);
    const second = await run(input, store, ["--batch-id", "two"]);
    expect(second.sent).toBe(0);
    expect(second.report).toMatchObject({ texts_embedded: 0, cache_hits: first.sent, cache_hit_rate: 1 });
    const third = await run(input, store, ["--batch-id", "three", "--no-cache"]);
    expect(third.sent).toBe(first.sent);
    expect(third.report.cache_hits).toBe(0);
  }, 300_000);

  it("only sends the texts a new chunk size made new", async () => {
    const store = ["--db", path.join(dir, "resize.db")];
    const input = writeInput(path.join(dir, "resize.json"), documents(30));
    await run(input, store, ["--batch-id", "r"]);
    const before = new Set((await exportOf(store, "r")).map((r) => r.text as string));
    const second = await run(input, store, ["--batch-id", "r", "--chunk-size", "200"]);
    const after = (await exportOf(store, "r")).map((r) => r.text as string);
    const fresh = new Set(after.filter((t) => !before.has(t)));
    expect(second.report.counts).toMatchObject({ done: 30, unchanged_skipped: 0 });
    expect(second.sent).toBe(fresh.size);
    expect(second.sent).toBeLessThan(after.length);
  }, 300_000);

  it("re-embeds without parsing when the endpoint changes under the same model", async () => {
    const other = new EmbeddingTestServer({ latencyMs: 1 });
    await other.start();
    try {
      const store = ["--db", path.join(dir, "endpoint.db")];
      const input = writeInput(path.join(dir, "endpoint.json"), documents(30));
      const first = await run(input, store, ["--batch-id", "e"]);
      // The key of an endpoint leaves credentials out: the same endpoint with a user is unchanged.
      const withUser = server.url.replace("http://", "http://someone:secret@");
      const same = await run(input, store, ["--batch-id", "e"], withUser);
      expect(same.report.counts).toMatchObject({ unchanged_skipped: 30 });
      expect(same.sent).toBe(0);
      // Every parse would fail: only documents that keep their chunk texts complete as `done`.
      other.reset();
      const switched = await run(input, store, ["--batch-id", "e", "--inject", "parse=1"], other.url);
      expect(other.stats().textsOk).toBe(first.sent);
      expect(switched.report.counts).toMatchObject({ done: 30, degraded: 0, unchanged_skipped: 0 });
      expect(switched.report.texts_embedded).toBe(2 * first.sent);
    } finally {
      await other.stop();
    }
  }, 300_000);

  it("gc removes the entries no batch uses any more, and keeps the others", async () => {
    const db = path.join(dir, "gc.db");
    const docs = documents(10);
    await run(writeInput(path.join(dir, "gc-1.json"), docs), ["--db", db], ["--batch-id", "g"]);
    const before = new Set((await exportOf(["--db", db], "g")).map((r) => r.text as string));
    const edited = docs.map((d, i) => (i === 0 ? { ...d, content: "A wholly new text." } : d));
    await run(writeInput(path.join(dir, "gc-2.json"), edited), ["--db", db], ["--batch-id", "g"]);
    const after = new Set((await exportOf(["--db", db], "g")).map((r) => r.text as string));
    const gone = [...before].filter((t) => !after.has(t)).length;
    const gc = await runCli(["gc", "--db", db, "--json", "--older-than", "30d"]);
    expect(gc.code, gc.stderr).toBe(0);
    expect(JSON.parse(gc.stdout)).toEqual({
      cache_entries_removed: gone,
      cache_entries_kept: after.size,
      events_removed: 0,
      failures_removed: 0,
    });
    const again = await run(
      writeInput(path.join(dir, "gc-3.json"), docs),
      ["--db", db],
      ["--batch-id", "g2"],
    );
    expect(again.sent).toBe(gone);
    const bad = await runCli(["gc", "--db", db, "--older-than", "30"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("30d");
  }, 300_000);

  it("counts the built-in embedder's texts but does not cache them, on the CPU threads or not", async () => {
    const input = writeInput(path.join(dir, "local.json"), documents(40));
    const exports: string[] = [];
    for (const threads of ["2", "0"]) {
      const db = path.join(dir, `local-${threads}.db`);
      const result = await runCli([
        "run",
        input,
        "--db",
        db,
        "--threads",
        threads,
        "--no-progress",
        "--json",
      ]);
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout);
      const rows = await exportOf(["--db", db], report.batch_id);
      expect(report).toMatchObject({ texts_embedded: rows.length, cache_hits: 0 });
      expect(peekSqlite(db, (d) => d.prepare("SELECT count(*) AS n FROM embed_cache").get())).toEqual({
        n: 0,
      });
      exports.push(JSON.stringify(rows.map((r) => [r.text, r.embedding])));
    }
    // The threads compute the same vectors as the main thread.
    expect(exports[0]).toBe(exports[1]);
  }, 120_000);

  it.skipIf(!url)(
    "embeds each text once over two batches in a Postgres store",
    async () => {
      const { url: storeUrl, schema } = freshSchemaUrl(url!, "cache");
      schemas.push(schema);
      const store = ["--store", storeUrl];
      const input = writeInput(path.join(dir, "pg.json"), documents(40));
      const first = await run(input, store, ["--batch-id", "one"]);
      expect(first.sent).toBeGreaterThan(40);
      const second = await run(input, store, ["--batch-id", "two"]);
      expect(second.sent).toBe(0);
      expect(second.report).toMatchObject({ texts_embedded: 0, cache_hits: first.sent });
    },
    300_000,
  );
});
