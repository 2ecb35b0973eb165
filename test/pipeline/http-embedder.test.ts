import http from "node:http";
import net, { type AddressInfo, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { seededRandom } from "../../src/core/backoff.js";
import { DocbatchError, failureKind } from "../../src/core/errors.js";
import { HttpEmbedder, type HttpEmbedderOptions, parseRetryAfter } from "../../src/pipeline/embed/http.js";
import { embedText } from "../../src/pipeline/embed/local.js";
import { EmbeddingTestServer, type FaultRates } from "../../src/testing/embedding-server.js";

const DIM = 32;
const API_KEY = "sk-test-Z9q8W7e6R5t4Y3u2I1o0";

// -- helpers ----------------------------------------------------------------------------------------

const clients: HttpEmbedder[] = [];

/** An HttpEmbedder closed after the test. */
function client(url: string, options: Partial<HttpEmbedderOptions> = {}): HttpEmbedder {
  const embedder = new HttpEmbedder({ url, model: "test-model", timeoutMs: 2_000, ...options });
  clients.push(embedder);
  return embedder;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((embedder) => embedder.close()));
});

const live = () => new AbortController().signal;

/** The DocbatchError a call rejects with; fails the test when the call succeeds or throws something else. */
async function embedError(call: Promise<unknown>): Promise<DocbatchError> {
  const error = await call.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(DocbatchError);
  return error as DocbatchError;
}

/** The value a call rejects with, whatever it is. */
async function rejection(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (err: unknown) => err,
  );
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

