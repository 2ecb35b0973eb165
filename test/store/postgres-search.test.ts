import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalEmbedder } from "../../src/pipeline/embed/local.js";
import { encodeVector } from "../../src/store/codec.js";
import { PostgresStore } from "../../src/store/postgres/index.js";
import type { ClaimedDocument, Outcome } from "../../src/store/store.js";
import { sharedPglite, startPglite } from "../helpers/pglite.js";
import { dropSchemas, freshSchemaUrl, pgUrl } from "../helpers/postgres.js";
import { plannedText, startTestRun } from "./conformance-setup.js";
import { indexConformance } from "./index-conformance.js";

/**
 * Search in the Postgres store: through pgvector's HNSW index where the extension can be had
 * (PGlite with pgvector: the Postgres of these tests has none), and by an exact scan, which the
 * answer names, where it cannot.
 */

const embedder = new LocalEmbedder(64);
const vectorOf = async (text: string) => (await embedder.embed([text], AbortSignal.timeout(5_000)))[0]!;
const WORDS =
  "amber basalt cedar dune ember fjord glacier harbor iris juniper kelp lagoon marsh nectar onyx prairie quartz reef sage tundra".split(
    " ",
  );

/** Three chunks of distinct words for document `i` of a version `v`. */
const textsOf = (i: number, v = 0): string[] =>
  [0, 1, 2].map((j) => {
    const at = (n: number) => WORDS[(i * 7 + j * 3 + v * 5 + n * 11) % WORDS.length]!;
    return `${at(0)} ${at(1)} ${at(2)} ${i}-${j}-${v}`;
  });

/** Plans `count` documents (version `v` of their content) and commits their chunks with vectors. */
async function ingest(
  store: PostgresStore,
  batchId: string,
  count: number,
  v = 0,
  sync: "accumulate" | "full" = "accumulate",
  embed = vectorOf,
) {
  const cursor = await store.beginPlan({
    batchId,
    layer: "layer",
    settings: {},
    inputRef: "mem",
    fingerprint: `fp-${v}-${count}-${sync}`,
    sync,
  });
  const docs = Array.from({ length: count }, (_, i) =>
    plannedText(i, "layer", { content: textsOf(i, v).join("\n"), metadata: { i } }),
  );
  const generation = cursor.batch.planGeneration;
  await store.planDocuments(batchId, generation, docs, { records: count, offset: count });
  await store.finishPlan(batchId, generation);
  const run = await startTestRun(store, batchId);
  const commit = (outcomes: Outcome[], claim: number) =>
    store.commit({ run, outcomes, progress: [], claim, leaseMs: 30_000, now: Date.now() });
  const { claimed } = await commit([], count);
  const outcomes = await Promise.all(claimed.map((d) => completed(d, v, embed)));
  const result = await commit(outcomes, 0);
  expect(result.accepted.every(Boolean)).toBe(true);
}

async function completed(
  doc: ClaimedDocument,
  v: number,
  embed: (text: string) => Promise<Float32Array>,
): Promise<Outcome> {
  const texts = textsOf(Number(doc.docId.slice(1)), v);
  return {
    kind: "completed",
    doc,
    degraded: null,
    chunks: await Promise.all(
      texts.map(async (text, index) => ({ index, text, embedding: await embed(text) })),
    ),
    startedAt: Date.now() - 5,
    timings: {},
  };
}

async function query<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

const count = async (url: string, sql: string, params: unknown[] = []) =>
  Number((await query<{ n: string }>(url, `SELECT COUNT(*) AS n FROM ${sql}`, params))[0]!.n);

/** Chunks with a vector, and rows of the index: equal whenever the index is fresh. */
const vectorCounts = async (url: string, batchId: string) => ({
  chunks: await count(
    url,
    "chunks c JOIN documents d ON d.row = c.row WHERE d.batch_id = $1 AND c.embedding IS NOT NULL",
    [batchId],
  ),
  index: await count(url, "chunk_vectors WHERE batch_id = $1", [batchId]),
});

