/**
 * Scenario: the index layer. (1) Throughput of a run that delivers to a `jsonl:` sink ÷ the same run
 * without a sink (the outbox is written either way; the run with the sink also waits for it to catch
 * up before it exits), best of a few alternating runs each. (2) Delivery to a `pgvector:` sink on
 * PGlite (Postgres in WebAssembly, with pgvector, over a socket): chunks per second of
 * `docbatch sync` into an empty table with an HNSW index. (3) Search latency at 100,000 chunks in
 * SQLite: p50/p95 of `searchBatch` (query embedding included) through sqlite-vec, and through the
 * exact scan for comparison.
 */
import os from "node:os";
import path from "node:path";
import { percentiles } from "../src/core/stats.js";
import { searchBatch } from "../src/runner/search-batch.js";
import { SqliteStore } from "../src/store/sqlite/index.js";
import { EmbeddingTestServer } from "../src/testing/embedding-server.js";
import { startPglite } from "../test/helpers/pglite.js";
import { writeMixed, writeSmall } from "./corpus.js";
import { best, docbatch, quick, round, tempDir, writeResult } from "./lib.js";

const count = quick ? 5_000 : 20_000;
const rounds = quick ? 3 : 5;
const pgvectorDocs = quick ? 300 : 1_000;
const searchChunks = 100_000;
const queries = quick ? 100 : 300;

async function throughput(dir: string, input: string, extra: string[], tag: string) {
  const plain: number[] = [];
  const withSink: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const p = await docbatch([
      "run",
      input,
      "--db",
      path.join(dir, `${tag}p${r}.db`),
      "--no-progress",
      ...extra,
    ]);
    if (p.code !== 0) throw new Error(`docbatch failed: ${p.stderr}`);
    plain.push(p.wallMs);
    const log = `jsonl:${path.join(dir, `${tag}log${r}.jsonl`)}`;
    const s = await docbatch([
      "run",
      input,
      "--db",
      path.join(dir, `${tag}s${r}.db`),
      "--no-progress",
      "--sink",
      log,
      ...extra,
    ]);
    if (s.code !== 0) throw new Error(`docbatch with a sink failed: ${s.stderr}`);
    withSink.push(s.wallMs);
  }
  return { plain, withSink, ratio: round(best(plain) / best(withSink), 3) };
}

/** The same pair against an embeddings endpoint answering in 20 ms, as a real model does (faster). */
async function throughputWithEndpoint(dir: string, input: string) {
  const server = new EmbeddingTestServer({ latencyMs: 20, dimensions: 256 });
  const url = await server.start();
  try {
    return await throughput(dir, input, ["--embed-url", url], "e");
  } finally {
    await server.stop();
  }
}

async function pgvectorDelivery(dir: string) {
  const input = path.join(dir, "pg.jsonl");
  writeMixed(input, pgvectorDocs);
  const db = path.join(dir, "pg.db");
  const ingest = await docbatch(["run", input, "--db", db, "--batch-id", "pg", "--no-progress", "--json"]);
  if (ingest.code !== 0) throw new Error(`docbatch failed: ${ingest.stderr}`);
  const chunks = await chunkCount(db, "pg");
  const server = await startPglite();
  try {
    const sink = `pgvector:${server.url}?table=bench_chunks`;
    const sync = await docbatch(["sync", "--batch-id", "pg", "--db", db, "--sink", sink, "--json"]);
    if (sync.code !== 0) throw new Error(`sync failed: ${sync.stdout} ${sync.stderr}`);
    return {
      documents: pgvectorDocs,
      chunks,
      wallMs: sync.wallMs,
      chunksPerSecond: round((chunks / sync.wallMs) * 1000, 0),
    };
  } finally {
    await server.close();
  }
}

async function chunkCount(db: string, batchId: string): Promise<number> {
  const store = new SqliteStore({ file: db, readonly: true });
  await store.open();
  let n = 0;
  for await (const _ of store.exportChunks(batchId)) n += 1;
  await store.close();
  return n;
}

