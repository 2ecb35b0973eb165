/**
 * The HTTP server under read load: `GET /v1/batches/:id` hammered by autocannon (loopback, a few
 * seconds) while the batch runs, against the same batch size processed without load. Reports
 * p50/p99 latency of the reads and the batch's throughput with and without them.
 */
import autocannon from "autocannon";
import { EmbeddingTestServer } from "../src/testing/embedding-server.js";
import { makeCorpus } from "../test/helpers/corpus.js";
import { quick, round, sleep, spawnCli, tempDir, writeResult } from "./lib.js";

const count = quick ? 1_500 : 5_000;

async function startServe(args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawnCli(["serve", "--port", "0", ...args]);
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const found = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (found) resolve(found);
    });
    child.on("close", (code) => reject(new Error(`serve exited ${code}`)));
  });
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.on("close", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

async function submit(url: string, batchId: string, seed: number): Promise<void> {
  const body = makeCorpus({ count, seed, largeShare: 0 })
    .map((d) => JSON.stringify({ id: d.id, content: d.content, format: d.format }))
    .join("\n");
  const response = await fetch(`${url}/v1/batches?batch_id=${batchId}`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson" },
    body,
  });
  if (response.status !== 202)
    throw new Error(`submit answered ${response.status}: ${await response.text()}`);
}

async function settle(url: string, batchId: string): Promise<{ throughput: number; total: number }> {
  for (;;) {
    const status = (await (await fetch(`${url}/v1/batches/${batchId}/status`)).json()) as {
      counts: { pending: number; processing: number; total: number };
      plan_complete: boolean;
      running: boolean;
    };
    if (status.plan_complete && !status.running && status.counts.pending + status.counts.processing === 0) {
      const report = (await (await fetch(`${url}/v1/batches/${batchId}`)).json()) as {
        throughput_docs_per_min: number;
      };
      return { throughput: report.throughput_docs_per_min, total: status.counts.total };
    }
    await sleep(250);
  }
}

async function main() {
  const embeddings = new EmbeddingTestServer({ latencyMs: 5 });
  const embedUrl = await embeddings.start();
  const dir = tempDir();
  const server = await startServe(["--db", `${dir}/s.db`, "--embed-url", embedUrl, "--concurrency", "8"]);
  try {
    await submit(server.url, "quiet", 1);
    const quiet = await settle(server.url, "quiet");

    // The load lasts exactly as long as the loaded batch runs.
    await submit(server.url, "loaded", 2);
    let stop = () => {};
    const load = new Promise<autocannon.Result>((resolve, reject) => {
      const instance = autocannon(
        { url: `${server.url}/v1/batches/loaded`, connections: 8, duration: 3_600 },
        (err, result) => (err ? reject(err) : resolve(result)),
      );
      stop = () => instance.stop();
    });
    const loaded = await settle(server.url, "loaded");
    stop();
    const result = await load;
    const ratio = loaded.throughput / quiet.throughput;
    writeResult(
      "serve-load",
      {
        documents: count,
        load: {
          route: "GET /v1/batches/:id",
          connections: 8,
          seconds: round(result.duration, 1),
          requests: result.requests.total,
          requests_per_second: result.requests.average,
          latency_ms: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
          non_2xx: result.non2xx,
          errors: result.errors,
        },
        throughput_docs_per_min: { without_load: quiet.throughput, with_load: loaded.throughput },
        throughput_ratio: round(ratio, 3),
      },
      {
        title: "Serve: GET /v1/batches/:id under load while a batch runs",
        columns: ["measure", "value"],
        rows: [
          ["documents per batch", count],
          [
            "load",
            `${round(result.duration, 1)} s, 8 connections, ${Math.round(result.requests.average)} req/s`,
          ],
          ["read latency p50 / p99 (ms)", `${result.latency.p50} / ${result.latency.p99}`],
          ["non-2xx / errors", `${result.non2xx} / ${result.errors}`],
          ["batch throughput without load (docs/min)", Math.round(quiet.throughput)],
          ["batch throughput with load (docs/min)", Math.round(loaded.throughput)],
          ["with ÷ without", round(ratio, 3)],
        ],
        notes: [
          "Embeddings from a local OpenAI-compatible server with 5 ms latency; server and load generator share the machine.",
          "The report behind GET /v1/batches/:id reads every document, so the server caches it for 1 s while the batch runs.",
        ],
      },
    );
  } finally {
    await server.stop();
    await embeddings.stop();
  }
}

await main();
