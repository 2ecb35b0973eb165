import type { Context, Hono } from "hono";
import { stream, streamSSE } from "hono/streaming";
import type { BlankEnv } from "hono/types";
import { DocbatchError } from "../core/errors.js";
import { DOCUMENT_STATES, type SyncMode } from "../core/types.js";
import { sinkReport } from "../report/sinks.js";
import { batchStatus } from "../report/status.js";
import { MAX_SEARCH_K, searchBatch } from "../runner/search-batch.js";
import type { AppOptions } from "./app.js";
import { exportStream } from "./export-stream.js";
import { LiveFeed } from "./live-feed.js";
import type { BatchService } from "./service.js";

/** A request on one batch: `c.req.param("id")` is its id. */
type BatchContext = Context<BlankEnv, "/v1/batches/:id">;
type Problem = { path: string; problem: string };

const JSON_TYPES = ["application/json"];
const JSONL_TYPES = [
  "application/x-ndjson",
  "application/jsonl",
  "application/x-jsonlines",
  "application/ndjson",
];

/** `POST /v1/batches` (submit) and `GET /v1/batches` (list). */
export function mountBatchListRoutes(app: Hono, service: BatchService, options: AppOptions): void {
  app.post("/v1/batches", async (c) => {
    const kind = bodyKind(c.req.header("content-type"));
    checkDeclaredLength(c.req.header("content-length"), options.maxBodyBytes);
    const submitted = await service.submit(
      c.req.raw.body,
      kind,
      c.req.query("batch_id"),
      syncQuery(c.req.query("sync")),
    );
    return c.json(
      { batch_id: submitted.batchId, created: submitted.created, links: links(submitted.batchId) },
      submitted.created ? 202 : 200,
    );
  });

  app.get("/v1/batches", async (c) => {
    const batches = [];
    for (const batch of await service.store.listBatches()) {
      batches.push({
        batch_id: batch.batchId,
        created_at: new Date(batch.createdAt).toISOString(),
        counts: await service.store.counts(batch.batchId),
        running: service.isRunning(batch.batchId),
        cancelled: batch.cancelledAt !== null,
        plan_complete: batch.planComplete,
        links: links(batch.batchId),
      });
    }
    return c.json({ batches });
  });
}

/** What a batch is: its report, status, documents, search, sinks and export. */
export function mountBatchReadRoutes(app: Hono, service: BatchService): void {
  app.get("/v1/batches/:id", async (c) => c.json((await service.analysis(c.req.param("id"))).report));

  app.get("/v1/batches/:id/status", async (c) => {
    const id = c.req.param("id");
    await service.requireBatch(id);
    return c.json({ ...(await batchStatus(service.store, id)), ...(await service.live(id)) });
  });

  app.get("/v1/batches/:id/documents", (c) => documentsPage(c, service));
  app.get("/v1/batches/:id/search", (c) => searchDocuments(c, service));

  app.get("/v1/batches/:id/sinks", async (c) => {
    const id = c.req.param("id");
    await service.requireBatch(id);
    return c.json({ batch_id: id, sinks: await sinkReport(service.store, id) });
  });

  app.get("/v1/batches/:id/export", async (c) => {
    const id = c.req.param("id");
    await service.requireBatch(id);
    const withEmbeddings = c.req.query("embeddings") === "true";
    c.header("content-type", "application/x-ndjson");
    return stream(c, async (out) => {
      // Read on a thread of its own, or in slices: other requests are answered meanwhile.
      for await (const piece of exportStream(service.store, id, withEmbeddings)) {
        if (out.aborted) return;
        await out.write(piece);
      }
    });
  });
}

