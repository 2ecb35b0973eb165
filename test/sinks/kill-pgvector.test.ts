import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { LocalEmbedder } from "../../src/pipeline/embed/local.js";
import { runArgs } from "../helpers/args.js";
import { runCli, tempDir } from "../helpers/cli.js";
import { killCorpus } from "../helpers/corpus.js";
import { sharedPglite } from "../helpers/pglite.js";
import { exportedTexts, killAtRandom, pickKeys, sortedEntries, verifySink } from "../helpers/sink-checks.js";

const pglite = sharedPglite();

async function tableTexts(url: string, table: string, batchId: string): Promise<Map<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ key: string; text: string }>(
      `SELECT key, text FROM ${table} WHERE batch_id = $1`,
      [batchId],
    );
    return new Map(rows.map((r) => [r.key, r.text]));
  } finally {
    await client.end();
  }
}

/**
 * The acceptance run of the pgvector sink, against a real pgvector (PGlite's, over a socket):
 * random SIGKILLs mid-run, then the table holds exactly the export; verify finds nothing; seven
 * rows deleted behind docbatch's back are found and restored by --repair.
 */
describe("pgvector sink under SIGKILL", () => {
  it("holds exactly the export after random kills, and verify --repair restores deleted rows", async () => {
    const { dir, input, db, docs, random } = killCorpus("pgvector sink kills", "docbatch-kill-pgvector-");
    const sink = `pgvector:${pglite.url}?table=rag_chunks`;
    const store = ["--db", db];
    const args = runArgs(input, {
      db,
      batchId: "k",
      // Large chunks: PGlite runs Postgres in WebAssembly, where an HNSW insert takes ~10 ms.
      chunkSize: 4000,
      concurrency: 8,
      sink,
      sinkWaitMs: 300000,
    });

    const kills = await killAtRandom(args, db, "k", docs.length, random, 4);
    expect(kills).toBeGreaterThanOrEqual(2);
    const final = await runCli([...args, "--log-file", path.join(dir, "final.log")]);
    expect(final.code, `${final.stderr}\n${JSON.stringify(JSON.parse(final.stdout || "{}").sinks)}`).toBe(0);
    expect(JSON.parse(final.stdout).sinks).toEqual([expect.objectContaining({ lag: 0, last_error: null })]);

    const exported = await exportedTexts(store, "k");
    expect(sortedEntries(await tableTexts(pglite.url, "rag_chunks", "k"))).toEqual(sortedEntries(exported));
    const verify = (...extra: string[]) => verifySink(store, "k", sink, ...extra);
    expect(await verify()).toMatchObject({
      code: 0,
      body: { expected: exported.size, missing: 0, extra: 0, mismatched: 0 },
    });

    const client = new pg.Client({ connectionString: pglite.url });
    await client.connect();
    const removed = pickKeys(exported, 7, random);
    const keys = [...exported.keys()];
    await client.query("DELETE FROM rag_chunks WHERE key = ANY($1)", [[...removed]]);
    // And one row changed behind docbatch's back: a different text for the same key.
    await client.query("UPDATE rag_chunks SET text = 'tampered' WHERE key = $1", [
      keys.find((k) => !removed.has(k)),
    ]);
    await client.end();
    expect(await verify()).toMatchObject({ code: 3, body: { missing: 7, extra: 0, mismatched: 1 } });
    expect(await verify("--repair")).toMatchObject({
      code: 0,
      body: { missing: 0, extra: 0, mismatched: 0, repaired: 8 },
    });
    expect(sortedEntries(await tableTexts(pglite.url, "rag_chunks", "k"))).toEqual(sortedEntries(exported));
  }, 900_000);
});

describe("README: from ingestion to retrieval", () => {
  it("takes a folder to a search result and to a pgvector table in three commands", async () => {
    const dir = tempDir("docbatch-retrieval-");
    const docs = path.join(dir, "docs");
    fs.mkdirSync(docs);
    fs.writeFileSync(
      path.join(docs, "passwords.md"),
      "# Passwords\n\nTo reset your password, open Settings and choose Reset.",
    );
    fs.writeFileSync(path.join(docs, "billing.txt"), "Invoices are sent on the first day of every month.");
    fs.writeFileSync(
      path.join(docs, "travel.txt"),
      "Book trains at least two weeks ahead for the best fares.",
    );
    const sink = `pgvector:${pglite.url}?table=handbook_chunks`;
    const run = await runCli(["run", docs, "--batch-id", "handbook", "--sink", sink, "--no-progress"], {
      cwd: dir,
    });
    expect(run.code, run.stderr).toBe(0);
    const search = await runCli(
      ["search", "how do I reset my password", "--batch-id", "handbook", "--json"],
      { cwd: dir },
    );
    expect(search.code, search.stderr).toBe(0);
    expect(JSON.parse(search.stdout).results[0].doc_id).toBe("passwords.md");
    // The application's query, on the table the first command filled.
    const [query] = await new LocalEmbedder(256).embed(
      ["how do I reset my password"],
      new AbortController().signal,
    );
    const client = new pg.Client({ connectionString: pglite.url });
    await client.connect();
    const { rows } = await client.query<{ doc_id: string }>(
      "SELECT doc_id FROM handbook_chunks ORDER BY embedding <=> $1::vector LIMIT 1",
      [`[${Array.from(query!).join(",")}]`],
    );
    await client.end();
    expect(rows[0]!.doc_id).toBe("passwords.md");
  }, 120_000);
});