describe("Postgres search through pgvector (PGlite)", () => {
  // The store keeps one connection (PGlite has one session, which its socket shares); the second
  // is the test's own, to look at the tables, and lets the next store connect while a closed
  // store's connection is still going.
  const server = sharedPglite({ maxConnections: 2 });
  let store: PostgresStore;
  beforeEach(async () => {
    // PGlite applies no per-connection search path: every store works in `public`, so each test
    // starts from an empty database.
    await query(server.url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    store = new PostgresStore({ url: server.url, poolSize: 1 });
    await store.open();
  });
  afterEach(async () => {
    await store.close();
  });

  it("serves a query equal to a chunk's text from the HNSW index, that chunk first, within its batch", async () => {
    await ingest(store, "b", 30);
    // The same texts in another batch: the batch filter keeps them out of b's answer.
    await ingest(store, "other", 30);
    for (const i of [0, 7, 29]) {
      const text = textsOf(i)[1]!;
      const result = await store.search("b", await vectorOf(text), 5);
      expect(result.index).toBe("pgvector");
      expect(result.hits).toHaveLength(5);
      expect(result.hits[0]).toMatchObject({ doc_id: `d${i}`, chunk_index: 1, text });
      expect(result.hits[0]!.score).toBeCloseTo(1, 5);
      const keys = await query<{ out_key: string }>(
        server.url,
        "SELECT out_key FROM documents WHERE batch_id = 'b'",
      );
      const ofB = new Set(keys.map((k) => k.out_key));
      for (const hit of result.hits) expect(ofB.has(hit.idempotency_key.replace(/:\d+$/, ""))).toBe(true);
    }
    // Fewer vectors in the batch than asked for: all of them, still from pgvector.
    const all = await store.search("b", await vectorOf(textsOf(3)[0]!), 1_000);
    expect(all.index).toBe("pgvector");
    expect(all.hits).toHaveLength(90);
    expect(await vectorCounts(server.url, "b")).toEqual({ chunks: 90, index: 90 });
    const indexes = await query<{ indexname: string }>(
      server.url,
      "SELECT indexname FROM pg_indexes WHERE tablename = 'chunk_vectors' AND indexname LIKE '%hnsw%'",
    );
    expect(indexes.map((r) => r.indexname)).toEqual(["chunk_vectors_hnsw_64"]);
  });

  it("drops a replaced document's old chunks from the index in the commit that replaces them", async () => {
    await ingest(store, "b", 10);
    const old = textsOf(4)[0]!;
    expect((await store.search("b", await vectorOf(old), 5)).hits[0]!.text).toBe(old);
    await ingest(store, "b", 10, 1);
    const result = await store.search("b", await vectorOf(old), 30);
    expect(result.index).toBe("pgvector");
    expect(result.hits).toHaveLength(30);
    const texts = result.hits.map((h) => h.text);
    for (let i = 0; i < 10; i++) for (const t of textsOf(i)) expect(texts).not.toContain(t);
    const fresh = textsOf(4, 1)[2]!;
    expect((await store.search("b", await vectorOf(fresh), 5)).hits[0]!.text).toBe(fresh);
    expect(await vectorCounts(server.url, "b")).toEqual({ chunks: 30, index: 30 });
  });

  it("removes the vectors of deleted documents and of a purged batch", async () => {
    await ingest(store, "b", 10);
    await ingest(store, "keep", 4);
    // A full sync of the first 6 documents deletes the other 4, chunks and vectors.
    await ingest(store, "b", 6, 0, "full");
    expect(await vectorCounts(server.url, "b")).toEqual({ chunks: 18, index: 18 });
    const gone = textsOf(8)[0]!;
    expect((await store.search("b", await vectorOf(gone), 30)).hits.map((h) => h.text)).not.toContain(gone);
    expect(await store.retireBatch("b", Date.now())).toBe(6);
    expect(await vectorCounts(server.url, "b")).toEqual({ chunks: 0, index: 0 });
    expect((await store.search("b", await vectorOf(gone), 5)).hits).toEqual([]);
    expect(await store.purgeBatch("keep")).toBe(true);
    expect(await count(server.url, "chunk_vectors")).toBe(0);
  });

  it("keeps a vector pgvector cannot hold (not finite) out of the ranking, and the rest searchable", async () => {
    const broken = textsOf(1)[1]!;
    const nan = new Float32Array(64).fill(Number.NaN);
    await ingest(store, "b", 3, 0, "accumulate", async (t) => (t === broken ? nan : vectorOf(t)));
    const text = textsOf(2)[0]!;
    const result = await store.search("b", await vectorOf(text), 100);
    expect(result.index).toBe("pgvector");
    expect(result.hits[0]).toMatchObject({ doc_id: "d2", chunk_index: 0, text });
    expect(result.hits.map((h) => h.text)).not.toContain(broken);
    expect(result.hits).toHaveLength(8);
    expect(await count(server.url, "chunk_vectors WHERE embedding IS NULL")).toBe(1);
  });

  it("scans exactly, and says so, after chunks were written without the index, until a store refills it", async () => {
    await ingest(store, "b", 5);
    // A process that opened the store before pgvector was installed writes a chunk the index lacks.
    const text = "zephyr yonder xylem";
    const [d2] = await query<{ row: number }>(server.url, "SELECT row FROM documents WHERE doc_id = 'd2'");
    await query(server.url, "INSERT INTO chunks (row, chunk_index, text, embedding) VALUES ($1, 3, $2, $3)", [
      d2!.row,
      text,
      encodeVector(await vectorOf(text)),
    ]);
    const stale = await store.search("b", await vectorOf(text), 3);
    expect(stale.index).toBe("exact-scan");
    expect(stale.hits[0]).toMatchObject({ doc_id: "d2", chunk_index: 3, text });
    await store.close();
    store = new PostgresStore({ url: server.url, poolSize: 1 });
    await store.open();
    const refilled = await store.search("b", await vectorOf(text), 3);
    expect(refilled.index).toBe("pgvector");
    expect(refilled.hits[0]).toMatchObject({ doc_id: "d2", chunk_index: 3, text });
    expect(await vectorCounts(server.url, "b")).toEqual({ chunks: 16, index: 16 });
  });
});

describe("Postgres search on a database that gains pgvector (PGlite)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "docbatch-pgsearch-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("scans exactly without pgvector, then fills the index when a store opens with it", async () => {
    const text = textsOf(5)[2]!;
    const before = await startPglite({ dataDir, pgvector: false, maxConnections: 2 });
    try {
      const store = new PostgresStore({ url: before.url, poolSize: 1 });
      await store.open();
      await ingest(store, "b", 12);
      const result = await store.search("b", await vectorOf(text), 5);
      await store.close();
      expect(result.index).toBe("exact-scan");
      expect(result.hits[0]).toMatchObject({ doc_id: "d5", chunk_index: 2, text });
      const [made] = await query<{ table: string | null; triggers: string }>(
        before.url,
        "SELECT to_regclass('chunk_vectors')::text AS table, (SELECT COUNT(*) FROM pg_trigger WHERE NOT tgisinternal) AS triggers",
      );
      expect(made).toEqual({ table: null, triggers: "0" });
    } finally {
      await before.close();
    }
    const after = await startPglite({ dataDir, maxConnections: 2 });
    try {
      const store = new PostgresStore({ url: after.url, poolSize: 1 });
      await store.open();
      const result = await store.search("b", await vectorOf(text), 5);
      await store.close();
      expect(result.index).toBe("pgvector");
      expect(result.hits[0]).toMatchObject({ doc_id: "d5", chunk_index: 2, text });
      expect(await vectorCounts(after.url, "b")).toEqual({ chunks: 36, index: 36 });
    } finally {
      await after.close();
    }
  }, 240_000);
});