/** What changes a batch: retry, delete, cancel and resume. */
export function mountBatchActionRoutes(app: Hono, service: BatchService): void {
  app.post("/v1/batches/:id/retry", async (c) => {
    const id = c.req.param("id");
    const reason = c.req.query("reason");
    const docId = c.req.query("doc_id")?.normalize("NFC").trim();
    const source = c.req.query("source");
    const requeued = await service.retry(id, {
      failed: c.req.query("failed") !== "false",
      degraded: c.req.query("degraded") === "true" || docId !== undefined,
      ...(reason ? { reason } : {}),
      ...(docId !== undefined ? { docId } : {}),
      ...(source !== undefined ? { source } : {}),
    });
    return c.json({ batch_id: id, requeued, links: links(id) }, 202);
  });

  app.delete("/v1/batches/:id", async (c) => {
    const id = c.req.param("id");
    const result = await service.deleteBatch(id, c.req.query("drop_sinks") === "true");
    return c.json(result);
  });

  app.post("/v1/batches/:id/cancel", async (c) => {
    const id = c.req.param("id");
    await service.cancel(id);
    return c.json({ batch_id: id, cancelled: true, counts: await service.store.counts(id) });
  });

  app.post("/v1/batches/:id/resume", async (c) => {
    const id = c.req.param("id");
    await service.resume(id);
    return c.json({ batch_id: id, cancelled: false, links: links(id) }, 202);
  });
}

/** `GET /v1/batches/:id/events`: server-sent progress of a batch. */
export function mountEventRoutes(app: Hono, service: BatchService, options: AppOptions): void {
  const feed = new LiveFeed({
    compute: (id) => progressEvent(service, id),
    intervalMs: options.eventIntervalMs ?? 500,
    maxStreams: options.maxEventStreams ?? 500,
  });
  app.get("/v1/batches/:id/events", async (c) => {
    const id = c.req.param("id");
    await service.requireBatch(id);
    // One computation per interval for all streams of the batch; 503 past the cap.
    const subscription = feed.subscribe(id);
    return streamSSE(c, async (sse) => {
      sse.onAbort(() => subscription.close());
      try {
        for (let sequence = 0; ; sequence++) {
          const data = await subscription.next();
          if (data === null || sse.aborted || sse.closed) return;
          await sse.writeSSE({ event: "progress", id: String(sequence), data });
        }
      } finally {
        subscription.close();
      }
    });
  });
}

export function links(batchId: string) {
  const base = `/v1/batches/${encodeURIComponent(batchId)}`;
  return {
    self: base,
    status: `${base}/status`,
    documents: `${base}/documents`,
    export: `${base}/export`,
    events: `${base}/events`,
    retry: `${base}/retry`,
    cancel: `${base}/cancel`,
    resume: `${base}/resume`,
  };
}

/** Whether a submission's body is JSON or JSON Lines, from its Content-Type. */
function bodyKind(contentType: string | undefined): "json" | "jsonl" {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (JSON_TYPES.includes(type)) return "json";
  if (JSONL_TYPES.includes(type)) return "jsonl";
  throw new DocbatchError("UNSUPPORTED_MEDIA_TYPE", `Cannot read a body of type \`${type || "(none)"}\`.`, {
    details: [{ path: "Content-Type", problem: `expected ${[...JSON_TYPES, ...JSONL_TYPES].join(" or ")}` }],
  });
}

/** Refuses a body whose declared length is already too large; the stream is counted again as read. */
function checkDeclaredLength(contentLength: string | undefined, maxBodyBytes: number): void {
  const length = Number(contentLength ?? "0");
  if (length > maxBodyBytes) {
    throw new DocbatchError("PAYLOAD_TOO_LARGE", `The body is larger than ${maxBodyBytes} bytes.`, {
      details: [{ path: "body", problem: `${length} bytes, more than ${maxBodyBytes}` }],
    });
  }
}

/** The `sync` query parameter of a submission: `accumulate` (the default) or `full`. */
function syncQuery(value: string | undefined): SyncMode {
  if (value === undefined || value === "" || value === "accumulate") return "accumulate";
  if (value === "full") return "full";
  throw new DocbatchError("USAGE", `Expected \`sync\` to be accumulate or full, got \`${value}\`.`, {
    details: [{ path: "sync", problem: "must be accumulate or full" }],
  });
}

