import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { ExportRow } from "../../src/store/store.js";
import {
  chunkedBody,
  expectError,
  getJson,
  jsonInit,
  jsonlInit,
  type LiveStatusBody,
  serveForBlock,
  spoolFiles,
  startTestServer,
  type TestServer,
  waitSettled,
} from "../helpers/server.js";

const LINK_KEYS = ["cancel", "documents", "events", "export", "resume", "retry", "self", "status"];
const COUNT_KEYS = [
  "changed",
  "degraded",
  "deleted",
  "done",
  "duplicates_skipped",
  "failed",
  "pending",
  "processing",
  "skipped_unsupported",
  "total",
  "unchanged_skipped",
];
const EXPORT_KEYS = [
  "chunk_count",
  "chunk_index",
  "degraded",
  "doc_id",
  "embedding_dim",
  "idempotency_key",
  "metadata",
  "source",
  "text",
];

interface Accepted {
  batch_id: string;
  created: boolean;
  links: Record<string, string>;
}

interface BatchList {
  batches: {
    batch_id: string;
    created_at: string;
    counts: Record<string, number>;
    running: boolean;
    cancelled: boolean;
    plan_complete: boolean;
    links: Record<string, string>;
  }[];
}

interface DocumentsPage {
  documents: {
    id: string;
    source: string;
    state: string;
    attempts: number;
    last_error: { code: string; message: string } | null;
    degraded_reason: { code: string; message: string } | null;
    chunk_count: number | null;
    updated_at: string | null;
  }[];
  next: string | null;
}

function deepValue(levels: number): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < levels; i++) value = { nested: value };
  return value;
}

function text(i: number): string {
  return `Document ${i}. It talks about batches, checkpoints and retries.\n\nA second paragraph ${i}.`;
}

async function accepted(res: Response, status: 200 | 202): Promise<Accepted> {
  const body = await res.text();
  expect(res.status, body).toBe(status);
  const parsed = JSON.parse(body) as Accepted;
  expect(Object.keys(parsed).sort()).toEqual(["batch_id", "created", "links"]);
  expect(parsed.created).toBe(status === 202);
  const base = `/v1/batches/${encodeURIComponent(parsed.batch_id)}`;
  expect(Object.keys(parsed.links).sort()).toEqual(LINK_KEYS);
  expect(parsed.links).toEqual({
    self: base,
    status: `${base}/status`,
    documents: `${base}/documents`,
    export: `${base}/export`,
    events: `${base}/events`,
    retry: `${base}/retry`,
    cancel: `${base}/cancel`,
    resume: `${base}/resume`,
  });
  return parsed;
}

async function allDocuments(server: TestServer, first: string): Promise<DocumentsPage["documents"]> {
  const docs: DocumentsPage["documents"] = [];
  let next: string | null = first;
  let pages = 0;
  while (next) {
    const page: DocumentsPage = await getJson<DocumentsPage>(server.app, next);
    expect(page.documents.length).toBeLessThanOrEqual(2);
    docs.push(...page.documents);
    next = page.next;
    pages += 1;
    expect(pages).toBeLessThan(100);
  }
  return docs;
}

/** Reads server-sent events from a response until `count` of them arrived, then cancels. */
async function readEvents(
  res: Response,
  count: number,
): Promise<{ event: string; id: string; data: string }[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: { event: string; id: string; data: string }[] = [];
  let buffer = "";
  const deadline = Date.now() + 5_000;
  try {
    while (events.length < count) {
      expect(Date.now()).toBeLessThan(deadline);
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const message = { event: "message", id: "", data: "" };
        for (const line of block.split("\n")) {
          const colon = line.indexOf(":");
          const field = line.slice(0, colon);
          const value = line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") message.event = value;
          else if (field === "id") message.id = value;
          else if (field === "data") message.data += value;
        }
        events.push(message);
      }
    }
  } finally {
    await reader.cancel();
  }
  return events.slice(0, count);
}

