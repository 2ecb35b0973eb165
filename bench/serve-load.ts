/**
 * `docbatch serve` under load, in its own process with a local embeddings server (5 ms latency):
 * 1. reads: `GET /v1/batches/:id` hammered by autocannon while a batch runs, against the same
 *    batch size processed without load;
 * 2. event streams: a batch processed while 150 clients hold its `/events` stream open, against
 *    the mean of two batches without (before and after, in the same run);
 * 3. stalls: `/healthz` polled back to back while `/metrics` is scraped and a batch of 100,000
 *    documents is exported; its latency shows whether anything blocks the event loop.
 */
import { Worker } from "node:worker_threads";
import autocannon from "autocannon";
import { EmbeddingTestServer } from "../src/testing/embedding-server.js";
import { makeCorpus } from "../test/helpers/corpus.js";
import { quick, round, sleep, spawnCli, tempDir, writeResult } from "./lib.js";

const count = quick ? 1_500 : 5_000;
const SSE_CLIENTS = 150;
const EXPORT_DOCS = 100_000;

async function startServe(args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawnCli(["serve", "--port", "0", ...args]);
  let out = "";
  let err = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    err = (err + d).slice(-4_000);
  });
  child.on("exit", (code, signal) => {
    if (code !== 0) process.stderr.write(`serve exited (${code ?? signal}): ${err}\n`);
  });
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

async function submitLines(url: string, batchId: string, lines: string[]): Promise<void> {
  const response = await fetch(`${url}/v1/batches?batch_id=${batchId}`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson" },
    body: lines.join("\n"),
  });
  if (response.status !== 202)
    throw new Error(`submit answered ${response.status}: ${await response.text()}`);
}

function submit(url: string, batchId: string, seed: number): Promise<void> {
  const lines = makeCorpus({ count, seed, largeShare: 0 }).map((d) =>
    JSON.stringify({ id: d.id, content: d.content, format: d.format }),
  );
  return submitLines(url, batchId, lines);
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

/** Reads while a batch runs (scenario 1). */
async function reads(url: string, quiet: number) {
  await submit(url, "loaded", 2);
  let stop = () => {};
  const load = new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      { url: `${url}/v1/batches/loaded`, connections: 8, duration: 3_600 },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    stop = () => instance.stop();
  });
  const loaded = await settle(url, "loaded");
  stop();
  const result = await load;
  return { result, loaded: loaded.throughput, ratio: loaded.throughput / quiet };
}

/** 150 event streams open on a running batch (scenario 2); returns its throughput and events seen. */
async function streams(url: string) {
  await submit(url, "watched", 3);
  const controller = new AbortController();
  let events = 0;
  let refused = 0;
  const clients = Array.from({ length: SSE_CLIENTS }, async () => {
    const res = await fetch(`${url}/v1/batches/watched/events`, { signal: controller.signal });
    if (res.status !== 200 || !res.body) {
      refused += 1;
      return;
    }
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body)
        events += (decoder.decode(chunk).match(/event: progress/g) ?? []).length;
    } catch {
      // Aborted at the end.
    }
  });
  const watched = await settle(url, "watched");
  controller.abort();
  await Promise.all(clients);
  return { throughput: watched.throughput, events, refused };
}

/**
 * `/healthz` back to back until `until` settles: the latency of each answer, in ms. The poller
 * runs on a thread of its own, so that the work of reading the long answers in this process
 * never counts as the server's latency.
 */
async function pollHealth(url: string, until: Promise<unknown>): Promise<number[]> {
  const poller = new Worker(
    `const { parentPort, workerData } = require("node:worker_threads");
     let stop = false;
     parentPort.on("message", () => { stop = true; });
     (async () => {
       const latencies = [];
       while (!stop) {
         const started = performance.now();
         await (await fetch(workerData + "/healthz")).text();
         latencies.push(performance.now() - started);
       }
       parentPort.postMessage(latencies);
     })();`,
    { eval: true, workerData: url },
  );
  const latencies = new Promise<number[]>((resolve) => poller.once("message", resolve));
  await until.catch(() => {});
  poller.postMessage("stop");
  const result = await latencies;
  await poller.terminate();
  return result;
}

/** Lines of a response, counted as bytes arrive (the text itself is never decoded). */
async function countLines(res: Response): Promise<number> {
  let lines = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
  }
  return lines;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** `/metrics` and an export of 100,000 documents, with `/healthz` polled throughout (scenario 3). */