interface Captured {
  method: string | undefined;
  url: string | undefined;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A scriptable server for the cases the faulty embeddings server cannot produce. */
class AdhocServer {
  connections = 0;
  requests: Captured[] = [];
  handler: Handler = (_req, res) => reply(res, 500, { error: "no handler" });
  private readonly sockets = new Set<Socket>();
  private readonly server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => {
      const body = Buffer.concat(parts).toString("utf8");
      this.requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      this.handler(req, res, body);
    });
  });

  constructor() {
    this.server.on("connection", (socket) => {
      this.connections += 1;
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/v1/embeddings`;
  }

  reset(handler: Handler): void {
    for (const socket of this.sockets) socket.destroy();
    this.connections = 0;
    this.requests = [];
    this.handler = handler;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function reply(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: http.OutgoingHttpHeaders = {},
): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(text);
}

/** A well-formed embeddings answer: `vector(i)` for input i, listed in `order`. */
function answer(count: number, vector: (i: number) => number[], order?: number[]): unknown {
  const indexes = order ?? Array.from({ length: count }, (_, i) => i);
  return {
    object: "list",
    data: indexes.map((index) => ({ object: "embedding", index, embedding: vector(index) })),
  };
}

/** The same keys with every count 0. */
function zeroCounts(counts: object): Record<string, number> {
  return Object.fromEntries(Object.keys(counts).map((key) => [key, 0]));
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// -- HttpEmbedder -----------------------------------------------------------------------------------

describe("HttpEmbedder", () => {
  const server = new EmbeddingTestServer({ dimensions: DIM, seed: 3 });
  const adhoc = new AdhocServer();
  let serverUrl = "";
  let adhocUrl = "";

  beforeAll(async () => {
    serverUrl = await server.start();
    adhocUrl = await adhoc.start();
  });

  afterAll(async () => {
    await server.stop();
    await adhoc.stop();
  });

  beforeEach(() => {
    server.setRates({});
    server.setDown(false);
    adhoc.reset((_req, res) => reply(res, 500, { error: "no handler" }));
  });

  describe("success", () => {
    it("returns one Float32Array per text, in input order, with the server's vectors", async () => {
      const texts = ["the quick brown fox", "lazy dog", "中文文本检索", "the quick brown fox", "x", ""];
      const before = server.stats();
      const vectors = await client(serverUrl).embed(texts, live());
      expect(vectors).toHaveLength(texts.length);
      texts.forEach((text, i) => {
        const vector = vectors[i]!;
        expect(vector).toBeInstanceOf(Float32Array);
        expect(vector.length).toBe(DIM);
        expect(vector).toEqual(embedText(text, DIM));
      });
      const after = server.stats();
      expect(after.ok - before.ok).toBe(1);
      expect(after.textsOk - before.textsOk).toBe(texts.length);
    });

    it("sends model and input as a JSON POST to the URL as given", async () => {
      adhoc.reset((_req, res, body) => {
        const { input } = JSON.parse(body) as { input: string[] };
        reply(
          res,
          200,
          answer(input.length, (i) => [i, 1]),
        );
      });
      const url = `${adhocUrl}?api-version=2024-01-01`;
      await client(url, { apiKey: API_KEY, model: "my-model" }).embed(["a", "b"], live());
      await client(url).embed(["c"], live());
      const [withKey, withoutKey] = adhoc.requests;
      expect(withKey?.method).toBe("POST");
      expect(withKey?.url).toBe("/v1/embeddings?api-version=2024-01-01");
      expect(withKey?.headers["content-type"]).toBe("application/json");
      expect(withKey?.headers.authorization).toBe(`Bearer ${API_KEY}`);
      expect(JSON.parse(withKey?.body ?? "")).toEqual({ model: "my-model", input: ["a", "b"] });
      expect(withoutKey?.headers.authorization).toBeUndefined();
      expect(JSON.parse(withoutKey?.body ?? "")).toEqual({ model: "test-model", input: ["c"] });
    });

    it("asks nothing for an empty list", async () => {
      const before = server.stats().requests;
      expect(await client(serverUrl).embed([], live())).toEqual([]);
      expect(server.stats().requests).toBe(before);
    });

    it("names itself after the model", () => {
      expect(client(serverUrl, { model: "text-embedding-3-small" }).id).toBe(
        "openai-compatible:text-embedding-3-small",
      );
    });

    it("refuses a URL that is not http(s)", () => {
      let error: unknown;
      try {
        new HttpEmbedder({ url: "ftp://example.com/embeddings", model: "m", timeoutMs: 1_000 });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(DocbatchError);
      expect((error as DocbatchError).code).toBe("USAGE");
      expect((error as DocbatchError).message).toContain("ftp://example.com/embeddings");
    });

    it("puts vectors listed in shuffled index order back in input order", async () => {
      const order = [3, 0, 4, 2, 1];
      adhoc.reset((_req, res) =>
        reply(
          res,
          200,
          answer(5, (i) => [i, i + 0.5, 10 - i], order),
        ),
      );
      const vectors = await client(adhocUrl).embed(["t0", "t1", "t2", "t3", "t4"], live());
      expect(vectors.map((v) => Array.from(v))).toEqual([0, 1, 2, 3, 4].map((i) => [i, i + 0.5, 10 - i]));
    });

    it("takes the position as the index when `index` is missing", async () => {
      adhoc.reset((_req, res) => reply(res, 200, { data: [{ embedding: [1, 0] }, { embedding: [0, 1] }] }));
      const vectors = await client(adhocUrl).embed(["a", "b"], live());
      expect(vectors.map((v) => Array.from(v))).toEqual([
        [1, 0],
        [0, 1],
      ]);
    });
  });

  describe("HTTP status classification", () => {
    // Each case asserts the Retry-After and the message only where the answer says something of them.
    const injected: {
      name: string;
      rates: Partial<FaultRates>;
      code: string;
      kind: "retryable" | "permanent";
      retryAfterMs?: number | undefined;
      message?: string;
    }[] = [
      {
        name: "500 from the service → EMBED_UNAVAILABLE (retryable), no Retry-After",
        rates: { error500: 1 },
        code: "EMBED_UNAVAILABLE",
        kind: "retryable",
        retryAfterMs: undefined,
        message: "answered 500",
      },
      {
        name: "an injected 400 → EMBED_REJECTED (permanent)",
        rates: { reject400: 1 },
        code: "EMBED_REJECTED",
        kind: "permanent",
        message: "answered 400",
      },
      {
        name: "429 from the service → EMBED_RATE_LIMITED with its Retry-After",
        rates: { rateLimit429: 1 },
        code: "EMBED_RATE_LIMITED",
        kind: "retryable",
        retryAfterMs: 1_000,
      },
    ];
    it.each(injected)("$name", async (c) => {
      server.setRates(c.rates);
      const error = await embedError(client(serverUrl).embed(["a"], live()));
      expect(error.code).toBe(c.code);
      expect(error.kind).toBe(c.kind);
      if ("retryAfterMs" in c) expect(error.retryAfterMs).toBe(c.retryAfterMs);
      if (c.message) expect(error.message).toContain(c.message);
    });

    it.each([
      { status: 500, headers: {}, code: "EMBED_UNAVAILABLE", retryAfterMs: undefined },
      { status: 502, headers: {}, code: "EMBED_UNAVAILABLE", retryAfterMs: undefined },
      { status: 503, headers: { "retry-after": "2" }, code: "EMBED_UNAVAILABLE", retryAfterMs: 2_000 },
      { status: 504, headers: {}, code: "EMBED_UNAVAILABLE", retryAfterMs: undefined },
      { status: 429, headers: { "retry-after": "7" }, code: "EMBED_RATE_LIMITED", retryAfterMs: 7_000 },
      { status: 429, headers: {}, code: "EMBED_RATE_LIMITED", retryAfterMs: undefined },
      { status: 408, headers: {}, code: "EMBED_TIMEOUT", retryAfterMs: undefined },
      { status: 408, headers: { "retry-after": "3" }, code: "EMBED_TIMEOUT", retryAfterMs: 3_000 },
      { status: 400, headers: {}, code: "EMBED_REJECTED", retryAfterMs: undefined },
      { status: 401, headers: {}, code: "EMBED_REJECTED", retryAfterMs: undefined },
      { status: 403, headers: {}, code: "EMBED_REJECTED", retryAfterMs: undefined },
      { status: 404, headers: {}, code: "EMBED_REJECTED", retryAfterMs: undefined },
      { status: 422, headers: { "retry-after": "5" }, code: "EMBED_REJECTED", retryAfterMs: undefined },
    ])(
      "$status $headers → $code (retryAfterMs $retryAfterMs)",
      async ({ status, headers, code, retryAfterMs }) => {
        adhoc.reset((_req, res) => reply(res, status, { error: { message: `status ${status}` } }, headers));
        const error = await embedError(client(adhocUrl).embed(["a"], live()));
        expect(error.code).toBe(code);
        expect(error.kind).toBe(code === "EMBED_REJECTED" ? "permanent" : "retryable");
        expect(failureKind(error.code)).toBe(error.kind);
        expect(error.retryAfterMs).toBe(retryAfterMs);
        expect(error.message).toContain(`answered ${status}`);
        expect(error.message).toContain(`status ${status}`);
      },
    );

    it("reads Retry-After given as an HTTP date", async () => {
      adhoc.reset((_req, res) =>
        reply(res, 503, "", { "retry-after": new Date(Date.now() + 5_000).toUTCString() }),
      );
      const error = await embedError(client(adhocUrl).embed(["a"], live()));
      expect(error.code).toBe("EMBED_UNAVAILABLE");
      // HTTP dates have a resolution of one second.
      expect(error.retryAfterMs).toBeGreaterThan(3_000);
      expect(error.retryAfterMs).toBeLessThanOrEqual(5_000);
    });

    it("quotes at most 200 characters of the body, whitespace collapsed", async () => {
      adhoc.reset((_req, res) => reply(res, 400, `bad\n\n  request ${"x".repeat(500)}`));
      const error = await embedError(client(adhocUrl).embed(["a"], live()));
      expect(error.message).toContain("answered 400: bad request x");
      expect(error.message).not.toContain("\n");
      expect(error.message.length).toBeLessThan(300);
    });
  });

  describe("transport failures", () => {
    it("a hang → EMBED_TIMEOUT after about timeoutMs", async () => {
      server.setRates({ hang: 1 });
      const started = performance.now();
      const error = await embedError(client(serverUrl, { timeoutMs: 200 }).embed(["a"], live()));
      const elapsed = performance.now() - started;
      expect(error.code).toBe("EMBED_TIMEOUT");
      expect(error.kind).toBe("retryable");
      expect(error.message).toContain("200 ms");
      expect(elapsed).toBeGreaterThanOrEqual(190);
      expect(elapsed).toBeLessThan(1_500);
    });

    it("a body that stops coming → EMBED_TIMEOUT after about timeoutMs", async () => {
      adhoc.reset((_req, res) => {
        res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
        res.write('{"data":[');
      });
      const started = performance.now();
      const error = await embedError(client(adhocUrl, { timeoutMs: 200 }).embed(["a"], live()));
      expect(error.code).toBe("EMBED_TIMEOUT");
      expect(performance.now() - started).toBeLessThan(1_500);
    });

    it("a dropped connection → EMBED_UNAVAILABLE", async () => {
      server.setRates({ drop: 1 });
      const error = await embedError(client(serverUrl).embed(["a"], live()));
      expect(error.code).toBe("EMBED_UNAVAILABLE");
      expect(error.message).toContain("cannot reach the embeddings service");
    });

    it("a connection dropped in the middle of the body → EMBED_UNAVAILABLE", async () => {
      adhoc.reset((_req, res) => {
        res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
        res.write('{"data":[', () => res.socket?.destroy());
      });
      const error = await embedError(client(adhocUrl).embed(["a"], live()));
      expect(error.code).toBe("EMBED_UNAVAILABLE");
    });

    it("connection refused (a closed port) → EMBED_UNAVAILABLE", async () => {
      const port = await closedPort();
      const error = await embedError(client(`http://127.0.0.1:${port}/v1/embeddings`).embed(["a"], live()));
      expect(error.code).toBe("EMBED_UNAVAILABLE");
      expect(error.kind).toBe("retryable");
      expect(error.message).toContain("ECONNREFUSED");
      expect(error.message).toContain(`127.0.0.1:${port}`);
    });
  });

  describe("invalid bodies → EMBED_BAD_RESPONSE", () => {
    const ok = (index: number) => ({ index, embedding: [1, 2, 3] });
    it.each([
      { name: "not JSON", body: "<html>oops</html>" },
      { name: "an empty body", body: "" },
      { name: "JSON null", body: "null" },
      { name: "no data", body: {} },
      { name: "data is an object", body: { data: { 0: ok(0), 1: ok(1) } } },
      { name: "data is a string", body: { data: "[]" } },
      { name: "fewer vectors than texts", body: { data: [ok(0)] } },
      { name: "more vectors than texts", body: { data: [ok(0), ok(1), ok(2)] } },
      { name: "no vectors", body: { data: [] } },
      { name: "index out of range", body: { data: [ok(0), ok(2)] } },
      { name: "negative index", body: { data: [ok(-1), ok(0)] } },
      { name: "fractional index", body: { data: [ok(0), ok(0.5)] } },
      { name: "index as a string", body: { data: [ok(0), { index: "1", embedding: [1, 2, 3] }] } },
      { name: "repeated index", body: { data: [ok(1), ok(1)] } },
      { name: "embedding missing", body: { data: [ok(0), { index: 1 }] } },
      { name: "embedding is a string", body: { data: [ok(0), { index: 1, embedding: "1,2,3" }] } },
      { name: "embedding holds a string", body: { data: [ok(0), { index: 1, embedding: [1, "2", 3] }] } },
      { name: "embedding holds null", body: { data: [ok(0), { index: 1, embedding: [1, null, 3] }] } },
      { name: "embedding is empty", body: { data: [ok(0), { index: 1, embedding: [] }] } },
      {
        name: "dimensions differ within one answer",
        body: { data: [ok(0), { index: 1, embedding: [1, 2] }] },
      },
      { name: "an item is null", body: { data: [ok(0), null] } },
    ])("$name", async ({ body }) => {
      adhoc.reset((_req, res) => reply(res, 200, body));
      const error = await embedError(client(adhocUrl).embed(["a", "b"], live()));
      expect(error.code).toBe("EMBED_BAD_RESPONSE");
      expect(error.kind).toBe("retryable");
      expect(error.message).toMatch(/^invalid embeddings response: /);
    });

    it("a dimension that changes between calls", async () => {
      let dimension = 3;
      adhoc.reset((_req, res, body) => {
        const { input } = JSON.parse(body) as { input: string[] };
        reply(
          res,
          200,
          answer(input.length, () => Array.from({ length: dimension }, (_, k) => k)),
        );
      });
      const embedder = client(adhocUrl);
      expect((await embedder.embed(["a", "b"], live())).map((v) => v.length)).toEqual([3, 3]);
      dimension = 4;
      const error = await embedError(embedder.embed(["c"], live()));
      expect(error.code).toBe("EMBED_BAD_RESPONSE");
      expect(error.message).toContain("dimension 4, expected 3");
      dimension = 3;
      expect((await embedder.embed(["d"], live())).map((v) => v.length)).toEqual([3]);
    });
  });

  describe("cancellation", () => {
    it("an aborted caller signal rejects with the signal's reason, not an EMBED_* error", async () => {
      server.setRates({ hang: 1 });
      const controller = new AbortController();
      const reason = new Error("run interrupted");
      const call = client(serverUrl, { timeoutMs: 5_000 }).embed(["a"], controller.signal);
      setTimeout(() => controller.abort(reason), 50);
      const started = performance.now();
      expect(await rejection(call)).toBe(reason);
      expect(performance.now() - started).toBeLessThan(1_000);
    });

    it("a signal aborted before the call rejects with its reason", async () => {
      const reason = { why: "shutdown" };
      const before = server.stats().ok;
      const error = await rejection(client(serverUrl).embed(["a"], AbortSignal.abort(reason)));
      expect(error).toBe(reason);
      expect(server.stats().ok).toBe(before);
    });

    it("an abort without a reason rejects with the default AbortError", async () => {
      server.setRates({ hang: 1 });
      const controller = new AbortController();
      const call = client(serverUrl, { timeoutMs: 5_000 }).embed(["a"], controller.signal);
      setTimeout(() => controller.abort(), 20);
      const error = await rejection(call);
      expect(error).not.toBeInstanceOf(DocbatchError);
      expect((error as Error).name).toBe("AbortError");
    });
  });

  describe("the API key", () => {
    it("is sent as `Authorization: Bearer <key>` on every request", async () => {
      adhoc.reset((_req, res, body) => {
        const { input } = JSON.parse(body) as { input: string[] };
        reply(
          res,
          200,
          answer(input.length, () => [1]),
        );
      });
      const embedder = client(adhocUrl, { apiKey: API_KEY });
      await embedder.embed(["a"], live());
      await embedder.embed(["b"], live());
      expect(adhoc.requests.map((r) => r.headers.authorization)).toEqual([
        `Bearer ${API_KEY}`,
        `Bearer ${API_KEY}`,
      ]);
    });

    it("never appears in the errors of the usual failures", async () => {
      const errors: DocbatchError[] = [];
      const keyed = (url: string, timeoutMs = 2_000) => client(url, { apiKey: API_KEY, timeoutMs });
      for (const status of [400, 401, 403, 429, 500, 503]) {
        adhoc.reset((_req, res) => reply(res, status, { error: { message: "Incorrect API key provided" } }));
        errors.push(await embedError(keyed(adhocUrl).embed(["a"], live())));
      }
      adhoc.reset((_req, res) => reply(res, 200, "not json"));
      errors.push(await embedError(keyed(adhocUrl).embed(["a"], live())));
      server.setRates({ hang: 1 });
      errors.push(await embedError(keyed(serverUrl, 100).embed(["a"], live())));
      server.setRates({ drop: 1 });
      errors.push(await embedError(keyed(serverUrl).embed(["a"], live())));
      errors.push(await embedError(keyed(`http://127.0.0.1:${await closedPort()}/`).embed(["a"], live())));
      expect(errors).toHaveLength(10);
      for (const error of errors) {
        expect(error.message).not.toContain(API_KEY);
        expect(JSON.stringify(error.toBody())).not.toContain(API_KEY);
      }
    });

    // The error message quotes the start of the response body; a service or proxy that echoes the
    // credential back must not put the key into messages, logs, failure records or reports.
    it("never appears in an error even when the service echoes it back", async () => {
      adhoc.reset((req, res) =>
        reply(res, 401, { error: { message: `Incorrect API key provided: ${req.headers.authorization}` } }),
      );
      const error = await embedError(client(adhocUrl, { apiKey: API_KEY }).embed(["a"], live()));
      expect(error.code).toBe("EMBED_REJECTED");
      expect(error.message).not.toContain(API_KEY);
    });
  });

  describe("keep-alive", () => {
    it("reuses one socket for sequential requests, whatever their status", async () => {
      let n = 0;
      adhoc.reset((_req, res, body) => {
        n += 1;
        if (n === 3) return reply(res, 500, { error: "boom" });
        if (n === 5) return reply(res, 429, { error: "slow down" }, { "retry-after": "1" });
        const { input } = JSON.parse(body) as { input: string[] };
        reply(
          res,
          200,
          answer(input.length, (i) => [i, 1]),
        );
      });
      const embedder = client(adhocUrl);
      const outcomes: string[] = [];
      for (let i = 0; i < 8; i++) {
        try {
          await embedder.embed([`t${i}`, "u"], live());
          outcomes.push("ok");
        } catch (err) {
          outcomes.push((err as DocbatchError).code);
        }
      }
      expect(outcomes).toEqual([
        "ok",
        "ok",
        "EMBED_UNAVAILABLE",
        "ok",
        "EMBED_RATE_LIMITED",
        "ok",
        "ok",
        "ok",
      ]);
      expect(adhoc.requests).toHaveLength(8);
      expect(adhoc.connections).toBe(1);
    });

    it("opens a new socket after a dropped one", async () => {
      let n = 0;
      adhoc.reset((req, res, body) => {
        n += 1;
        if (n === 2) return req.socket.destroy();
        const { input } = JSON.parse(body) as { input: string[] };
        reply(
          res,
          200,
          answer(input.length, () => [1]),
        );
      });
      const embedder = client(adhocUrl);
      await embedder.embed(["a"], live());
      expect((await embedError(embedder.embed(["b"], live()))).code).toBe("EMBED_UNAVAILABLE");
      await embedder.embed(["c"], live());
      await embedder.embed(["d"], live());
      expect(adhoc.connections).toBe(2);
    });
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");

  it("reads delta-seconds", () => {
    expect(parseRetryAfter("0", now)).toBe(0);
    expect(parseRetryAfter("2", now)).toBe(2_000);
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("1.5", now)).toBe(1_500);
    expect(parseRetryAfter(" 3 ", now)).toBe(3_000);
  });

  it("reads an HTTP date relative to now, never negative", () => {
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Tue, 31 Dec 2024 23:59:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:00 GMT", now)).toBe(0);
  });

  it("takes the first of repeated headers", () => {
    expect(parseRetryAfter(["4", "9"], now)).toBe(4_000);
  });

  it("gives undefined when absent or unreadable", () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter("", now)).toBeUndefined();
    expect(parseRetryAfter([], now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("1h", now)).toBeUndefined();
    expect(parseRetryAfter("1e3", now)).toBeUndefined();
  });

  it("uses the current time by default", () => {
    const value = parseRetryAfter(new Date(Date.now() + 10_000).toUTCString());
    expect(value).toBeGreaterThan(8_000);
    expect(value).toBeLessThanOrEqual(10_000);
  });
});