describe("routes: submitting, reading, exporting, retrying (service with a root folder)", () => {
  let server: TestServer;
  const objectBody = {
    batch_id: "obj-1",
    documents: [
      { id: "a", content: text(1), metadata: { lang: "en" } },
      { id: "b", content: text(2), format: "markdown" },
      { id: "c", content: "{not json", format: "json" },
      { id: "d", path: "missing.txt" },
      { id: "e", content: text(5), source: "wiki" },
      { id: "a", content: text(1), metadata: { lang: "en" } },
    ],
  };

  serveForBlock(
    (started) => {
      server = started;
    },
    { root: true },
  );

  it("POST /v1/batches with a JSON object: 202 with links; the same body again: 200, created false, no new run", async () => {
    const first = await accepted(await server.app.request("/v1/batches", jsonInit(objectBody)), 202);
    expect(first.batch_id).toBe("obj-1");
    // The batch exists before the answer: its links work at once.
    const early = await server.app.request(first.links.status!);
    expect(early.status).toBe(200);
    await early.text();
    const settled = await waitSettled(server.app, "obj-1");
    expect(settled.counts).toMatchObject({ total: 5, duplicates_skipped: 1, pending: 0, processing: 0 });
    const before = await getJson<{ runs: unknown[] }>(server.app, "/v1/batches/obj-1");
    const batchesBefore = await getJson<BatchList>(server.app, "/v1/batches");

    const again = await accepted(await server.app.request("/v1/batches", jsonInit(objectBody)), 200);
    expect(again.batch_id).toBe("obj-1");
    expect(server.service.isRunning("obj-1")).toBe(false);
    const after = await getJson<{ runs: unknown[] }>(server.app, "/v1/batches/obj-1");
    expect(after.runs.length).toBe(before.runs.length);
    const batchesAfter = await getJson<BatchList>(server.app, "/v1/batches");
    expect(batchesAfter.batches.map((b) => b.batch_id)).toEqual(batchesBefore.batches.map((b) => b.batch_id));
  });

  it("POST /v1/batches with a bare array: a stable content-derived id; resubmitted: 200", async () => {
    const docs = [
      { id: "x1", content: text(11) },
      { id: "x2", content: text(12) },
    ];
    const first = await accepted(await server.app.request("/v1/batches", jsonInit(docs)), 202);
    expect(first.batch_id).toMatch(/^batch-[0-9a-f]{16}$/);
    const again = await accepted(await server.app.request("/v1/batches", jsonInit(docs)), 200);
    expect(again.batch_id).toBe(first.batch_id);
    const status = await waitSettled(server.app, first.batch_id);
    expect(status.counts).toMatchObject({ total: 2, done: 2 });
  });

  it("POST /v1/batches?batch_id= names the batch (over the body's batch_id), ids needing escapes included", async () => {
    const res = await server.app.request(
      `/v1/batches?batch_id=${encodeURIComponent("q id/ü")}`,
      jsonInit({ batch_id: "ignored", documents: [{ id: "q1", content: text(21) }] }),
    );
    const body = await accepted(res, 202);
    expect(body.batch_id).toBe("q id/ü");
    expect(body.links.self).toBe(`/v1/batches/${encodeURIComponent("q id/ü")}`);
    const status = await waitSettled(server.app, "q id/ü");
    expect(status.batch_id).toBe("q id/ü");
    expect(status.counts.done).toBe(1);
    const report = await getJson<{ batch_id: string }>(server.app, body.links.self!);
    expect(report.batch_id).toBe("q id/ü");
    const missing = await server.app.request("/v1/batches/ignored");
    await expectError(missing, 404, "BATCH_NOT_FOUND");
  });

  it("POST /v1/batches with JSON Lines (application/x-ndjson), BOM, CRLF and blank lines", async () => {
    const lines = [
      JSON.stringify({ id: "l1", content: text(31) }),
      "",
      JSON.stringify({ id: "l2", content: `${text(32)}\r\nwith CRLF` }),
      "   ",
      JSON.stringify({ id: "l3", content: text(33), format: "markdown" }),
    ];
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${lines.join("\r\n")}\r\n`)]);
    const res = await server.app.request(
      "/v1/batches?batch_id=lines-1",
      jsonlInit(new Uint8Array(body), { headers: { "content-type": "application/x-ndjson; charset=utf-8" } }),
    );
    const created = await accepted(res, 202);
    expect(created.batch_id).toBe("lines-1");
    const status = await waitSettled(server.app, "lines-1");
    expect(status.counts).toMatchObject({ total: 3, done: 3, failed: 0, degraded: 0 });
    const docs = await getJson<DocumentsPage>(server.app, "/v1/batches/lines-1/documents");
    expect(docs.documents.map((d) => d.id).sort()).toEqual(["l1", "l2", "l3"]);
  });

  it("GET /v1/batches lists every batch with counts and links", async () => {
    const list = await getJson<BatchList>(server.app, "/v1/batches");
    const ids = list.batches.map((b) => b.batch_id);
    expect(ids).toEqual(expect.arrayContaining(["obj-1", "q id/ü", "lines-1"]));
    expect(ids).toHaveLength(4);
    for (const batch of list.batches) {
      expect(Object.keys(batch).sort()).toEqual([
        "batch_id",
        "cancelled",
        "counts",
        "created_at",
        "links",
        "plan_complete",
        "running",
      ]);
      expect(Object.keys(batch.counts).sort()).toEqual(COUNT_KEYS);
      expect(new Date(batch.created_at).toISOString()).toBe(batch.created_at);
      expect(Object.keys(batch.links).sort()).toEqual(LINK_KEYS);
      expect(batch.plan_complete).toBe(true);
      expect(batch.cancelled).toBe(false);
    }
  });

  it("GET /v1/batches/:id is the contract's report", async () => {
    const report = await getJson<Record<string, unknown>>(server.app, "/v1/batches/obj-1");
    for (const key of [
      "batch_id",
      "checkpoint",
      "counts",
      "completion_rate",
      "fail_rate",
      "dup_rate",
      "retries",
      "throughput_docs_per_min",
      "latency_ms",
      "resume_time_ms",
      "failure_reasons",
      "runs",
    ]) {
      expect(report, key).toHaveProperty(key);
    }
    expect(report.batch_id).toBe("obj-1");
    expect(report.checkpoint).toBe("checkpoint:obj-1");
    const counts = report.counts as Record<string, number>;
    expect(Object.keys(counts).sort()).toEqual(COUNT_KEYS);
    expect(counts).toEqual({
      total: 5,
      done: 3,
      degraded: 1,
      failed: 1,
      pending: 0,
      processing: 0,
      duplicates_skipped: 1,
      unchanged_skipped: 0,
      changed: 0,
      deleted: 0,
      skipped_unsupported: 0,
    });
    expect(report.completion_rate).toBeCloseTo(4 / 5);
    expect(report.fail_rate).toBeCloseTo(1 / 5);
    expect(report.dup_rate).toBe(0);
    expect(typeof report.retries).toBe("number");
    expect(typeof report.throughput_docs_per_min).toBe("number");
    const latency = report.latency_ms as Record<string, number>;
    expect(typeof latency.p50).toBe("number");
    expect(typeof latency.p95).toBe("number");
    expect(latency.p95).toBeGreaterThanOrEqual(latency.p50!);
    expect(report.resume_time_ms).toBeNull();
    const reasons = report.failure_reasons as Record<string, number>;
    expect(reasons.NOT_FOUND).toBeGreaterThanOrEqual(1);
    const runs = report.runs as Record<string, unknown>[];
    expect(runs.length).toBeGreaterThanOrEqual(1);
    const run = runs[0]!;
    for (const key of [
      "run",
      "started_at",
      "ended_at",
      "resumed",
      "processed",
      "skipped_done",
      "recovered_in_flight",
    ])
      expect(run, key).toHaveProperty(key);
    expect(run.run).toBe(1);
    expect(run.resumed).toBe(false);
    expect(new Date(run.started_at as string).toISOString()).toBe(run.started_at);
  });

  it("GET /v1/batches/:id/status: counts, failed and degraded documents, live fields", async () => {
    const status = await getJson<LiveStatusBody>(server.app, "/v1/batches/obj-1/status");
    expect(status.batch_id).toBe("obj-1");
    expect(Object.keys(status.counts).sort()).toEqual(COUNT_KEYS);
    expect(status.running).toBe(false);
    expect(status.cancelled).toBe(false);
    expect(status.plan_complete).toBe(true);
    expect(status.completion_rate).toBeCloseTo(4 / 5);
    expect(status).toHaveProperty("progress");
    expect(typeof status.at).toBe("string");
    expect(status.failed_documents).toHaveLength(1);
    const failed = status.failed_documents[0]!;
    expect(failed.id).toBe("d");
    expect(failed.attempts).toBeGreaterThanOrEqual(1);
    expect(failed.last_error).toMatchObject({ code: "NOT_FOUND" });
    expect(typeof (failed.last_error as { message: unknown }).message).toBe("string");
    expect(status.degraded_documents).toHaveLength(1);
    const degraded = status.degraded_documents[0]!;
    expect(degraded.id).toBe("c");
    expect(degraded.reason).toMatchObject({ code: "MALFORMED_CONTENT" });
  });

  it("GET /v1/batches/:id/documents filters by state (single, repeated, comma-separated)", async () => {
    const failed = await getJson<DocumentsPage>(server.app, "/v1/batches/obj-1/documents?state=failed");
    expect(failed.documents.map((d) => d.id)).toEqual(["d"]);
    expect(failed.next).toBeNull();
    const doc = failed.documents[0]!;
    expect(Object.keys(doc).sort()).toEqual([
      "attempts",
      "chunk_count",
      "degraded_reason",
      "id",
      "last_error",
      "source",
      "state",
      "updated_at",
    ]);
    expect(doc).toMatchObject({ state: "failed", source: "inline", last_error: { code: "NOT_FOUND" } });
    const repeated = await getJson<DocumentsPage>(
      server.app,
      "/v1/batches/obj-1/documents?state=failed&state=degraded",
    );
    expect(repeated.documents.map((d) => d.id).sort()).toEqual(["c", "d"]);
    const comma = await getJson<DocumentsPage>(
      server.app,
      "/v1/batches/obj-1/documents?state=failed,degraded",
    );
    expect(comma.documents.map((d) => d.id).sort()).toEqual(["c", "d"]);
    const byReason = await getJson<DocumentsPage>(server.app, "/v1/batches/obj-1/documents?reason=NOT_FOUND");
    expect(byReason.documents.map((d) => d.id)).toEqual(["d"]);
    const done = await getJson<DocumentsPage>(server.app, "/v1/batches/obj-1/documents?state=done");
    expect(done.documents.map((d) => d.id).sort()).toEqual(["a", "b", "e"]);
    for (const d of done.documents) expect(d.chunk_count).toBeGreaterThanOrEqual(1);
  });

  it("GET /v1/batches/:id/documents?limit=2 pages through every document exactly once", async () => {
    const docs = await allDocuments(server, "/v1/batches/obj-1/documents?limit=2");
    expect(docs.map((d) => `${d.source}/${d.id}`).sort()).toEqual([
      "inline/a",
      "inline/b",
      "inline/c",
      "inline/d",
      "wiki/e",
    ]);
    // A filter is kept on the next links.
    const filtered = await allDocuments(server, "/v1/batches/obj-1/documents?limit=2&state=done,failed");
    expect(filtered.map((d) => d.id).sort()).toEqual(["a", "b", "d", "e"]);
  });

  it("GET /v1/batches/:id/export streams JSON Lines equal to the store's export", async () => {
    const res = await server.app.request("/v1/batches/obj-1/export");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    const body = await res.text();
    expect(body.endsWith("\n")).toBe(true);
    const rows = body
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as ExportRow);
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (const row of rows) {
      expect(Object.keys(row).sort()).toEqual(EXPORT_KEYS);
      expect(row.chunk_index).toBeLessThan(row.chunk_count);
      expect(row.embedding_dim === null || row.embedding_dim > 0).toBe(true);
    }
    const order = rows.map((r) => [r.doc_id, r.chunk_index] as const);
    const sorted = [...order].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] - y[1]));
    expect(order).toEqual(sorted);
    expect(new Set(rows.map((r) => r.doc_id))).toEqual(new Set(["a", "b", "c", "e"]));
    expect(rows.find((r) => r.doc_id === "a")!.metadata).toMatchObject({
      lang: "en",
      title: "a",
      headings: [],
    });
    expect(rows.find((r) => r.doc_id === "c")!.degraded).toBe(true);
    expect(rows.find((r) => r.doc_id === "e")!.source).toBe("wiki");
    const fromStore: ExportRow[] = [];
    for await (const row of server.store.exportChunks("obj-1")) fromStore.push(row);
    expect(rows).toEqual(JSON.parse(JSON.stringify(fromStore)));
  });

  it("POST /v1/batches/:id/retry by reason, degraded and doc_id: 202 with requeued, then the batch settles", async () => {
    const none = await server.app.request("/v1/batches/obj-1/retry?reason=EMBED_TIMEOUT", { method: "POST" });
    expect(none.status).toBe(202);
    expect(await none.json()).toMatchObject({ batch_id: "obj-1", requeued: 0 });

    const byReason = await server.app.request("/v1/batches/obj-1/retry?reason=NOT_FOUND", { method: "POST" });
    expect(byReason.status).toBe(202);
    const reasonBody = (await byReason.json()) as { batch_id: string; requeued: number; links: object };
    expect(reasonBody).toMatchObject({ batch_id: "obj-1", requeued: 1 });
    expect(Object.keys(reasonBody.links).sort()).toEqual(LINK_KEYS);
    let status = await waitSettled(server.app, "obj-1");
    expect(status.counts.failed! + status.counts.done! + status.counts.degraded!).toBe(5);

    const degraded = await server.app.request("/v1/batches/obj-1/retry?degraded=true&failed=false", {
      method: "POST",
    });
    expect(degraded.status).toBe(202);
    expect(await degraded.json()).toMatchObject({ requeued: 1 });
    status = await waitSettled(server.app, "obj-1");
    expect(status.counts.degraded).toBe(1);

    const byId = await server.app.request("/v1/batches/obj-1/retry?doc_id=c", { method: "POST" });
    expect(byId.status).toBe(202);
    expect(await byId.json()).toMatchObject({ requeued: 1 });
    const noSuchDoc = await server.app.request("/v1/batches/obj-1/retry?doc_id=zz", { method: "POST" });
    expect(await noSuchDoc.json()).toMatchObject({ requeued: 0 });
    status = await waitSettled(server.app, "obj-1");
    expect(status.counts).toMatchObject({ total: 5, done: 3, degraded: 1, failed: 1 });
    const report = await getJson<{ runs: unknown[] }>(server.app, "/v1/batches/obj-1");
    expect(report.runs.length).toBeGreaterThanOrEqual(3);
  });

  // The NOT_FOUND hint says: create the file and retry. The retry reads the file again.
  it("a retried NOT_FOUND document whose file now exists is completed", async () => {
    fs.writeFileSync(path.join(server.root!, "missing.txt"), text(99));
    const res = await server.app.request("/v1/batches/obj-1/retry?reason=NOT_FOUND", { method: "POST" });
    expect(await res.json()).toMatchObject({ requeued: 1 });
    const status = await waitSettled(server.app, "obj-1");
    expect(status.counts.failed).toBe(0);
  });

  it("GET /v1/batches/:id/events sends progress events as server-sent events", async () => {
    const res = await server.app.request("/v1/batches/obj-1/events");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = await readEvents(res, 2);
    expect(events.map((e) => e.event)).toEqual(["progress", "progress"]);
    expect(events.map((e) => e.id)).toEqual(["0", "1"]);
    for (const event of events) {
      const data = JSON.parse(event.data) as Record<string, unknown>;
      expect(data).toMatchObject({ batch_id: "obj-1", plan_complete: true, running: false });
      expect(Object.keys(data.counts as object).sort()).toEqual(COUNT_KEYS);
      for (const key of [
        "completion_rate",
        "throughput_docs_per_min",
        "latency_ms",
        "failure_reasons",
        "retries",
      ])
        expect(data, key).toHaveProperty(key);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  });

  it("GET /metrics: Prometheus text with docbatch_documents per batch and state", async () => {
    const res = await server.app.request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const body = await res.text();
    expect(body).toMatch(/^# HELP docbatch_documents /m);
    expect(body).toMatch(/^# TYPE docbatch_documents gauge$/m);
    const samples = new Map<string, number>();
    for (const m of body.matchAll(/^docbatch_documents\{batch_id="([^"]*)",state="(\w+)"\} (\S+)$/gm))
      samples.set(`${m[1]}|${m[2]}`, Number(m[3]));
    const status = await getJson<LiveStatusBody>(server.app, "/v1/batches/obj-1/status");
    for (const state of ["done", "degraded", "failed", "pending", "processing"])
      expect(samples.get(`obj-1|${state}`), state).toBe(status.counts[state]);
    expect(samples.get("lines-1|done")).toBe(3);
  });

  it("GET /healthz, /readyz, /openapi.json and /", async () => {
    const health = await server.app.request("/healthz");
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await server.app.request("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });

    const spec = await getJson<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(
      server.app,
      "/openapi.json",
    );
    expect(spec.openapi).toBe("3.1.0");
    const routes: [string, string][] = [
      ["/v1/batches", "post"],
      ["/v1/batches", "get"],
      ["/v1/batches/{id}", "get"],
      ["/v1/batches/{id}/status", "get"],
      ["/v1/batches/{id}/documents", "get"],
      ["/v1/batches/{id}/export", "get"],
      ["/v1/batches/{id}/retry", "post"],
      ["/v1/batches/{id}/cancel", "post"],
      ["/v1/batches/{id}/resume", "post"],
      ["/v1/batches/{id}/events", "get"],
      ["/metrics", "get"],
      ["/healthz", "get"],
      ["/readyz", "get"],
    ];
    for (const [route, method] of routes)
      expect(spec.paths[route], `${method} ${route}`).toHaveProperty(method);

    const page = await server.app.request("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/<html/i);
  });

  it("the spool folder is empty once every accepted batch is planned", async () => {
    expect(await spoolFiles(server.spoolDir)).toEqual([]);
  });
});

describe("routes: cancel and resume", () => {
  let server: TestServer;

  serveForBlock(
    (started) => {
      server = started;
    },
    { concurrency: 1 },
  );

  it("POST …/cancel stops the batch (cancelled in /status); POST …/resume: 202, then it completes", async () => {
    const docs = Array.from({ length: 300 }, (_, i) => ({ id: `c${i}`, content: text(i) }));
    const created = await accepted(
      await server.app.request("/v1/batches", jsonInit({ batch_id: "cancel-1", documents: docs })),
      202,
    );
    const cancel = await server.app.request(created.links.cancel!, { method: "POST" });
    expect(cancel.status).toBe(200);
    const cancelled = (await cancel.json()) as { batch_id: string; cancelled: boolean; counts: object };
    expect(cancelled).toMatchObject({ batch_id: "cancel-1", cancelled: true });
    expect(Object.keys(cancelled.counts).sort()).toEqual(COUNT_KEYS);

    const stopped = await getJson<LiveStatusBody>(server.app, "/v1/batches/cancel-1/status");
    expect(stopped).toMatchObject({ cancelled: true, running: false });
    expect(stopped.counts.pending! + stopped.counts.processing!).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const still = await getJson<LiveStatusBody>(server.app, "/v1/batches/cancel-1/status");
    expect(still.counts.done).toBe(stopped.counts.done);
    const listed = await getJson<BatchList>(server.app, "/v1/batches");
    expect(listed.batches.find((b) => b.batch_id === "cancel-1")).toMatchObject({ cancelled: true });

    const resume = await server.app.request("/v1/batches/cancel-1/resume", { method: "POST" });
    expect(resume.status).toBe(202);
    expect(await resume.json()).toMatchObject({ batch_id: "cancel-1", cancelled: false });
    const done = await waitSettled(server.app, "cancel-1");
    expect(done).toMatchObject({ cancelled: false, plan_complete: true });
    expect(done.counts).toMatchObject({ total: 300, done: 300 });
  });

  // A batch cancelled while its plan is incomplete keeps its upload in the spool until it is planned.
  it("a batch cancelled while it is being planned is planned to the end after POST …/resume", async () => {
    const lines = Array.from({ length: 2_500 }, (_, i) =>
      JSON.stringify({ id: `p${i}`, content: `doc ${i}` }),
    );
    await accepted(
      await server.app.request("/v1/batches?batch_id=plan-cancel", jsonlInit(`${lines.join("\n")}\n`)),
      202,
    );
    const cancel = await server.app.request("/v1/batches/plan-cancel/cancel", { method: "POST" });
    expect(cancel.status).toBe(200);
    await cancel.text();
    const resume = await server.app.request("/v1/batches/plan-cancel/resume", { method: "POST" });
    expect(resume.status).toBe(202);
    await resume.text();
    try {
      const deadline = Date.now() + 1_500;
      let status = await getJson<LiveStatusBody>(server.app, "/v1/batches/plan-cancel/status");
      while (!status.plan_complete && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        status = await getJson<LiveStatusBody>(server.app, "/v1/batches/plan-cancel/status");
      }
      expect(status.plan_complete).toBe(true);
      expect(status.counts.total).toBe(2_500);
    } finally {
      await (await server.app.request("/v1/batches/plan-cancel/cancel", { method: "POST" })).text();
    }
  });
});

describe("routes: every error status with the contract's error body", () => {
  let server: TestServer;
  /** The batches accepted in this block, in creation order. */
  const known: string[] = [];
  const MAX_BODY = 4_096;

  async function listIds(): Promise<string[]> {
    return (await getJson<BatchList>(server.app, "/v1/batches")).batches.map((b) => b.batch_id);
  }

  /** After a rejected submission: no new batch, nothing left in the spool folder. */
  async function expectNothingKept(): Promise<void> {
    expect(await listIds()).toEqual(known);
    expect(await spoolFiles(server.spoolDir)).toEqual([]);
  }

  beforeAll(async () => {
    server = await startTestServer({ maxBodyBytes: MAX_BODY, maxDepth: 8 });
    const res = await server.app.request(
      "/v1/batches",
      jsonInit({ batch_id: "ok-1", documents: [{ id: "a", content: text(1) }] }),
    );
    known.push((await accepted(res, 202)).batch_id);
    await waitSettled(server.app, "ok-1");
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("400 INVALID_INPUT lists every problem of the documents", async () => {
    const res = await server.app.request(
      "/v1/batches",
      jsonInit({
        documents: [
          { content: "no id" },
          { id: "ok", content: "fine" },
          { id: "bad-format", content: "x", format: "rtf" },
          { id: "both", content: "x", path: "y.txt" },
          { id: 7, content: "x", metadata: [] },
        ],
      }),
    );
    const error = await expectError(res, 400, "INVALID_INPUT");
    const paths = error.details.map((d) => d.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "documents[0].id",
        "documents[2].format",
        "documents[3].path",
        "documents[4].id",
        "documents[4].metadata",
      ]),
    );
    expect(paths).not.toContain("documents[1].id");
    await expectNothingKept();
  });

  it("400 INVALID_INPUT for a body that is not a batch (no documents array, bad batch_id, a scalar)", async () => {
    const noDocs = await expectError(
      await server.app.request("/v1/batches", jsonInit({ batch_id: "x", docs: [] })),
      400,
      "INVALID_INPUT",
    );
    expect(noDocs.details.map((d) => d.path)).toContain("documents");
    const badId = await expectError(
      await server.app.request(
        "/v1/batches",
        jsonInit({ batch_id: 5, documents: [{ id: "a", content: "x" }] }),
      ),
      400,
      "INVALID_INPUT",
    );
    expect(badId.details.map((d) => d.path)).toContain("batch_id");
    await expectError(
      await server.app.request("/v1/batches", jsonInit('"just a string"')),
      400,
      "INVALID_INPUT",
    );
    await expectNothingKept();
  });

  it("400 INVALID_JSON for a body that is not JSON, located", async () => {
    const error = await expectError(
      await server.app.request("/v1/batches", jsonInit('{"documents": [{"id": "a", "content": "x"},]}')),
      400,
      "INVALID_JSON",
    );
    expect(error.details[0]!.path).toBe("$");
    await expectError(await server.app.request("/v1/batches", jsonInit("")), 400, "INVALID_JSON");
    await expectNothingKept();
  });

  it("400 DUPLICATE_ID for one identity with two contents", async () => {
    const error = await expectError(
      await server.app.request(
        "/v1/batches",
        jsonInit([
          { id: "same", content: "one" },
          { id: " same ", content: "two" },
        ]),
      ),
      400,
      "DUPLICATE_ID",
    );
    expect(error.details.map((d) => d.path)).toEqual(["[1].id"]);
    await expectNothingKept();
  });

  it("400 for bad JSON Lines, with the line of every problem", async () => {
    const syntax = await expectError(
      await server.app.request(
        "/v1/batches",
        jsonlInit(`${JSON.stringify({ id: "a", content: "x" })}\n\n{"id": "b",\n`),
      ),
      400,
      "INVALID_JSON",
    );
    expect(syntax.details).toEqual([expect.objectContaining({ line: 3 })]);
    const mixed = await expectError(
      await server.app.request(
        "/v1/batches",
        jsonlInit(
          `${JSON.stringify({ id: "a", content: "x" })}\r\n{oops\r\n${JSON.stringify({ content: "x" })}\r\n`,
        ),
      ),
      400,
      "INVALID_INPUT",
    );
    expect(mixed.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ line: 2 }),
        expect.objectContaining({ line: 3, path: "line 3.id" }),
      ]),
    );
    await expectNothingKept();
  });

  it("400 INVALID_INPUT for a path document when the server has no root, with a hint about --root", async () => {
    const error = await expectError(
      await server.app.request("/v1/batches", jsonInit([{ id: "p", path: "notes.txt" }])),
      400,
      "INVALID_INPUT",
    );
    expect(error.details.map((d) => d.path)).toEqual(["[0].path"]);
    expect(error.hints.join(" ")).toMatch(/--root/);
    await expectNothingKept();
  });

  it("brackets inside strings do not count towards maxDepth (accepted)", async () => {
    const inString = await server.app.request(
      "/v1/batches?batch_id=brackets",
      jsonInit([{ id: "s", content: "[[[[[[[[[[[[[[[[{{{{{{{{{{{{", metadata: deepValue(6) }]),
    );
    known.push((await accepted(inString, 202)).batch_id);
    await waitSettled(server.app, "brackets");
  });

  it("400 INVALID_INPUT for bad query parameters of …/documents, one detail each", async () => {
    const error = await expectError(
      await server.app.request("/v1/batches/ok-1/documents?state=bogus,done&state=nope&limit=0&after=-1"),
      400,
      "INVALID_INPUT",
    );
    expect(error.details).toEqual([
      expect.objectContaining({ path: "state", problem: expect.stringContaining('"bogus"') }),
      expect.objectContaining({ path: "state", problem: expect.stringContaining('"nope"') }),
      expect.objectContaining({ path: "limit" }),
      expect.objectContaining({ path: "after" }),
    ]);
    const words = await expectError(
      await server.app.request("/v1/batches/ok-1/documents?limit=ten&after=x"),
      400,
      "INVALID_INPUT",
    );
    expect(words.details.map((d) => d.path)).toEqual(["limit", "after"]);
    await expectError(
      await server.app.request("/v1/batches/ok-1/documents?limit=1001"),
      400,
      "INVALID_INPUT",
    );
  });

  it("404 BATCH_NOT_FOUND on every batch route; 404 NOT_FOUND_ROUTE for an unknown route", async () => {
    const routes: [string, string][] = [
      ["GET", "/v1/batches/nope"],
      ["GET", "/v1/batches/nope/status"],
      ["GET", "/v1/batches/nope/documents"],
      ["GET", "/v1/batches/nope/documents?state=bogus"],
      ["GET", "/v1/batches/nope/export"],
      ["GET", "/v1/batches/nope/events"],
      ["POST", "/v1/batches/nope/retry"],
      ["POST", "/v1/batches/nope/retry?degraded=true&doc_id=a"],
      ["POST", "/v1/batches/nope/cancel"],
      ["POST", "/v1/batches/nope/resume"],
      ["DELETE", "/v1/batches/nope"],
    ];
    for (const [method, url] of routes) {
      const error = await expectError(await server.app.request(url, { method }), 404, "BATCH_NOT_FOUND");
      expect(error.details[0], `${method} ${url}`).toMatchObject({ path: "batch_id" });
    }
    for (const [method, url] of [
      ["GET", "/v1/nothing"],
      ["GET", "/v1/batches/ok-1/nothing"],
      ["DELETE", "/v1/batches/ok-1/export"],
    ] as const) {
      const error = await expectError(await server.app.request(url, { method }), 404, "NOT_FOUND_ROUTE");
      expect(error.details[0]).toMatchObject({ path: url });
    }
    expect(await listIds()).toEqual(known);
  });

  it("409 BATCH_CONFLICT for an existing batch id with different content", async () => {
    const error = await expectError(
      await server.app.request(
        "/v1/batches",
        jsonInit({ batch_id: "ok-1", documents: [{ id: "a", content: "other content" }] }),
      ),
      409,
      "BATCH_CONFLICT",
    );
    expect(error.details[0]).toMatchObject({ path: "batch_id" });
    await expectError(
      await server.app.request("/v1/batches?batch_id=ok-1", jsonInit([{ id: "z", content: "z" }])),
      409,
      "BATCH_CONFLICT",
    );
    await expectNothingKept();
  });

  it("413 PAYLOAD_TOO_LARGE from Content-Length, before reading", async () => {
    const body = JSON.stringify([{ id: "big", content: "x".repeat(MAX_BODY) }]);
    const res = await server.app.request("/v1/batches", {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) },
      body,
    });
    const error = await expectError(res, 413, "PAYLOAD_TOO_LARGE");
    // Refused from the header (it states the size), not after spooling the body.
    expect(error.details).toEqual([
      { path: "body", problem: `${Buffer.byteLength(body)} bytes, more than ${MAX_BODY}` },
    ]);
    await expectNothingKept();
  });

  it("415 UNSUPPORTED_MEDIA_TYPE for text/plain and for a body without a content type", async () => {
    const plain = await expectError(
      await server.app.request("/v1/batches", {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: "[]",
      }),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    );
    expect(plain.details[0]).toMatchObject({ path: "Content-Type" });
    expect(plain.message).toContain("text/plain");
    const none = await expectError(
      await server.app.request("/v1/batches", { method: "POST", body: new TextEncoder().encode("[]") }),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    );
    expect(none.details[0]).toMatchObject({ path: "Content-Type" });
    await expectNothingKept();
  });

  it("500 INTERNAL for an unexpected error, without its message or a stack", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(server.service, "metrics").mockRejectedValue(new Error("secret internals"));
    vi.spyOn(server.service, "analysis").mockImplementation(() => {
      throw new TypeError("secret internals: cannot read properties of undefined");
    });
    vi.spyOn(server.store, "listBatches").mockRejectedValue(new Error("secret internals"));
    vi.spyOn(server.service, "submit").mockRejectedValue(new RangeError("secret internals"));
    for (const [method, url] of [
      ["GET", "/metrics"],
      ["GET", "/v1/batches/ok-1"],
      ["GET", "/v1/batches"],
    ] as const) {
      const res = await server.app.request(url, { method });
      const raw = await res.clone().text();
      expect(raw).not.toContain("secret internals");
      const error = await expectError(res, 500, "INTERNAL");
      expect(error.message).not.toContain("secret");
    }
    const submit = await server.app.request("/v1/batches", jsonInit([{ id: "a", content: "x" }]));
    const raw = await submit.clone().text();
    expect(raw).not.toContain("secret internals");
    await expectError(submit, 500, "INTERNAL");
    // The error is logged on the server side, not sent.
    expect(logged).toHaveBeenCalled();
  });

  // Hono hands only `Error` instances to onError; a thrown non-Error value must still become the
  // contract's 500 body.
  it("500 INTERNAL also for a thrown value that is not an Error", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(server.store, "listBatches").mockRejectedValue("secret internals as a string");
    const res = await server.app.request("/v1/batches");
    await expectError(res, 500, "INTERNAL");
  });

  it("after every rejection: no new batch and no file left in the spool folder", async () => {
    await expectNothingKept();
  });
});

describe("routes: bodies rejected while they are read (nesting and size limits)", () => {
  let server: TestServer;
  const MAX_BODY = 4_096;

  serveForBlock(
    (started) => {
      server = started;
    },
    { maxBodyBytes: MAX_BODY, maxDepth: 8 },
  );

  async function tooDeepJsonl(): Promise<Response> {
    const lines = [
      { id: "a", content: "x" },
      { id: "b", content: "x", metadata: deepValue(12) },
    ];
    return server.app.request(
      "/v1/batches",
      jsonlInit(`${lines.map((l) => JSON.stringify(l)).join("\n")}\n`),
    );
  }

  async function tooLargeChunked(): Promise<Response> {
    const piece = (i: number) => `${JSON.stringify({ id: `p${i}`, content: "y".repeat(1_000) })}\n`;
    return server.app.request("/v1/batches", {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: chunkedBody(Array.from({ length: 8 }, (_, i) => piece(i))),
      duplex: "half",
    } as RequestInit);
  }

  it("400 INVALID_INPUT for JSON nested deeper than maxDepth", async () => {
    const error = await expectError(
      await server.app.request(
        "/v1/batches",
        jsonInit([{ id: "deep", content: "x", metadata: deepValue(12) }]),
      ),
      400,
      "INVALID_INPUT",
    );
    expect(error.details).toEqual([expect.objectContaining({ path: "body" })]);
    expect((await getJson<BatchList>(server.app, "/v1/batches")).batches).toEqual([]);
  });

  it("400 INVALID_INPUT for a JSON Lines line nested deeper than maxDepth, with its line", async () => {
    const error = await expectError(await tooDeepJsonl(), 400, "INVALID_INPUT");
    expect(error.details).toEqual([expect.objectContaining({ path: "body", line: 2 })]);
    expect((await getJson<BatchList>(server.app, "/v1/batches")).batches).toEqual([]);
  });

  it("413 PAYLOAD_TOO_LARGE for a chunked body without Content-Length that grows past the limit", async () => {
    const error = await expectError(await tooLargeChunked(), 413, "PAYLOAD_TOO_LARGE");
    expect(error.details).toEqual([expect.objectContaining({ path: "body" })]);
    expect((await getJson<BatchList>(server.app, "/v1/batches")).batches).toEqual([]);
  });

  // A body rejected while it is being read leaves nothing behind in the spool folder.
  it("a body rejected while it is read leaves no file in the spool folder", async () => {
    for (let i = 0; i < 3; i++) {
      expect((await tooDeepJsonl()).status).toBe(400);
      expect((await tooLargeChunked()).status).toBe(413);
    }
    expect(await spoolFiles(server.spoolDir)).toEqual([]);
  });
});

describe("routes: bearer token", () => {
  let server: TestServer;
  const TOKEN = "s3cret-token";
  const auth = { authorization: `Bearer ${TOKEN}` };

  serveForBlock(
    (started) => {
      server = started;
    },
    { token: TOKEN },
  );

  it("401 UNAUTHORIZED without a header, with a wrong token, or another scheme", async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong" },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Basic ${TOKEN}` },
      { authorization: `Token ${TOKEN}` },
      { authorization: TOKEN },
      { authorization: "Bearer " },
    ];
    for (const headers of attempts) {
      for (const url of ["/v1/batches", "/metrics", "/openapi.json", "/", "/v1/batches/x/status"]) {
        const error = await expectError(await server.app.request(url, { headers }), 401, "UNAUTHORIZED");
        expect(error.details[0]).toMatchObject({ path: "Authorization" });
      }
    }
    const post = await server.app.request(
      "/v1/batches",
      jsonInit([{ id: "a", content: "x" }], { headers: { authorization: "Bearer nope" } }),
    );
    await expectError(post, 401, "UNAUTHORIZED");
    expect(await spoolFiles(server.spoolDir)).toEqual([]);
  });

  it("/healthz and /readyz stay public", async () => {
    expect((await server.app.request("/healthz")).status).toBe(200);
    expect((await server.app.request("/readyz")).status).toBe(200);
  });

  it("the right token opens every route; ?access_token= works on GET, not on POST", async () => {
    const list = await getJson<BatchList>(server.app, "/v1/batches", auth);
    expect(list.batches).toEqual([]);
    const viaQuery = await server.app.request(`/v1/batches?access_token=${TOKEN}`);
    expect(viaQuery.status).toBe(200);
    await viaQuery.text();
    const lower = await server.app.request("/v1/batches", { headers: { authorization: `bearer ${TOKEN}` } });
    expect(lower.status).toBe(200);
    await lower.text();

    const postViaQuery = await server.app.request(
      `/v1/batches?access_token=${TOKEN}`,
      jsonInit([{ id: "a", content: "x" }]),
    );
    await expectError(postViaQuery, 401, "UNAUTHORIZED");
    const retryViaQuery = await server.app.request(`/v1/batches/x/retry?access_token=${TOKEN}`, {
      method: "POST",
    });
    await expectError(retryViaQuery, 401, "UNAUTHORIZED");
    expect((await getJson<BatchList>(server.app, "/v1/batches", auth)).batches).toEqual([]);

    const created = await accepted(
      await server.app.request(
        "/v1/batches?batch_id=t1",
        jsonInit([{ id: "a", content: text(1) }], { headers: auth }),
      ),
      202,
    );
    expect(created.batch_id).toBe("t1");
    const status = await waitSettled(server.app, "t1", { headers: auth });
    expect(status.counts.done).toBe(1);
    const unknown = await server.app.request("/v1/batches/none/status", { headers: auth });
    await expectError(unknown, 404, "BATCH_NOT_FOUND");
  });
});

