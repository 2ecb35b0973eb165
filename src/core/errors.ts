/**
 * One error type for everything docbatch reports, and one table that says, per stable code, how it
 * is classified (retryable or permanent), which HTTP status and exit code it maps to, and what the
 * user should do about it. No call site decides these things on its own.
 */

export interface ErrorDetail {
  path?: string;
  line?: number;
  problem: string;
  [key: string]: unknown;
}

export interface ErrorBody {
  error: { code: string; message: string; details: ErrorDetail[]; hints: string[] };
}

/** What the runner does with a document whose attempt failed with this code. */
export type FailureKind =
  /** Try the same stage again after a backoff. */
  | "retryable"
  /** No retry can help; take the fallback path if the stage has one. */
  | "permanent"
  /** No path can complete the document: it ends `failed`. */
  | "fatal";

interface CodeSpec {
  status: number;
  kind: FailureKind;
  hint: string;
}

const CODES = {
  // Client mistakes: exit 2, HTTP 4xx.
  INVALID_INPUT: { status: 400, kind: "fatal", hint: "Fix the problems listed in details and run again." },
  INVALID_JSON: {
    status: 400,
    kind: "fatal",
    hint: "The input is not valid JSON; check the line and column in details.",
  },
  DUPLICATE_ID: {
    status: 400,
    kind: "fatal",
    hint: "Two documents share a source and id but differ in content; give them distinct ids or remove one.",
  },
  INPUT_NOT_FOUND: {
    status: 400,
    kind: "fatal",
    hint: "Check the input path; it must be a file or a directory.",
  },
  USAGE: { status: 400, kind: "fatal", hint: "Run `docbatch --help` for the commands and their options." },
  BATCH_NOT_FOUND: {
    status: 404,
    kind: "fatal",
    hint: "List the batches of this store with `docbatch batches`, or check --db / --store.",
  },
  BATCH_RUNNING: {
    status: 409,
    kind: "fatal",
    hint: "Stop the processes working on the batch (or wait for them to finish), then delete it.",
  },
  BATCH_CONFLICT: {
    status: 409,
    kind: "fatal",
    hint: "Use another batch id, or submit the same content.",
  },
  UNAUTHORIZED: {
    status: 401,
    kind: "fatal",
    hint: "Send the server's token as `Authorization: Bearer <token>`.",
  },
  NOT_FOUND_ROUTE: { status: 404, kind: "fatal", hint: "See GET /openapi.json for the routes." },
  HOST_NOT_ALLOWED: {
    status: 403,
    kind: "fatal",
    hint: "Use http://127.0.0.1 or http://localhost; behind a proxy, start the server with --allow-host NAME or --token.",
  },
  CROSS_SITE_REQUEST: {
    status: 403,
    kind: "fatal",
    hint: "Send the request from the dashboard of this server, or from a tool (no Origin header).",
  },
  REQUEST_ABORTED: {
    status: 400,
    kind: "fatal",
    hint: "The connection closed before the body was complete; send it again.",
  },
  TOO_MANY_STREAMS: {
    status: 503,
    kind: "fatal",
    hint: "Close other event streams (dashboards), or raise the server's --max-event-streams.",
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    kind: "fatal",
    hint: "Split the batch, send it as JSON Lines, or raise the server's body limit.",
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    kind: "fatal",
    hint: "Send application/json or application/x-ndjson.",
  },
  // Document failures: recorded on the document, never thrown to the user.
  PARSE_ERROR: {
    status: 500,
    kind: "retryable",
    hint: "The parser failed; after the last attempt the document is completed by plain-text fallback.",
  },
  MALFORMED_CONTENT: {
    status: 422,
    kind: "permanent",
    hint: "The content does not match its format; it was completed by plain-text fallback. Fix the format field or the content.",
  },
  NOT_FOUND: {
    status: 404,
    kind: "fatal",
    hint: "The document's file does not exist; create it, then `docbatch retry --reason NOT_FOUND` and run the batch again.",
  },
  UNREADABLE: {
    status: 422,
    kind: "fatal",
    hint: "The document could not be read as its format (not UTF-8 text, or a corrupt, encrypted or truncated PDF or DOCX); fix or convert the file, or remove it from the input.",
  },
  NO_TEXT: {
    status: 422,
    kind: "permanent",
    hint: "The document has no extractable text (a scanned PDF holds images of pages); run OCR on it first, then `docbatch retry --degraded`.",
  },
  MODEL_NOT_FOUND: {
    status: 400,
    kind: "fatal",
    hint: "Give --embed-model-dir a folder with config.json, tokenizer.json and onnx/model.onnx, e.g. one exported from Hugging Face: `git clone https://huggingface.co/Xenova/all-MiniLM-L6-v2` (with git-lfs), or `huggingface-cli download Xenova/bge-small-en-v1.5 --local-dir DIR`.",
  },
  MODEL_UNAVAILABLE: {
    status: 500,
    kind: "fatal",
    hint: "The local model needs the optional packages: `npm install @huggingface/transformers onnxruntime-node`.",
  },
  DOC_TOO_LARGE: {
    status: 413,
    kind: "fatal",
    hint: "Split the document, or raise --max-doc-bytes.",
  },
  DOC_TIMEOUT: {
    status: 504,
    kind: "retryable",
    hint: "Processing took longer than --doc-timeout-ms; raise it for very large documents.",
  },
  EMBED_TIMEOUT: {
    status: 504,
    kind: "retryable",
    hint: "The embeddings service did not answer in time; raise --embed-timeout-ms or lower --embed-batch-size.",
  },
  EMBED_RATE_LIMITED: {
    status: 429,
    kind: "retryable",
    hint: "The embeddings service is rate limiting; lower --concurrency.",
  },
  EMBED_UNAVAILABLE: {
    status: 503,
    kind: "retryable",
    hint: "The embeddings service failed or could not be reached; check --embed-url and the service's health.",
  },
  EMBED_BAD_RESPONSE: {
    status: 502,
    kind: "retryable",
    hint: "The embeddings service answered something that is not a valid embeddings response; check --embed-url and --embed-model.",
  },
  EMBED_RESPONSE_TOO_LARGE: {
    status: 502,
    kind: "permanent",
    hint: "The embeddings service answered more than a response of this size can hold; the chunks were kept without vectors. Check --embed-url and --embed-model, or lower --embed-batch-size, then backfill with `docbatch retry --degraded`.",
  },
  EMBED_REJECTED: {
    status: 400,
    kind: "permanent",
    hint: "The embeddings service refused the request (4xx); check the model name, the API key and input limits.",
  },
  CIRCUIT_OPEN: {
    status: 503,
    kind: "permanent",
    hint: "The embeddings service stayed down longer than --breaker-max-wait-ms; backfill with `docbatch retry --degraded`.",
  },
  FAIL_BUDGET_EXCEEDED: {
    status: 503,
    kind: "fatal",
    hint: "Too many documents failed; fix the cause in failure_reasons, then run the same command again to resume.",
  },
  SCHEMA_TOO_NEW: {
    status: 500,
    kind: "fatal",
    hint: "The store was written by a newer docbatch; upgrade docbatch.",
  },
  STORE_UNAVAILABLE: {
    status: 503,
    kind: "fatal",
    hint: "Check that the store is reachable (--db path writable, or --store URL), then run the same command again: it resumes from the checkpoint. --store-retry-ms sets how long a run rides out an outage.",
  },
  STORE_FULL: {
    status: 507,
    kind: "fatal",
    hint: "Free disk space where the store lives (or move it with --db), then run the same command again: it resumes from the checkpoint, and nothing committed is lost or written twice.",
  },
  PLAN_LOCK_LOST: {
    status: 409,
    kind: "fatal",
    hint: "Another process took over planning this batch; this one stopped writing the plan.",
  },
  PLAN_INCOMPLETE: {
    status: 503,
    kind: "fatal",
    hint: "The process planning this batch stopped before the end of its input, and the input cannot be read here: run `docbatch submit INPUT` (or `docbatch run INPUT`) with the same input and store where it can be read; workers then carry on.",
  },
  SINK_UNAVAILABLE: {
    status: 503,
    kind: "retryable",
    hint: "The sink could not be reached or refused the write; delivery resumes from its cursor (`docbatch sync --batch-id ID`).",
  },
  SINK_REJECTED: {
    status: 502,
    kind: "retryable",
    hint: "The sink refused the data (e.g. a table with vectors of another dimension); give the batch a sink of its own.",
  },
  SINK_NOT_CONFIGURED: {
    status: 400,
    kind: "fatal",
    hint: "Pass the sink as --sink URI (or the Sink object to the library) in the process that delivers it.",
  },
  SINK_BUSY: {
    status: 409,
    kind: "fatal",
    hint: "Another process is delivering to this sink; repair it when that process has finished.",
  },
  SINKS_BEHIND: {
    status: 503,
    kind: "fatal",
    hint: "Run `docbatch sync --batch-id ID` to deliver the rest; `docbatch status` shows each sink's lag and last error.",
  },
  SHUTTING_DOWN: { status: 503, kind: "fatal", hint: "The server is shutting down; try again shortly." },
  INTERNAL: {
    status: 500,
    kind: "retryable",
    hint: "This is a bug in docbatch; run again with --log-level debug and report the log.",
  },
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof CODES;

function spec(code: string): CodeSpec {
  return (CODES as Record<string, CodeSpec>)[code] ?? CODES.INTERNAL;
}

export function failureKind(code: string): FailureKind {
  return spec(code).kind;
}

export function httpStatus(code: string): number {
  return spec(code).status;
}

/** Client mistakes exit 2, everything else 1 (the contract's exit codes). */
export function exitCode(code: string): number {
  return spec(code).status < 500 ? 2 : 1;
}

export interface DocbatchErrorOptions {
  details?: ErrorDetail[];
  hints?: string[];
  cause?: unknown;
  /** Overrides the status of the code table (e.g. a 500 mapped to 503 by the server). */
  status?: number;
  /** Seconds the caller should wait before trying again (429/503 from an HTTP service). */
  retryAfterMs?: number;
}

export class DocbatchError extends Error {
  readonly code: string;
  readonly details: ErrorDetail[];
  readonly hints: string[];
  readonly status: number;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode | string, message: string, options: DocbatchErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DocbatchError";
    this.code = code;
    this.details = options.details ?? [];
    this.hints = options.hints ?? [spec(code).hint];
    this.status = options.status ?? spec(code).status;
    this.retryAfterMs = options.retryAfterMs;
  }

  get kind(): FailureKind {
    return failureKind(this.code);
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, details: this.details, hints: this.hints } };
  }
}