// -- EmbeddingTestServer ----------------------------------------------------------------------------

describe("EmbeddingTestServer", () => {
  const servers: EmbeddingTestServer[] = [];

  async function startServer(options: ConstructorParameters<typeof EmbeddingTestServer>[0]): Promise<{
    server: EmbeddingTestServer;
    url: string;
  }> {
    const server = new EmbeddingTestServer(options);
    servers.push(server);
    return { server, url: await server.start() };
  }

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((embedder) => embedder.close()));
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  it("injects exactly the seeded faults, and the client sees exactly those", async () => {
    const seed = 7;
    const rates = {
      error500: 0.05,
      rateLimit429: 0.05,
      hang: 0.03,
      drop: 0.03,
    } satisfies Partial<FaultRates>;
    const { server, url } = await startServer({ dimensions: 16, seed, rates, retryAfterSeconds: 2 });
    const requests = 300;

    // The rolls the server will draw, one per request, replayed with the same thresholds.
    const roll = seededRandom(seed);
    const expected = { error500: 0, rateLimit429: 0, hang: 0, drop: 0, ok: 0 };
    for (let i = 0; i < requests; i++) {
      const r = roll();
      const { error500, rateLimit429, hang, drop } = rates;
      if (r < error500) expected.error500 += 1;
      else if (r < error500 + rateLimit429) expected.rateLimit429 += 1;
      else if (r < error500 + rateLimit429 + hang) expected.hang += 1;
      else if (r < error500 + rateLimit429 + hang + drop) expected.drop += 1;
      else expected.ok += 1;
    }
    // The seed must exercise every fault for the comparison to mean something.
    for (const count of Object.values(expected)) expect(count).toBeGreaterThan(0);

    // Long enough that a busy machine never makes an answer late; a hang lasts until the timeout.
    const embedder = client(url, { timeoutMs: 600 });
    const seen = { error500: 0, rateLimit429: 0, hang: 0, drop: 0, ok: 0, other: [] as string[] };
    for (let i = 0; i < requests; i++) {
      const texts = [`document ${i}`, "shared text"];
      try {
        const vectors = await embedder.embed(texts, live());
        expect(vectors[0]).toEqual(embedText(texts[0]!, 16));
        seen.ok += 1;
      } catch (err) {
        const error = err as DocbatchError;
        if (error.code === "EMBED_RATE_LIMITED" && error.retryAfterMs === 2_000) seen.rateLimit429 += 1;
        else if (error.code === "EMBED_TIMEOUT") seen.hang += 1;
        else if (error.code === "EMBED_UNAVAILABLE" && error.message.includes("answered 500"))
          seen.error500 += 1;
        else if (error.code === "EMBED_UNAVAILABLE" && error.message.includes("cannot reach")) seen.drop += 1;
        else seen.other.push(`${error.code}: ${error.message}`);
      }
    }

    const stats = server.stats();
    expect(seen).toEqual({ ...expected, other: [] });
    const { ok: _ok, ...faults } = expected;
    // The four injected faults match; any other kind of fault the server knows was never injected.
    expect(stats.injected).toEqual({ ...zeroCounts(stats.injected), ...faults });
    expect(stats.requests).toBe(requests);
    expect(stats.ok).toBe(expected.ok);
    expect(stats.textsOk).toBe(2 * expected.ok);
    // "shared text" was answered `ok` times; every "document i" at most once.
    expect(stats.textsRepeated).toBe(expected.ok - 1);
    expect(server.textCounts().get("shared text")).toBe(expected.ok);
    expect(stats.whileDown).toBe(0);
    expect(stats.inFlight).toBe(0);
  });

  it("counts textsOk and textsRepeated exactly", async () => {
    const { server, url } = await startServer({ dimensions: 8 });
    const embedder = client(url);
    await embedder.embed(["a", "b", "c"], live());
    await embedder.embed(["a", "a", "d"], live());
    await embedder.embed(["b"], live());
    const stats = server.stats();
    expect(stats.ok).toBe(3);
    expect(stats.textsOk).toBe(7);
    // a: 3 times (+2), b: 2 times (+1), c and d once.
    expect(stats.textsRepeated).toBe(3);
    expect(Object.fromEntries(server.textCounts())).toEqual({ a: 3, b: 2, c: 1, d: 1 });
    server.reset();
    expect(server.stats()).toMatchObject({ requests: 0, ok: 0, textsOk: 0, textsRepeated: 0 });
  });

  it('counts requests while down with setDown("503") and connections with setDown("refuse")', async () => {
    const { server, url } = await startServer({ dimensions: 8 });
    await client(url).embed(["warm-up"], live());

    server.setDown("503");
    await expectUnavailable(client(url), 4, "x", "answered 503");
    expect(server.stats()).toMatchObject({ requests: 5, ok: 1, whileDown: 4 });

    server.setDown("refuse");
    // A fresh client, so that no keep-alive socket from before the outage is reused.
    await expectUnavailable(client(url), 3, "y", "cannot reach");
    expect(server.stats()).toMatchObject({ requests: 5, ok: 1, whileDown: 7 });

    server.setDown(false);
    expect(await client(url).embed(["back"], live())).toHaveLength(1);
    const stats = server.stats();
    expect(stats).toMatchObject({ requests: 6, ok: 2, whileDown: 7, textsOk: 2 });
    expect(stats.downTimes).toHaveLength(7);
  });

  it("reports a sane inFlight, maxInFlight and meanInFlight", async () => {
    const { server, url } = await startServer({ dimensions: 8, latencyMs: 60 });
    const embedder = client(url);
    server.reset();
    expect(server.stats().meanInFlight).toBe(0);
    for (let round = 0; round < 3; round++) {
      await Promise.all([0, 1, 2, 3].map((k) => embedder.embed([`r${round}-${k}`], live())));
    }
    const stats = server.stats();
    expect(stats.ok).toBe(12);
    expect(stats.inFlight).toBe(0);
    expect(stats.maxInFlight).toBeGreaterThanOrEqual(2);
    expect(stats.maxInFlight).toBeLessThanOrEqual(4);
    // Four requests of 60 ms in flight for most of the time since the reset.
    expect(stats.meanInFlight).toBeGreaterThan(1);
    expect(stats.meanInFlight).toBeLessThanOrEqual(stats.maxInFlight);

    // A hanging request counts as in flight until the client gives up.
    server.setLatency(0);
    server.setRates({ hang: 1 });
    const hanging = client(url, { timeoutMs: 150 }).embed(["h"], live());
    await sleep(50);
    expect(server.stats().inFlight).toBe(1);
    expect((await embedError(hanging)).code).toBe("EMBED_TIMEOUT");
    await sleep(20);
    expect(server.stats().inFlight).toBe(0);
  });

  // A reset while requests are being served keeps counting them as in flight until they finish.
  it("keeps inFlight and meanInFlight non-negative across a reset during requests", async () => {
    const { server, url } = await startServer({ dimensions: 8, latencyMs: 100 });
    const pending = client(url).embed(["slow"], live());
    await sleep(30);
    server.reset();
    await pending;
    await sleep(20);
    const stats = server.stats();
    expect(stats.inFlight).toBe(0);
    expect(stats.meanInFlight).toBeGreaterThanOrEqual(0);
  });
});

/** `calls` requests of `embedder`, each failing EMBED_UNAVAILABLE with `message` in its text. */
async function expectUnavailable(
  embedder: ReturnType<typeof client>,
  calls: number,
  prefix: string,
  message: string,
): Promise<void> {
  for (let i = 0; i < calls; i++) {
    const error = await embedError(embedder.embed([`${prefix}${i}`], live()));
    expect(error.code).toBe("EMBED_UNAVAILABLE");
    expect(error.message).toContain(message);
  }
}
