import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Hono } from "hono";
import { afterAll, beforeAll, expect } from "vitest";
import { createLogger } from "../../src/runner/logger.js";
import { type AppOptions, createApp } from "../../src/server/app.js";
import { BatchService } from "../../src/server/service.js";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import { expectHints } from "./fixtures.js";

export interface TestServer {
  app: Hono;
  service: BatchService;
  store: SqliteStore;
  dir: string;
  spoolDir: string;
  /** The folder `path` documents resolve in (only when `root: true`). */
  root: string | null;
  /** Shuts the service down, closes the store and removes the folder. */
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Give the service a `root` folder (path documents allowed). @default false */
  root?: boolean;
  token?: string;
  maxBodyBytes?: number;
  maxDepth?: number;
  concurrency?: number;
}

/** The HTTP API in-process: a fresh SQLite store in a temporary folder, no socket. */
/**
 * Starts a test server before the tests of the enclosing `describe` block and closes it after
 * them; `use` receives it once started.
 */
export function serveForBlock(use: (server: TestServer) => void, options: TestServerOptions = {}): void {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startTestServer(options);
    use(server);
  });
  afterAll(async () => {
    await server?.close();
  });
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "docbatch-routes-"));
  const spoolDir = path.join(dir, "spool");
  const root = options.root ? path.join(dir, "root") : null;
  if (root) fs.mkdirSync(root, { recursive: true });
  const store = new SqliteStore({ file: path.join(dir, "db.sqlite"), durability: "normal" });
  await store.open();
  const maxBodyBytes = options.maxBodyBytes ?? 1 << 20;
  const service = new BatchService({
    store,
    spoolDir,
    ...(root ? { root } : {}),
    limits: { maxBytes: maxBodyBytes, maxDepth: options.maxDepth ?? 16 },
    process: { concurrency: options.concurrency ?? 2 },
    output: {},
    logger: createLogger(undefined),
  });
  const appOptions: AppOptions = { maxBodyBytes, eventIntervalMs: 100 };
  if (options.token) appOptions.token = options.token;
  const app = createApp(service, appOptions);
  return {
    app,
    service,
    store,
    dir,
    spoolDir,
    root,
    async close() {
      await service.shutdown();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ApiError {
  code: string;
  message: string;
  details: { path?: string; line?: number; problem: string; [key: string]: unknown }[];
  hints: string[];
}

const UPPER_SNAKE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;

/**
 * Asserts the contract's error body on a response: the status, a JSON body that is exactly
 * `{"error": {code, message, details, hints}}` with an UPPER_SNAKE_CASE code, details that locate
 * the problem (non-empty for client errors), non-empty hints, and no stack trace anywhere.
 */
export async function expectError(res: Response, status: number, code: string): Promise<ApiError> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type") ?? "").toMatch(/^application\/json/);
  expect(text, "no stack trace in the body").not.toMatch(/\n?\s{2,}at\s/);
  expect(text).not.toMatch(/at .*\.(ts|js):\d+/);
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(body)).toEqual(["error"]);
  const error = body.error as ApiError;
  expect(Object.keys(error).sort()).toEqual(["code", "details", "hints", "message"]);
  expect(error.code).toMatch(UPPER_SNAKE);
  expect(error.code, error.message).toBe(code);
  expect(typeof error.message).toBe("string");
  expect(error.message.length).toBeGreaterThan(0);
  expect(Array.isArray(error.details)).toBe(true);
  if (status < 500) expect(error.details.length, "details locate the problem").toBeGreaterThan(0);
  for (const detail of error.details) {
    expect(typeof detail.problem, JSON.stringify(detail)).toBe("string");
    expect(
      typeof detail.path === "string" || typeof detail.line === "number",
      `a detail with a path or a line: ${JSON.stringify(detail)}`,
    ).toBe(true);
  }
  expectHints(error.hints);
  return error;
}

export function jsonInit(body: unknown, init: RequestInit = {}): RequestInit {
  return {
    ...init,
    method: init.method ?? "POST",
    headers: { "content-type": "application/json", ...(init.headers as Record<string, string>) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}

export function jsonlInit(body: string | Uint8Array, init: RequestInit = {}): RequestInit {
  return {
    ...init,
    method: init.method ?? "POST",
    headers: { "content-type": "application/x-ndjson", ...(init.headers as Record<string, string>) },
    body: body as NonNullable<RequestInit["body"]>,
  };
}

export async function getJson<T = Record<string, unknown>>(
  app: Hono,
  url: string,
  headers: Record<string, string> = {},
): Promise<T> {
  const res = await app.request(url, { headers });
  const text = await res.text();
  expect(res.status, `${url}: ${text}`).toBe(200);
  return JSON.parse(text) as T;
}

export interface LiveStatusBody {
  batch_id: string;
  running: boolean;
  cancelled: boolean;
  plan_complete: boolean;
  counts: Record<string, number>;
  failed_documents: { id: string; source: string; attempts: number; last_error: unknown }[];
  degraded_documents: { id: string; source: string; attempts: number; reason: unknown }[];
  [key: string]: unknown;
}

/** Polls `GET …/status` until the plan is complete and nothing is pending or processing. */
export async function waitSettled(
  app: Hono,
  batchId: string,
  options: { timeoutMs?: number; headers?: Record<string, string> } = {},
): Promise<LiveStatusBody> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    const status = await getJson<LiveStatusBody>(
      app,
      `/v1/batches/${encodeURIComponent(batchId)}/status`,
      options.headers,
    );
    if (status.plan_complete && status.counts.pending! + status.counts.processing! === 0 && !status.running)
      return status;
    if (Date.now() > deadline) throw new Error(`batch ${batchId} did not settle: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The files of the spool folder (after letting pending file-system callbacks run). */
export async function spoolFiles(spoolDir: string): Promise<string[]> {
  await new Promise((resolve) => setTimeout(resolve, 30));
  return fs.existsSync(spoolDir) ? fs.readdirSync(spoolDir).sort() : [];
}

/** A request body that arrives in pieces, with no Content-Length. */
export function chunkedBody(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[i++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
    },
  });
}