describe("Postgres search without pgvector (DOCBATCH_PG_URL)", () => {
  const url = pgUrl();
  const schemas: string[] = [];
  afterAll(async () => {
    if (url) await dropSchemas(url, schemas);
  });

  it.skipIf(!url)("scans the batch's vectors exactly and says so, with no index table", async () => {
    const fresh = freshSchemaUrl(url!, "pgsearch");
    schemas.push(fresh.schema);
    const store = new PostgresStore({ url: fresh.url, poolSize: 2 });
    await store.open();
    try {
      await ingest(store, "b", 12);
      const text = textsOf(9)[0]!;
      const result = await store.search("b", await vectorOf(text), 5);
      expect(result.index).toBe("exact-scan");
      expect(result.hits[0]).toMatchObject({ doc_id: "d9", chunk_index: 0, text });
    } finally {
      await store.close();
    }
    const [state] = await query<{ table: string | null; stale: boolean }>(
      url!,
      `SELECT to_regclass('"${fresh.schema}".chunk_vectors')::text AS table,
         (SELECT stale FROM "${fresh.schema}".search_index_state) AS stale`,
    );
    expect(state).toEqual({ table: null, stale: true });
  });
});

describe("Index conformance on PGlite with pgvector", () => {
  const server = sharedPglite({ maxConnections: 2 });
  indexConformance("postgres with pgvector (PGlite)", async () => {
    await query(server.url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    return new PostgresStore({ url: server.url, poolSize: 1 });
  });
});
