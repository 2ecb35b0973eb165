import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { errorOf, jsonLines, runCli, tempDir } from "../helpers/cli.js";
import { makeCorpus, writeJsonl } from "../helpers/corpus.js";
import { dropSchemas, freshSchemaUrl, pgUrl } from "../helpers/postgres.js";
import { startServeProcess } from "../helpers/serve.js";

const pg = pgUrl();
const schemas: string[] = [];
afterAll(async () => {
  if (pg) await dropSchemas(pg, schemas);
});

interface Hit {
  doc_id: string;
  chunk_index: number;
  score: number;
  text: string;
  idempotency_key: string;
  metadata: Record<string, unknown>;
}

/** Runs a small batch in the store named by `storeArgs` and returns some chunks of its export. */
async function ingest(storeArgs: string[]) {
  const dir = tempDir("docbatch-search-");
  const input = path.join(dir, "corpus.jsonl");
  writeJsonl(input, makeCorpus({ count: 60, seed: 3 }));
  const run = await runCli([
    "run",
    input,
    ...storeArgs,
    "--batch-id",
    "s",
    "--no-progress",
    "--chunk-size",
    "300",
  ]);
  expect(run.code, run.stderr).toBe(0);
  const exported = await runCli(["export", "--batch-id", "s", ...storeArgs]);
  const rows = jsonLines(exported.stdout) as {
    idempotency_key: string;
    text: string;
    doc_id: string;
    chunk_index: number;
  }[];
  // Chunks whose text is unique in the batch, so "that chunk first" is well defined.
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.text, (counts.get(r.text) ?? 0) + 1);
  const unique = rows.filter((r) => counts.get(r.text) === 1);
  return [0, 0.3, 0.6, 0.95].map((share) => unique[Math.floor(share * (unique.length - 1))]!);
}

async function expectSearchFinds(storeArgs: string[], index: string[]) {
  const samples = await ingest(storeArgs);
  expect(samples.length).toBeGreaterThan(3);
  for (const sample of samples) {
    const result = await runCli([
      "search",
      sample.text,
      "--batch-id",
      "s",
      ...storeArgs,
      "--json",
      "--k",
      "3",
    ]);
    expect(result.code, result.stderr).toBe(0);
    const body = JSON.parse(result.stdout) as {
      batch_id: string;
      query: string;
      results: Hit[];
      index: string;
    };
    expect(body).toMatchObject({ batch_id: "s", query: sample.text });
    expect(index).toContain(body.index);
    expect(body.results).toHaveLength(3);
    expect(body.results[0]).toMatchObject({ idempotency_key: sample.idempotency_key, doc_id: sample.doc_id });
    expect(body.results[0]!.score).toBeCloseTo(1, 4);
    expect(body.results[1]!.score).toBeLessThanOrEqual(body.results[0]!.score);
  }
  const missing = await runCli(["search", "anything", "--batch-id", "nope", ...storeArgs]);
  expect(missing.code).toBe(2);
  expect(errorOf(missing).code).toBe("BATCH_NOT_FOUND");
}

describe("docbatch search", () => {
  it("finds a chunk from its own text first, in the SQLite store (sqlite-vec)", async () => {
    const db = path.join(tempDir("docbatch-search-db-"), "s.db");
    await expectSearchFinds(["--db", db], ["sqlite-vec"]);
  }, 120_000);

  it.skipIf(!pg)(
    "finds a chunk from its own text first, in the Postgres store",
    async () => {
      const { url, schema } = freshSchemaUrl(pg!, "search");
      schemas.push(schema);
      await expectSearchFinds(["--store", url], ["pgvector", "exact-scan"]);
    },
    120_000,
  );

  it("answers over HTTP, with the contract's errors", async () => {
    const db = path.join(tempDir("docbatch-search-http-"), "s.db");
    const samples = await ingest(["--db", db]);
    const server = await startServeProcess(["--db", db]);
    try {
      const sample = samples[0]!;
      const response = await fetch(
        `${server.url}/v1/batches/s/search?q=${encodeURIComponent(sample.text)}&k=2`,
      );
      expect(response.status).toBe(200);
      const body = (await response.json()) as { results: Hit[]; query: string };
      expect(body.query).toBe(sample.text);
      expect(body.results).toHaveLength(2);
      expect(body.results[0]!.idempotency_key).toBe(sample.idempotency_key);
      const unknown = await fetch(`${server.url}/v1/batches/nope/search?q=x`);
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("BATCH_NOT_FOUND");
      const bad = await fetch(`${server.url}/v1/batches/s/search?k=0`);
      expect(bad.status).toBe(400);
      const error = ((await bad.json()) as { error: { details: { path: string }[] } }).error;
      expect(error.details.map((d) => d.path).sort()).toEqual(["k", "q"]);
      const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
        paths: Record<string, unknown>;
      };
      expect(spec.paths["/v1/batches/{id}/search"]).toBeDefined();
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
    }
  }, 120_000);
});
