/**
 * The embedding cache: what it costs a cold run, and what it saves a second batch.
 *
 * 1. Cold runs (empty store) of the mixed corpus with the cache and with `--no-cache`, alternating,
 *    against the HTTP test embedding server (10 ms an answer) and with the built-in embedder; the
 *    best wall time of each counts. Against the endpoint, with the cache every text is looked up
 *    (all miss) and every answer is written to the cache; with `--no-cache`, answers are still
 *    written but nothing is looked up. The built-in embedder's texts are neither looked up nor
 *    written (a vector costs less to compute than to look up), so its two runs do the same work:
 *    their ratio shows the cache costs it nothing. Goal: cache ÷ no-cache throughput ≥ 0.95.
 * 2. A second batch over the same documents in the same store, with a new chunk overlap (every
 *    document re-chunked): texts embedded ÷ chunks of that batch. And the same batch again with
 *    the first settings, which should embed nothing. Both embed through the endpoint: the
 *    built-in embedder's vectors are never cached.
 */
import path from "node:path";
import { EmbeddingTestServer } from "../src/testing/embedding-server.js";
import { writeMixed } from "./corpus.js";
import { best, docbatch, quick, round, tempDir, writeResult } from "./lib.js";

const count = quick ? 5_000 : 20_000;
const rounds = 3;

interface RunFigures {
  wallMs: number;
  textsEmbedded: number;
  cacheHits: number;
  sent: number;
}

async function cold(dir: string, input: string, embed: string[], server: EmbeddingTestServer) {
  const times = { cache: [] as number[], noCache: [] as number[] };
  let first: RunFigures | null = null;
  let firstDb = "";
  for (let r = 0; r < rounds; r++) {
    for (const mode of ["cache", "noCache"] as const) {
      const db = path.join(dir, `${mode}-${r}-${embed.length}.db`);
      const figures = await runOnce(
        input,
        db,
        "cold",
        [...embed, ...(mode === "noCache" ? ["--no-cache"] : [])],
        server,
      );
      times[mode].push(figures.wallMs);
      if (mode === "cache" && r === 0) {
        first = figures;
        firstDb = db;
      }
    }
  }
  return { times, first: first!, firstDb, ratio: round(best(times.noCache) / best(times.cache), 3) };
}

async function runOnce(
  input: string,
  db: string,
  batchId: string,
  extra: string[],
  server: EmbeddingTestServer,
): Promise<RunFigures> {
  server.reset();
  const result = await docbatch([
    "run",
    input,
    "--db",
    db,
    "--batch-id",
    batchId,
    "--no-progress",
    "--json",
    ...extra,
  ]);
  if (result.code !== 0) throw new Error(`docbatch failed (${result.code}): ${result.stderr}`);
  const report = JSON.parse(result.stdout) as { texts_embedded: number; cache_hits: number };
  return {
    wallMs: result.wallMs,
    textsEmbedded: report.texts_embedded,
    cacheHits: report.cache_hits,
    sent: server.stats().textsOk,
  };
}

async function main() {
  const dir = tempDir();
  const input = path.join(dir, "mixed.jsonl");
  writeMixed(input, count);
  const server = new EmbeddingTestServer({ latencyMs: 10, dimensions: 256 });
  await server.start();
  try {
    const endpoint = ["--embed-url", server.url];
    const http = await cold(dir, input, endpoint, server);
    const local = await cold(dir, input, [], server);
    // The second and third batches embed through the endpoint, in the store of the first cold run
    // with the cache against it, which holds the first batch: the built-in embedder's vectors are
    // never cached (computing one costs less than looking it up).
    const store = http.firstDb;
    const overlap = await runOnce(input, store, "overlap", ["--chunk-overlap", "100", ...endpoint], server);
    const same = await runOnce(input, store, "same", endpoint, server);
    const chunks = overlap.textsEmbedded + overlap.cacheHits;
    const perSecond = (ms: number) => round((count / ms) * 1000, 0);
    writeResult(
      "embed-cache",
      {
        documents: count,
        cold: {
          http: { wall_ms: http.times, ratio_cache_over_no_cache: http.ratio },
          local: { wall_ms: local.times, ratio_cache_over_no_cache: local.ratio },
        },
        first_batch: { texts_embedded: http.first.textsEmbedded, cache_hits: http.first.cacheHits },
        new_overlap: {
          chunks,
          texts_embedded: overlap.textsEmbedded,
          cache_hits: overlap.cacheHits,
          ratio_embedded_over_chunks: round(overlap.textsEmbedded / chunks, 4),
        },
        same_settings: { texts_embedded: same.textsEmbedded, cache_hits: same.cacheHits },
      },
      {
        title: "The embedding cache (SQLite, mixed corpus)",
        columns: ["measure", "value"],
        rows: [
          [
            "cold run, HTTP embedder (10 ms): docs/s with cache / --no-cache",
            `${perSecond(best(http.times.cache))} / ${perSecond(best(http.times.noCache))}`,
          ],
          ["cold run, HTTP embedder: cache ÷ --no-cache", http.ratio],
          [
            "cold run, built-in embedder: docs/s with cache / --no-cache",
            `${perSecond(best(local.times.cache))} / ${perSecond(best(local.times.noCache))}`,
          ],
          ["cold run, built-in embedder: cache ÷ --no-cache", local.ratio],
          [
            "second batch, chunk overlap 0 → 100: texts embedded / chunks",
            `${overlap.textsEmbedded} / ${chunks}`,
          ],
          ["second batch, new overlap: texts embedded ÷ chunks", round(overlap.textsEmbedded / chunks, 4)],
          ["third batch, first settings again: texts embedded", same.textsEmbedded],
        ],
        notes: [
          `${count} documents; cold runs: best of ${rounds} each, alternating, process start to exit.`,
          "The first batch's chunk texts are in the cache; a new overlap moves every chunk boundary of a document that has more than one chunk, so only its single-chunk documents' texts are found.",
        ],
      },
    );
  } finally {
    await server.stop();
  }
}

await main();