async function searchLatency(dir: string) {
  const input = path.join(dir, "small.jsonl");
  writeSmall(input, searchChunks);
  const db = path.join(dir, "search.db");
  const ingest = await docbatch(["run", input, "--db", db, "--batch-id", "s", "--no-progress"]);
  if (ingest.code !== 0) throw new Error(`docbatch failed: ${ingest.stderr}`);
  const chunks = await chunkCount(db, "s");
  const measure = async (vectorIndex: boolean, count: number) => {
    const store = new SqliteStore({ file: db, vectorIndex });
    await store.open();
    const latencies: number[] = [];
    let index = "";
    for (let q = 0; q < count; q++) {
      const started = performance.now();
      const answer = await searchBatch({
        store,
        batchId: "s",
        query: `checkpoint resume lease ${q} vector index`,
        k: 10,
      });
      latencies.push(performance.now() - started);
      index = answer.index;
    }
    await store.close();
    const [p50, p95] = percentiles(latencies, [50, 95]);
    return { index, p50: round(p50!, 2), p95: round(p95!, 2) };
  };
  // The exact scan reads every vector per query: a few queries tell its cost. It runs last, as
  // a store opened without the index marks it stale (the next open with it rebuilds it).
  return { chunks, indexed: await measure(true, queries), exact: await measure(false, 10) };
}

async function main() {
  const dir = tempDir();
  const input = path.join(dir, "mixed.jsonl");
  writeMixed(input, count);
  const t = await throughput(dir, input, [], "l");
  const e = await throughputWithEndpoint(dir, input);
  const pg = await pgvectorDelivery(dir);
  const search = await searchLatency(dir);
  const perSecond = (ms: number) => round((count / ms) * 1000, 0);
  writeResult(
    "sinks",
    {
      documents: count,
      wall_ms: { without_sink: t.plain.map(Math.round), jsonl_sink: t.withSink.map(Math.round) },
      docs_per_second: { without_sink: perSecond(best(t.plain)), jsonl_sink: perSecond(best(t.withSink)) },
      ratio_jsonl_over_none: t.ratio,
      endpoint: {
        wall_ms: { without_sink: e.plain.map(Math.round), jsonl_sink: e.withSink.map(Math.round) },
        docs_per_second: { without_sink: perSecond(best(e.plain)), jsonl_sink: perSecond(best(e.withSink)) },
        ratio_jsonl_over_none: e.ratio,
      },
      pgvector_pglite: pg,
      search,
    },
    {
      title: "The index layer: sinks and search",
      columns: ["measure", "figure"],
      rows: [
        ["run without a sink, documents / s", perSecond(best(t.plain))],
        ["run with a jsonl: sink (caught up at exit), documents / s", perSecond(best(t.withSink))],
        ["with jsonl: ÷ without, built-in embedder (goal ≥ 0.9)", t.ratio],
        ["run without a sink, 20 ms embeddings endpoint, documents / s", perSecond(best(e.plain))],
        ["run with a jsonl: sink, 20 ms embeddings endpoint, documents / s", perSecond(best(e.withSink))],
        ["with jsonl: ÷ without, 20 ms embeddings endpoint (goal ≥ 0.9)", e.ratio],
        [`pgvector: delivery on PGlite, ${pg.chunks} chunks, chunks / s`, pg.chunksPerSecond],
        [
          `search p50 / p95 at ${search.chunks.toLocaleString("en-US")} chunks, sqlite-vec (ms)`,
          `${search.indexed.p50} / ${search.indexed.p95}`,
        ],
        [
          `search p50 / p95 at ${search.chunks.toLocaleString("en-US")} chunks, exact scan (ms)`,
          `${search.exact.p50} / ${search.exact.p95}`,
        ],
      ],
      notes: [
        `${count} mixed documents, best of ${rounds} runs each, process start to exit; delivery runs on a thread of its own.`,
        `Load average (1 min) at the end: ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores: a loaded machine measures CPU more than anything else.`,
        "PGlite runs Postgres in WebAssembly: its HNSW inserts are far slower than a native pgvector's; the figure bounds delivery from below.",
        `Search: ${queries} queries (10 for the exact scan), k = 10, 256-dimension vectors of the built-in embedder, query embedding included.`,
      ],
    },
  );
}

await main();
