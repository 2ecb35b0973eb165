import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddingTestServer } from "../../src/testing/embedding-server.js";
import { runCli, tempDir } from "../helpers/cli.js";
import { makeCorpus, writeJsonl } from "../helpers/corpus.js";
import { dropSchemas, freshSchemaUrl, pgUrl } from "../helpers/postgres.js";

const url = pgUrl();

/**
 * Large documents stage their chunks and vectors as their embedding requests come back; once a
 * document completes, its staged rows must go, whether it staged in an earlier run or this one.
 */
describe("staged chunks of large documents", () => {
  let server: EmbeddingTestServer;
  let embedUrl: string;
  let input: string;
  let dir: string;
  const schemas: string[] = [];
  beforeAll(async () => {
    server = new EmbeddingTestServer({ latencyMs: 2 });
    embedUrl = await server.start();
    dir = tempDir();
    input = path.join(dir, "large.jsonl");
    // Every document is 50-200 KB: hundreds of chunks, many requests of 4 texts each.
    writeJsonl(input, makeCorpus({ count: 12, seed: 4, largeShare: 1 }));
  });
  afterAll(async () => {
    await server.stop();
    if (url) await dropSchemas(url, schemas);
  });

  const args = ["--embed-url", "", "--embed-batch-size", "4", "--no-progress", "--json", "--batch-id", "s"];
  const withUrl = () => args.map((a, i) => (i === 1 ? embedUrl : a));

  it("leave no staged row in the SQLite store", async () => {
    const db = path.join(dir, "s.db");
    const result = await runCli(["run", input, "--db", db, ...withUrl()]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).counts).toMatchObject({ total: 12, done: 12 });
    const store = new Database(db, { readonly: true });
    try {
      expect(store.prepare("SELECT COUNT(*) AS n FROM staged_chunks").get()).toEqual({ n: 0 });
      expect(store.prepare("SELECT COUNT(*) AS n FROM documents WHERE has_staged = 1").get()).toEqual({
        n: 0,
      });
      expect((store.prepare("SELECT COUNT(*) AS n FROM chunks").get() as { n: number }).n).toBeGreaterThan(
        12 * 10,
      );
    } finally {
      store.close();
    }
  }, 120_000);

  it.skipIf(!url)(
    "leave no staged row in the Postgres store",
    async () => {
      const { url: storeUrl, schema } = freshSchemaUrl(url!, "staged");
      schemas.push(schema);
      const result = await runCli(["run", input, "--store", storeUrl, ...withUrl()]);
      expect(result.code, result.stderr).toBe(0);
      const client = new pg.Client({ connectionString: url! });
      await client.connect();
      try {
        const staged = await client.query(`SELECT COUNT(*)::int AS n FROM "${schema}".staged_chunks`);
        expect(staged.rows[0].n).toBe(0);
        const chunks = await client.query(`SELECT COUNT(*)::int AS n FROM "${schema}".chunks`);
        expect(chunks.rows[0].n).toBeGreaterThan(12 * 10);
      } finally {
        await client.end();
      }
    },
    120_000,
  );
});
