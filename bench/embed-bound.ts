/**
 * Scenario 5, embedding-bound: an embeddings endpoint that takes 50 ms per request (`--latency-ms`
 * to change it: full requests of 64 texts at 50 ms outrun the CPU stages of two cores). The server
 * samples how many requests are in flight every 20 ms while docbatch works; the average over the
 * processing, divided by the configured request concurrency, says how well docbatch keeps the
 * endpoint busy. Two settings: the defaults (32 documents in flight, 8 requests), and as many
 * documents as requests (8 and 8: one request per document at a time, nothing prepared ahead).
 */
import path from "node:path";
import { EmbeddingTestServer } from "../src/testing/embedding-server.js";
import { writeMixed } from "./corpus.js";
import { docbatch, quick, round, tempDir, writeResult } from "./lib.js";

const count = quick ? 1_000 : 4_000;
const latencyArg = process.argv.indexOf("--latency-ms");
/** The endpoint's answer time (`--latency-ms`, default 50). */
const latencyMs = latencyArg > 0 ? Number(process.argv[latencyArg + 1]) : 50;

async function measureInFlight(input: string, db: string, documents: number, requests: number) {
  const server = new EmbeddingTestServer({ latencyMs, dimensions: 64 });
  const url = await server.start();
  const samples: number[] = [];
  const run = await docbatch(
    [
      "run",
      input,
      "--db",
      db,
      "--no-progress",
      "--json",
      "--embed-url",
      url,
      "--concurrency",
      String(documents),
      "--embed-concurrency",
      String(requests),
    ],
    () => {
      // From the first request on: startup and validation are not the endpoint's business.
      const stats = server.stats();
      if (stats.requests > 0) samples.push(stats.inFlight);
    },
  );
  const stats = server.stats();
  await server.stop();
  if (run.code !== 0) throw new Error(`docbatch failed: ${run.stderr}`);
  // Up to the last request (the report afterwards is not either), without the ramp-down of the
  // last 5%, when the last documents cannot fill every slot.
  let last = samples.length - 1;
  while (last > 0 && samples[last] === 0) last -= 1;
  const busy = samples.slice(0, Math.floor((last + 1) * 0.95));
  const mean = busy.reduce((a, b) => a + b, 0) / Math.max(1, busy.length);
  const report = JSON.parse(run.stdout) as { throughput_docs_per_min: number };
  return {
    documents_in_flight: documents,
    requests_in_flight_allowed: requests,
    mean_requests_in_flight: round(mean, 2),
    ratio: round(mean / requests, 3),
    requests: stats.requests,
    texts: stats.textsOk,
    throughput_docs_per_min: report.throughput_docs_per_min,
  };
}

async function main() {
  const dir = tempDir();
  const input = path.join(dir, "mixed.jsonl");
  writeMixed(input, count);
  const defaults = await measureInFlight(input, path.join(dir, "a.db"), 32, 8);
  const equal = await measureInFlight(input, path.join(dir, "b.db"), 8, 8);
  const row = (label: string, r: typeof defaults) => [
    label,
    r.mean_requests_in_flight,
    r.ratio,
    r.requests,
    Math.round(r.throughput_docs_per_min),
  ];
  writeResult(
    "embed-bound",
    { documents: count, latency_ms: latencyMs, defaults, equal },
    {
      title: `Embedding-bound: a ${latencyMs} ms endpoint`,
      columns: ["setting", "requests in flight (mean)", "÷ request concurrency", "requests", "docs/min"],
      rows: [
        row("defaults: 32 documents, 8 requests in flight", defaults),
        row("8 documents, 8 requests in flight", equal),
      ],
      notes: [
        `${count} mixed documents, batches of ≤ 64 texts; in flight sampled every 20 ms while requests arrive.`,
      ],
    },
  );
}

await main();
