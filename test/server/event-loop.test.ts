/**
 * Nothing a client asks for stalls the server: event streams share one computation per batch
 * and interval (the counts queries do not grow with the streams) and are capped; an export
 * streams in slices between which the event loop runs; reports (behind /metrics) are computed
 * off the main thread, so /healthz answers while a scrape is in progress.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/server/app.js";
import { runCli, tempDir } from "../helpers/cli.js";
import { startServeProcess } from "../helpers/serve.js";
import { expectError, jsonlInit, startTestServer, type TestServer, waitSettled } from "../helpers/server.js";

/** Reads `count` progress events from an event stream, then cancels it. */
async function readEvents(res: Response, count: number): Promise<number> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let seen = 0;
  let text = "";
  while (seen < count) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
    seen = (text.match(/event: progress/g) ?? []).length;
  }
  await reader.cancel();
  return seen;
}

const lines = (n: number, prefix: string) =>
  `${Array.from({ length: n }, (_, i) => JSON.stringify({ id: `${prefix}-${i}`, content: `Text ${i} about loops.` })).join("\n")}\n`;

describe("event streams", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    expect((await server.app.request("/v1/batches?batch_id=e", jsonlInit(lines(50, "e")))).status).toBe(202);
    await waitSettled(server.app, "e");
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await server.close();
  });

  it("30 streams of one batch cost one counts query per interval, not one per stream", async () => {
    const counts = vi.spyOn(server.store, "counts");
    const streams = await Promise.all(
      Array.from({ length: 30 }, () => server.app.request("/v1/batches/e/events")),
    );
    const seen = await Promise.all(streams.map((s) => readEvents(s, 4)));
    expect(Math.min(...seen)).toBe(4);
    // Each interval's computation reads the counts once; every stream saw at most one event per
    // interval. One stream per computation would be 30 × 4 = 120 queries.
    expect(counts.mock.calls.length).toBeLessThanOrEqual(Math.max(...seen) + 3);
    counts.mockRestore();
  });

  it("past the cap: 503 TOO_MANY_STREAMS with the error body; a closed stream frees its place", async () => {
    const app = createApp(server.service, { maxBodyBytes: 1 << 20, eventIntervalMs: 50, maxEventStreams: 3 });
    const open = await Promise.all([1, 2, 3].map(() => app.request("/v1/batches/e/events")));
    for (const res of open) expect(res.status).toBe(200);
    const refused = await expectError(await app.request("/v1/batches/e/events"), 503, "TOO_MANY_STREAMS");
    expect(refused.hints.join(" ")).toMatch(/--max-event-streams/);
    await readEvents(open[0]!, 1); // reads one event, then cancels: its place is free again
    let again = await app.request("/v1/batches/e/events");
    for (let waited = 0; again.status === 503 && waited < 5_000; waited += 50) {
      await again.text();
      await new Promise((resolve) => setTimeout(resolve, 50));
      again = await app.request("/v1/batches/e/events");
    }
    expect(again.status).toBe(200);
    for (const res of [again, open[1]!, open[2]!]) expect(await readEvents(res, 1)).toBe(1);
  });
});

describe("a long export", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ maxBodyBytes: 8 << 20 });
    expect((await server.app.request("/v1/batches?batch_id=x", jsonlInit(lines(15_000, "x")))).status).toBe(
      202,
    );
    await waitSettled(server.app, "x", { timeoutMs: 110_000 });
  }, 120_000);
  afterAll(async () => {
    await server.close();
  });

  it("lets the event loop run while it streams (timers fire between its slices)", async () => {
    let turns = 0;
    const timer = setInterval(() => {
      turns += 1;
    }, 0);
    try {
      const started = turns;
      const res = await server.app.request("/v1/batches/x/export");
      const text = await res.text();
      expect(text.split("\n").filter(Boolean).length).toBeGreaterThanOrEqual(15_000);
      // Without slices the whole export runs in one turn of the loop: no timer in between.
      expect(turns - started).toBeGreaterThan(3);
    } finally {
      clearInterval(timer);
    }
  });
});

describe("a /metrics scrape and an export of a large batch (built server)", () => {
  it("leave /healthz answering: reports and exports are computed off the main thread", async () => {
    const dir = tempDir("docbatch-metrics-");
    const db = path.join(dir, "m.db");
    const input = path.join(dir, "m.jsonl");
    fs.writeFileSync(input, lines(40_000, "m"));
    const run = await runCli(["run", input, "--db", db, "--batch-id", "m", "--no-progress"]);
    expect(run.code, run.stderr).toBe(0);
    const serve = await startServeProcess(["--db", db]);
    try {
      let finished = false;
      const scrape = fetch(`${serve.url}/metrics`)
        .then((r) => r.text())
        .finally(() => {
          finished = true;
        });
      let answered = 0;
      while (!finished) {
        const res = await fetch(`${serve.url}/healthz`);
        await res.text();
        if (!finished) answered += 1;
      }
      expect(await scrape).toMatch(/docbatch_documents\{batch_id="m"/);
      // On the main thread, the report of 40,000 documents holds every other request back.
      expect(answered, "health checks answered during the scrape").toBeGreaterThan(0);

      // The export is read on a thread of its own: the same holds while it streams.
      let exported = false;
      const lines = fetch(`${serve.url}/v1/batches/m/export`)
        .then((r) => r.text())
        .finally(() => {
          exported = true;
        });
      let during = 0;
      while (!exported) {
        await (await fetch(`${serve.url}/healthz`)).text();
        if (!exported) during += 1;
      }
      const rows = (await lines).split("\n").filter(Boolean);
      expect(new Set(rows.map((r) => (JSON.parse(r) as { doc_id: string }).doc_id)).size).toBe(40_000);
      expect(during, "health checks answered during the export").toBeGreaterThan(0);

      // A client that goes away mid-export: its thread ends too.
      const threads = () =>
        Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${serve.child.pid}/status`, "utf8"))![1]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const before = threads();
      const controller = new AbortController();
      const res = await fetch(`${serve.url}/v1/batches/m/export`, { signal: controller.signal });
      await res.body!.getReader().read();
      controller.abort();
      let now = threads();
      for (let waited = 0; now > before && waited < 10_000; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        now = threads();
      }
      expect(now, "threads after an aborted export").toBeLessThanOrEqual(before);
    } finally {
      serve.child.kill("SIGKILL");
    }
  }, 180_000);
});
