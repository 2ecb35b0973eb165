/**
 * `embed-limit`: docbatch against the limit of an embedding-bound run. A bare client
 * (bench/embed-limit-client.ts) sends exactly the chunk texts docbatch produced to the same
 * endpoint in requests of the same maximum size with the same number in flight, and does nothing
 * else; docbatch ÷ bare client is the share of that limit a full docbatch run reaches (planning,
 * parsing, chunking, commits, bookkeeping included). Both run as child processes against one
 * endpoint in this process, measured from process start to exit, alternating, on the mixed and the
 * small corpus; the median and the spread are reported.
 *
 * Options: --quick (fewer documents, 3 rounds instead of 5), --latency-ms N (the endpoint's
 * answer time, default 250: what a hosted embedding API takes for a request of 64 texts; at
 * much less, a 2-core machine is CPU-bound, not embedding-bound, on small documents).
 */
import fs from "node:fs";
import path from "node:path";
import { EmbeddingTestServer } from "../src/testing/embedding-server.js";
import { writeMixed, writeSmall } from "./corpus.js";
import { docbatch, quick, round, script, tempDir, writeResult } from "./lib.js";

const latencyArg = process.argv.indexOf("--latency-ms");
const latencyMs = latencyArg > 0 ? Number(process.argv[latencyArg + 1]) : 250;
const ROUNDS = quick ? 3 : 5;
const BATCH = 64;
const REQUESTS = 8;

interface Round {
  docbatch_s: number;
  bare_s: number;
  ratio: number;
}

/** One docbatch run from scratch: its wall time, and the chunk texts it sent, in order. */
async function runDocbatch(input: string, db: string, url: string) {
  for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(db + suffix, { force: true });
  const run = await docbatch([
    "run",
    input,
    "--db",
    db,
    "--batch-id",
    "limit",
    "--no-progress",
    "--json",
    "--embed-url",
    url,
    "--embed-concurrency",
    String(REQUESTS),
    "--embed-batch-size",
    String(BATCH),
  ]);
  if (run.code !== 0) throw new Error(`docbatch failed (${run.code}): ${run.stderr.slice(-2000)}`);
  return run.wallMs / 1000;
}

/** The chunk texts of the batch, from its export, one JSON string per line. */
async function writeTexts(db: string, file: string): Promise<number> {
  const exported = await docbatch(["export", "--db", db, "--batch-id", "limit"]);
  if (exported.code !== 0) throw new Error(`export failed: ${exported.stderr.slice(-2000)}`);
  const texts = exported.stdout
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.stringify((JSON.parse(line) as { text: string }).text));
  fs.writeFileSync(file, `${texts.join("\n")}\n`);
  return texts.length;
}

async function measureCorpus(name: string, input: string, dir: string) {
  const server = new EmbeddingTestServer({ latencyMs, dimensions: 256 });
  const url = await server.start();
  const db = path.join(dir, `${name}.db`);
  const textsFile = path.join(dir, `${name}-texts.jsonl`);
  const rounds: Round[] = [];
  let texts = 0;
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const docbatchS = await runDocbatch(input, db, url);
      if (i === 0) texts = await writeTexts(db, textsFile);
      const bare = await script("embed-limit-client.ts", [url, textsFile, String(BATCH), String(REQUESTS)]);
      if (bare.code !== 0) throw new Error(`the bare client failed: ${bare.stderr.slice(-2000)}`);
      const bareS = bare.wallMs / 1000;
      rounds.push({
        docbatch_s: round(docbatchS, 3),
        bare_s: round(bareS, 3),
        ratio: round(bareS / docbatchS, 3),
      });
    }
  } finally {
    await server.stop();
  }
  const ratios = rounds.map((r) => r.ratio).sort((a, b) => a - b);
  return {
    corpus: name,
    texts,
    rounds,
    median: ratios[Math.floor(ratios.length / 2)]!,
    min: ratios[0]!,
    max: ratios.at(-1)!,
  };
}

async function main() {
  const dir = tempDir();
  const mixed = path.join(dir, "mixed.jsonl");
  const small = path.join(dir, "small.jsonl");
  const mixedCount = quick ? 2_000 : 20_000;
  const smallCount = quick ? 20_000 : 100_000;
  writeMixed(mixed, mixedCount);
  writeSmall(small, smallCount);
  const results = [
    { documents: mixedCount, ...(await measureCorpus("mixed", mixed, dir)) },
    { documents: smallCount, ...(await measureCorpus("small", small, dir)) },
  ];
  writeResult(
    "embed-limit",
    { latency_ms: latencyMs, batch: BATCH, requests_in_flight: REQUESTS, results },
    {
      title: `Embedding-bound limit: docbatch ÷ a bare client, ${latencyMs} ms endpoint`,
      columns: [
        "corpus",
        "documents",
        "texts",
        "docbatch ÷ bare client (median)",
        "spread",
        "rounds (docbatch s / bare s)",
      ],
      rows: results.map((r) => [
        r.corpus,
        r.documents,
        r.texts,
        r.median,
        `${r.min}–${r.max}`,
        r.rounds.map((x) => `${x.docbatch_s}/${x.bare_s}`).join(", "),
      ]),
      notes: [
        `Both send the same chunk texts to one endpoint (${latencyMs} ms an answer, 256 dimensions) in requests of ≤ ${BATCH} texts with ${REQUESTS} in flight; process start to exit, alternating.`,
        "The bare client holds the texts in a file already chunked and does nothing but send them and decode the answers.",
      ],
    },
  );
}

await main();