/** A DocbatchError as it crosses to another thread: a structured clone keeps fields, not classes. */
export interface WireError {
  code: string;
  message: string;
  details?: ErrorDetail[];
  hints?: string[];
  retryAfterMs?: number;
}

/** Any thrown value as a `WireError` (see toDocbatchError). */
export function toWireError(err: unknown): WireError {
  const e = toDocbatchError(err);
  const wire: WireError = { code: e.code, message: e.message, details: e.details, hints: e.hints };
  if (e.retryAfterMs !== undefined) wire.retryAfterMs = e.retryAfterMs;
  return wire;
}

/** The DocbatchError a `WireError` stands for, on the thread that receives it. */
export function fromWireError({ code, message, details, hints, retryAfterMs }: WireError): DocbatchError {
  return new DocbatchError(code, message, {
    ...(details ? { details } : {}),
    ...(hints ? { hints } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

/** Any thrown value as a DocbatchError; unknown errors become INTERNAL without leaking a stack. */
export function toDocbatchError(err: unknown): DocbatchError {
  if (err instanceof DocbatchError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DocbatchError("INTERNAL", message || "unexpected error", { cause: err });
}

export function errorBody(err: unknown): ErrorBody {
  return toDocbatchError(err).toBody();
}

/** The error of a batch id the store does not hold, alike from the library, the CLI and HTTP. */
export function batchNotFound(batchId: string): DocbatchError {
  return new DocbatchError("BATCH_NOT_FOUND", `The store holds no batch \`${batchId}\`.`, {
    details: [{ path: "batch_id", problem: `no batch ${JSON.stringify(batchId)}` }],
    hints: [
      "List the batches of the store with `docbatch batches` (or listBatches(store)), or check --db / --store.",
    ],
  });
}

/** Another input owns this batch id (a submission raced or came later with different content). */
export function batchConflict(batchId: string): DocbatchError {
  return new DocbatchError("BATCH_CONFLICT", `A batch \`${batchId}\` exists with different content.`, {
    details: [{ path: "batch_id", problem: "exists with different content" }],
    hints: ["Use another batch id, or submit the same content to get the existing batch."],
  });
}
