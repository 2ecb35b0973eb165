import { createRequire } from "node:module";

const version = (createRequire(import.meta.url)("../../package.json") as { version: string }).version;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const error = (description: string) => json(ref("Error"), description);
const batchId = { name: "id", in: "path", required: true, schema: { type: "string" } };
const errors = {
  "400": error("Invalid request: details locate every problem."),
  "401": error("Missing or wrong bearer token (with WWW-Authenticate)."),
  "403": error(
    "HOST_NOT_ALLOWED: a Host that is not a loopback name on a server without a token; CROSS_SITE_REQUEST: a state change from another site or origin.",
  ),
  "404": error("No such batch."),
  "500": error("Internal error (no stack trace)."),
};

/** The OpenAPI 3.1 description of the HTTP API, served at GET /openapi.json. */
export function openApiDocument(): object {
  return {
    openapi: "3.1.0",
    info: {
      title: "docbatch",
      version,
      description:
        "Resumable, idempotent, observable batch processing of documents. Every error is the unified error body.",
    },
    security: [{ bearer: [] }],
    paths: {
      "/v1/batches": {
        post: {
          summary: "Submit a batch (JSON or JSON Lines); validated as a whole, processed in the background.",
          parameters: [
            { name: "batch_id", in: "query", schema: { type: "string" } },
            {
              name: "sync",
              in: "query",
              description:
                "`full`: once the body is planned, the batch's documents it no longer holds end `deleted` (their chunks leave the export, search and every sink); a new body for an existing batch id is then its new input instead of a conflict. `accumulate` (default): they keep their output.",
              schema: { type: "string", enum: ["accumulate", "full"], default: "accumulate" },
            },
          ],
          requestBody: {
            required: true,
            content: {
              "application/json": { schema: ref("BatchInput") },
              "application/x-ndjson": { schema: { type: "string", description: "One Document per line." } },
            },
          },
          responses: {
            "202": json(ref("Accepted"), "Accepted: planned and processed in the background."),
            "200": json(ref("Accepted"), "The same content was submitted before under this id."),
            "409": error(
              "BATCH_CONFLICT: a batch with this id exists with different content (and sync is not full); BATCH_RUNNING: with sync=full, the batch is being processed.",
            ),
            "413": error("The body is larger than the server's limit."),
            "415": error("Unsupported Content-Type."),
            ...errors,
          },
        },
        get: {
          summary: "List the batches.",
          responses: { "200": json({ type: "object" }, "Batches with counts."), ...errors },
        },
      },
      "/v1/batches/{id}": {
        get: {
          summary: "The report.",
          parameters: [batchId],
          responses: { "200": json(ref("Report"), "The report."), ...errors },
        },
        delete: {
          summary:
            "Delete the batch with all it owns (documents, chunks, search index rows, outbox, events, runs, settings); its sinks receive the deletes of its chunks first.",
          parameters: [
            batchId,
            {
              name: "drop_sinks",
              in: "query",
              description: "`true`: delete without delivering to the sinks (they keep what they hold).",
              schema: { type: "boolean", default: false },
            },
          ],
          responses: {
            "200": json(
              {
                type: "object",
                required: ["batch_id", "documents", "sinks"],
                properties: {
                  batch_id: { type: "string" },
                  documents: { type: "integer" },
                  sinks: { type: "array", items: { type: "object" } },
                },
              },
              "Deleted.",
            ),
            "409": error("BATCH_RUNNING: the batch is being processed; cancel it first."),
            "503": error(
              "SINKS_BEHIND: a sink did not receive the deletes; the batch is kept, delete again.",
            ),
            ...errors,
          },
        },
      },
      "/v1/batches/{id}/status": {
        get: {
          summary: "Counts, failed and degraded documents, and live progress.",
          parameters: [batchId],
          responses: { "200": json({ type: "object" }, "Status."), ...errors },
        },
      },
      "/v1/batches/{id}/documents": {
        get: {
          summary: "Documents, paged (keyset), optionally by state and error code.",
          parameters: [
            batchId,
            {
              name: "state",
              in: "query",
              schema: { type: "string", enum: ["pending", "processing", "done", "degraded", "failed"] },
            },
            { name: "reason", in: "query", schema: { type: "string" } },
            {
              name: "limit",
              in: "query",
              schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
            },
            { name: "after", in: "query", schema: { type: "integer", minimum: 0 } },
          ],
          responses: {
            "200": json({ type: "object" }, "A page of documents and the link to the next."),
            ...errors,
          },
        },
      },
      "/v1/batches/{id}/search": {
        get: {
          summary:
            "The k chunks nearest to q by cosine similarity, best first; q is embedded with the batch's own embedder and layer.",
          parameters: [
            batchId,
            { name: "q", in: "query", required: true, schema: { type: "string", minLength: 1 } },
            { name: "k", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000, default: 5 } },
          ],
          responses: { "200": json(ref("SearchResults"), "The nearest chunks."), ...errors },
        },
      },
      "/v1/batches/{id}/sinks": {
        get: {
          summary: "The batch's sinks: acknowledged outbox seq, lag, last error and breaker state.",
          parameters: [batchId],
          responses: { "200": json({ type: "object" }, "Sinks."), ...errors },
        },
      },
      "/v1/batches/{id}/export": {
        get: {
          summary: "The chunks as JSON Lines, streamed, ordered by doc_id then chunk_index.",
          parameters: [batchId, { name: "embeddings", in: "query", schema: { type: "boolean" } }],
          responses: {
            "200": { description: "JSON Lines", content: { "application/x-ndjson": {} } },
            ...errors,
          },
        },
      },
      "/v1/batches/{id}/retry": {
        post: {
          summary: "Put failed (and degraded) documents back to pending and process them.",
          parameters: [
            batchId,
            { name: "degraded", in: "query", schema: { type: "boolean" } },
            { name: "reason", in: "query", schema: { type: "string" } },
            { name: "doc_id", in: "query", schema: { type: "string" } },
            { name: "source", in: "query", schema: { type: "string" } },
          ],
          responses: { "202": json({ type: "object" }, "Re-queued."), ...errors },
        },
      },
      "/v1/batches/{id}/cancel": {
        post: {
          summary: "Stop processing (checkpointed; resumable).",
          parameters: [batchId],
          responses: { "200": json({ type: "object" }, "Cancelled."), ...errors },
        },
      },
      "/v1/batches/{id}/resume": {
        post: {
          summary: "Resume a cancelled batch.",
          parameters: [batchId],
          responses: { "202": json({ type: "object" }, "Resumed."), ...errors },
        },
      },
      "/v1/batches/{id}/events": {
        get: {
          summary: "Server-sent events: `progress` with counts, rates, latency and sinks, twice a second.",
          parameters: [batchId],
          responses: {
            "200": { description: "text/event-stream", content: { "text/event-stream": {} } },
            ...errors,
            "503": error("TOO_MANY_STREAMS: the server's cap on open event streams is reached."),
          },
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus metrics of every batch.",
          responses: { "200": { description: "text/plain; version=0.0.4" } },
        },
      },
      "/healthz": {
        get: { summary: "Liveness.", security: [], responses: { "200": json({ type: "object" }, "ok") } },
      },
      "/readyz": {
        get: {
          summary: "Readiness.",
          security: [],
          responses: { "200": json({ type: "object" }, "ready"), "503": error("Shutting down.") },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["code", "message", "details", "hints"],
              properties: {
                code: { type: "string", pattern: "^[A-Z][A-Z0-9_]*$" },
                message: { type: "string" },
                details: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: { path: { type: "string" }, problem: { type: "string" } },
                  },
                },
                hints: { type: "array", items: { type: "string" } },
              },
            },
          },
        },
        Document: {
          type: "object",
          required: ["id"],
          properties: {
            id: { type: "string" },
            source: { type: "string", default: "inline" },
            content: { type: "string" },
            content_base64: {
              type: "string",
              format: "byte",
              description: "The document's bytes (a PDF or DOCX, or UTF-8 text), instead of content or path.",
            },
            path: { type: "string", description: "Only when the server was started with --root." },
            format: { type: "string", enum: ["text", "markdown", "html", "json", "pdf", "docx"] },
            metadata: { type: "object" },
          },
        },
        BatchInput: {
          oneOf: [
            {
              type: "object",
              required: ["documents"],
              properties: {
                batch_id: { type: "string" },
                documents: { type: "array", items: ref("Document") },
              },
            },
            { type: "array", items: ref("Document") },
          ],
        },
        Accepted: {
          type: "object",
          properties: {
            batch_id: { type: "string" },
            created: { type: "boolean" },
            links: { type: "object" },
          },
        },
        Report: { type: "object", description: "The report of CONTRACT.md, plus docbatch's own fields." },
        SearchResults: {
          type: "object",
          required: ["batch_id", "query", "results"],
          properties: {
            batch_id: { type: "string" },
            query: { type: "string" },
            index: { type: "string", enum: ["sqlite-vec", "pgvector", "exact-scan"] },
            results: {
              type: "array",
              items: {
                type: "object",
                required: ["doc_id", "source", "chunk_index", "score", "text", "metadata", "idempotency_key"],
                properties: {
                  doc_id: { type: "string" },
                  source: { type: "string" },
                  chunk_index: { type: "integer" },
                  score: { type: "number", description: "Cosine similarity, 1 for the same direction." },
                  text: { type: "string" },
                  metadata: { type: "object" },
                  idempotency_key: { type: "string" },
                },
              },
            },
          },
        },
      },
    },
  };
}