async function stalls(url: string) {
  const lines = Array.from({ length: EXPORT_DOCS }, (_, i) =>
    JSON.stringify({ id: `doc-${i}`, content: `Document ${i}. A short text about exports and metrics.` }),
  );
  await submitLines(url, "large", lines);
  await settle(url, "large");
  await sleep(2_500); // past the metrics cache
  const work = (async () => {
    const started = performance.now();
    const [metrics, exportLines] = await Promise.all([
      fetch(`${url}/metrics`).then((r) => r.text()),
      fetch(`${url}/v1/batches/large/export`).then(countLines),
    ]);
    return { ms: performance.now() - started, metricsBytes: metrics.length, exportLines };
  })();
  const latencies = await pollHealth(url, work);
  return { ...(await work), latencies };
}

async function main() {
  const embeddings = new EmbeddingTestServer({ latencyMs: 5 });
  const embedUrl = await embeddings.start();
  const dir = tempDir();
  const server = await startServe(["--db", `${dir}/s.db`, "--embed-url", embedUrl, "--concurrency", "8"]);
  try {
    await submit(server.url, "quiet", 1);
    const quiet = (await settle(server.url, "quiet")).throughput;
    const read = await reads(server.url, quiet);
    const watched = await streams(server.url);
    await submit(server.url, "quiet-after", 4);
    const quietAfter = (await settle(server.url, "quiet-after")).throughput;
    const baseline = (quiet + quietAfter) / 2;
    const sseRatio = watched.throughput / baseline;
    const stall = await stalls(server.url);
    const p99 = quantile(stall.latencies, 0.99);
    const { result } = read;
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
        throughput_docs_per_min: {
          without_load: quiet,
          with_load: read.loaded,
          without_load_after: quietAfter,
          with_event_streams: watched.throughput,
        },
        throughput_ratio: round(read.ratio, 3),
        event_streams: {
          clients: SSE_CLIENTS,
          refused: watched.refused,
          events_received: watched.events,
          throughput_ratio: round(sseRatio, 3),
        },
        healthz_during_metrics_and_export: {
          documents: EXPORT_DOCS,
          export_lines: stall.exportLines,
          metrics_bytes: stall.metricsBytes,
          seconds: round(stall.ms / 1000, 2),
          requests: stall.latencies.length,
          latency_ms: {
            p50: round(quantile(stall.latencies, 0.5)),
            p99: round(p99),
            max: round(Math.max(...stall.latencies)),
          },
        },
      },
      {
        title: "Serve: reads, event streams and long answers while batches run",
        columns: ["measure", "value"],
        rows: [
          ["documents per batch", count],
          [
            "reads: load",
            `${round(result.duration, 1)} s, 8 connections, ${Math.round(result.requests.average)} req/s`,
          ],
          ["reads: latency p50 / p99 (ms)", `${result.latency.p50} / ${result.latency.p99}`],
          ["reads: non-2xx / errors", `${result.non2xx} / ${result.errors}`],
          [
            "batch throughput without load (docs/min, before / after)",
            `${Math.round(quiet)} / ${Math.round(quietAfter)}`,
          ],
          ["batch throughput with reads (docs/min)", Math.round(read.loaded)],
          ["with reads ÷ without (before)", round(read.ratio, 3)],
          [`batch throughput with ${SSE_CLIENTS} event streams (docs/min)`, Math.round(watched.throughput)],
          [`with ${SSE_CLIENTS} streams ÷ without (mean of before and after)`, round(sseRatio, 3)],
          ["events received by the streams (refused streams)", `${watched.events} (${watched.refused})`],
          [
            `/healthz during /metrics + export of ${EXPORT_DOCS.toLocaleString("en-US")} documents`,
            `${stall.latencies.length} requests in ${round(stall.ms / 1000, 1)} s`,
          ],
          [
            "/healthz latency p50 / p99 / max (ms)",
            `${round(quantile(stall.latencies, 0.5))} / ${round(p99)} / ${round(Math.max(...stall.latencies))}`,
          ],
        ],
        notes: [
          "Embeddings from a local OpenAI-compatible server with 5 ms latency; server and load generators share the machine (2 cores).",
          "The report behind GET /v1/batches/:id reads every document, so the server caches it for 1 s while the batch runs.",
          "Event streams: one computation per batch and interval feeds every stream; goal ≥ 0.8.",
          "/healthz goal: p99 < 100 ms while the metrics scrape and the export stream.",
        ],
      },
    );
  } finally {
    await server.stop();
    await embeddings.stop();
  }
}

await main();