function throwInvalidQuery(details: Problem[]): void {
  if (details.length > 0) throw new DocbatchError("INVALID_INPUT", "Invalid query parameters.", { details });
}

/** `GET /v1/batches/:id/documents`: one page of documents, filtered by state and reason. */
async function documentsPage(c: BatchContext, service: BatchService) {
  const id = c.req.param("id");
  await service.requireBatch(id);
  const states = c.req.queries("state")?.flatMap((s) => s.split(",")) ?? [];
  const limit = Number(c.req.query("limit") ?? "100");
  const after = Number(c.req.query("after") ?? "0");
  throwInvalidQuery(documentsQueryProblems(states, limit, after));
  const reason = c.req.query("reason");
  const docs = await service.store.listDocuments(id, {
    ...(states.length > 0 ? { states } : {}),
    ...(reason ? { reason } : {}),
    limit,
    afterRow: after,
  });
  const last = docs.at(-1);
  return c.json({
    documents: docs.map((d) => ({
      id: d.docId,
      source: d.source,
      state: d.state,
      attempts: d.attempts,
      last_error: d.lastError,
      degraded_reason: d.degradedReason,
      chunk_count: d.chunkCount,
      updated_at: d.updatedAt === null ? null : new Date(d.updatedAt).toISOString(),
    })),
    next:
      docs.length === limit && last
        ? `/v1/batches/${encodeURIComponent(id)}/documents?${nextQuery(c.req.url, last.row)}`
        : null,
  });
}

function documentsQueryProblems(states: string[], limit: number, after: number): Problem[] {
  const bad = states.filter((s) => !DOCUMENT_STATES.includes(s as never));
  return [
    ...bad.map((s) => ({
      path: "state",
      problem: `unknown state ${JSON.stringify(s)}; one of ${DOCUMENT_STATES.join(", ")}`,
    })),
    ...(!Number.isInteger(limit) || limit < 1 || limit > 1_000
      ? [{ path: "limit", problem: "an integer from 1 to 1000" }]
      : []),
    ...(!Number.isInteger(after) || after < 0 ? [{ path: "after", problem: "a non-negative integer" }] : []),
  ];
}

/** `GET /v1/batches/:id/search`: the k chunks nearest to the query text. */
async function searchDocuments(c: BatchContext, service: BatchService) {
  const id = c.req.param("id");
  const q = c.req.query("q") ?? "";
  const kText = c.req.query("k");
  const k = kText === undefined ? 5 : Number(kText);
  throwInvalidQuery([
    ...(q.trim() === "" ? [{ path: "q", problem: "required: the text to search for" }] : []),
    ...(!Number.isInteger(k) || k < 1 || k > MAX_SEARCH_K
      ? [{ path: "k", problem: `an integer from 1 to ${MAX_SEARCH_K}` }]
      : []),
  ]);
  await service.requireBatch(id);
  return c.json(await searchBatch({ store: service.store, batchId: id, query: q, k }));
}

function nextQuery(url: string, after: number): string {
  const params = new URL(url).searchParams;
  params.set("after", String(after));
  params.delete("access_token");
  return params.toString();
}

/** What every event stream of a batch receives: live counts and progress, and the report's rates. */
async function progressEvent(service: BatchService, batchId: string) {
  const live = await service.live(batchId);
  const { report } = await service.analysis(batchId);
  return {
    ...live,
    throughput_docs_per_min: report.throughput_docs_per_min,
    fail_rate: report.fail_rate,
    dup_rate: report.dup_rate,
    duplicate_executions: report.duplicate_executions,
    latency_ms: report.latency_ms,
    failure_reasons: report.failure_reasons,
    retries: report.retries,
    texts_embedded: report.texts_embedded,
    cache_hits: report.cache_hits,
    cache_hit_rate: report.cache_hit_rate,
    // The sinks are read fresh: lag moves between two reports.
    sinks: await sinkReport(service.store, batchId),
  };
}