describe("routes: shutting down", () => {
  let server: TestServer;

  serveForBlock((started) => {
    server = started;
  });

  it("/readyz: 200, then 503 SHUTTING_DOWN after shutdown(); POST /v1/batches: 503 SHUTTING_DOWN", async () => {
    const ready = await server.app.request("/readyz");
    expect(ready.status).toBe(200);
    await ready.text();
    await server.service.shutdown();
    await expectError(await server.app.request("/readyz"), 503, "SHUTTING_DOWN");
    await expectError(
      await server.app.request("/v1/batches", jsonInit([{ id: "a", content: "x" }])),
      503,
      "SHUTTING_DOWN",
    );
    const health = await server.app.request("/healthz");
    expect(health.status).toBe(200);
    await health.text();
    expect((await getJson<BatchList>(server.app, "/v1/batches")).batches).toEqual([]);
    expect(await spoolFiles(server.spoolDir)).toEqual([]);
  });
});

describe("routes: a closed store", () => {
  let server: TestServer;

  serveForBlock((started) => {
    server = started;
  });

  it("answers 500 INTERNAL with the safe message, no stack", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    await server.store.close();
    for (const url of ["/v1/batches", "/v1/batches/x", "/v1/batches/x/status", "/metrics"]) {
      const error = await expectError(await server.app.request(url), 500, "INTERNAL");
      expect(error.message).not.toMatch(/sqlite|not open/i);
    }
    await expectError(
      await server.app.request("/v1/batches", jsonInit([{ id: "a", content: "x" }])),
      500,
      "INTERNAL",
    );
    expect(logged).toHaveBeenCalled();
    logged.mockRestore();
    expect(await spoolFiles(server.spoolDir)).toEqual([]);
  });
});
