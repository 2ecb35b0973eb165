import http from "node:http";
import type https from "node:https";
import { createRequire } from "node:module";
import { DocbatchError } from "../../core/errors.js";
import type { Interruptible } from "../../core/interrupt.js";
import type { Embedder } from "./embedder.js";

export interface HttpEmbedderOptions {
  /** The endpoint, e.g. `https://api.openai.com/v1/embeddings`. */
  url: string;
  /** Sent as `model`. @default "text-embedding-3-small" */
  model: string;
  /** Per-request time limit in ms. @default 30_000 */
  timeoutMs: number;
  /** Sent as a bearer token; read from DOCBATCH_EMBED_API_KEY, never logged. */
  apiKey?: string;
  /** Sockets kept open to the endpoint. @default 16 */
  maxSockets?: number;
  /**
   * Largest answer read for one request, in bytes; past it the request fails with
   * EMBED_RESPONSE_TOO_LARGE (permanent: the document keeps its chunks without vectors). A vector
   * of 3,072 numbers is about 70 KB of JSON. @default 1 MiB + 256 KiB per text in the request
   */
  maxResponseBytes?: number;
}

/** An error answer is read only this far: its first 200 characters are quoted, the rest dropped. */
const ERROR_BODY_BYTES = 64 * 1024;

/**
 * `node:https` for an https endpoint, loaded only then: with TLS it is a tenth of the modules a
 * thread of embedding requests loads, for a local endpoint spoken to in plain HTTP.
 */
function httpsModule(): typeof https {
  return createRequire(import.meta.url)("node:https") as typeof https;
}

/** Why a request was ended early by this client (distinguished from the caller's own abort). */
class Timeout extends Error {}

/**
 * A client of OpenAI-compatible embeddings endpoints: `POST {"model","input":[...]}` answered by
 * `{"data":[{"index","embedding"}]}`.
 *
 * Failures are classified here and nowhere else: a timeout, a refused or dropped connection, 408,
 * 429 and 5xx are retryable (EMBED_TIMEOUT / EMBED_RATE_LIMITED / EMBED_UNAVAILABLE, with the
 * server's Retry-After carried along); any other 4xx is permanent (EMBED_REJECTED); a 200 whose body
 * does not hold exactly one vector of the expected dimension per input is EMBED_BAD_RESPONSE.
 */
export class HttpEmbedder implements Embedder {
  readonly id: string;
  private readonly target: URL;
  private readonly agent: http.Agent;
  private readonly transport: Pick<typeof http, "request">;
  private dimension: number | null = null;

  constructor(private readonly options: HttpEmbedderOptions) {
    this.target = new URL(options.url);
    if (this.target.protocol !== "http:" && this.target.protocol !== "https:") {
      throw new DocbatchError("USAGE", `--embed-url must be an http(s) URL, got \`${options.url}\``);
    }
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 16 };
    const secure = this.target.protocol === "https:" ? httpsModule() : null;
    this.transport = secure ?? http;
    this.agent = secure ? new secure.Agent(agentOptions) : new http.Agent(agentOptions);
    this.id = `openai-compatible:${options.model}`;
  }

  async embed(texts: string[], signal: Interruptible): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    signal.throwIfAborted();
    const limit = this.options.maxResponseBytes ?? 1024 * 1024 + 256 * 1024 * texts.length;
    let response: { status: number; headers: http.IncomingHttpHeaders; body: string };
    try {
      // Encoded once: its length is the Content-Length, and the socket takes the bytes as they are.
      const payload = Buffer.from(JSON.stringify({ model: this.options.model, input: texts }));
      response = await this.post(payload, signal, limit);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (err instanceof DocbatchError) throw err;
      if (err instanceof Timeout) {
        throw new DocbatchError(
          "EMBED_TIMEOUT",
          `no answer from the embeddings service within ${this.options.timeoutMs} ms`,
        );
      }
      const code = (err as NodeJS.ErrnoException).code ?? "";
      throw new DocbatchError(
        "EMBED_UNAVAILABLE",
        `cannot reach the embeddings service at ${this.target.host}: ${code || (err as Error).message}`,
        { cause: err },
      );
    }
    if (response.status !== 200) throw this.statusError(response.status, response.headers, response.body);
    return this.parse(response.body, texts.length);
  }

  private statusError(status: number, headers: http.IncomingHttpHeaders, body: string): DocbatchError {
    const retryAfterMs = parseRetryAfter(headers["retry-after"]);
    const excerpt = this.redact(body.slice(0, 200).replace(/\s+/g, " "));
    const message = `the embeddings service answered ${status}${excerpt ? `: ${excerpt}` : ""}`;
    if (status === 429) return new DocbatchError("EMBED_RATE_LIMITED", message, { retryAfterMs });
    if (status === 408) return new DocbatchError("EMBED_TIMEOUT", message, { retryAfterMs });
    if (status >= 500) return new DocbatchError("EMBED_UNAVAILABLE", message, { retryAfterMs });
    return new DocbatchError("EMBED_REJECTED", message);
  }

  /** Services and proxies sometimes echo the credentials; they never reach a message or a log. */
  private redact(text: string): string {
    const key = this.options.apiKey;
    return key ? text.split(key).join("[redacted]") : text;
  }

  private parse(body: string, count: number): Float32Array[] {
    const bad = (why: string) =>
      new DocbatchError("EMBED_BAD_RESPONSE", `invalid embeddings response: ${why}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw bad("the body is not JSON");
    }
    const data = (parsed as { data?: unknown })?.data;
    if (!Array.isArray(data)) throw bad("`data` is not an array");
    if (data.length !== count) throw bad(`${data.length} vectors for ${count} inputs`);
    const vectors: (Float32Array | undefined)[] = new Array(count);
    // Every vector of the answer has the dimension of the service's earlier answers, else of its first.
    let dimension = this.dimension;
    for (const [position, item] of data.entries()) {
      const index = (item as { index?: unknown })?.index ?? position;
      const embedding = (item as { embedding?: unknown })?.embedding;
      if (!Number.isInteger(index) || (index as number) < 0 || (index as number) >= count) {
        throw bad(`index ${String(index)} out of range`);
      }
      if (vectors[index as number] !== undefined) throw bad(`index ${String(index)} repeated`);
      const vector =
        Array.isArray(embedding) && embedding.length > 0
          ? toVector(embedding, dimension ?? embedding.length)
          : "not numbers";
      if (vector === "not numbers") throw bad(`embedding ${String(index)} is not an array of numbers`);
      if (vector === "dimension") {
        const length = (embedding as unknown[]).length;
        throw bad(`embedding ${String(index)} has dimension ${length}, expected ${dimension}`);
      }
      dimension = vector.length;
      vectors[index as number] = vector;
    }
    // Learnt only from a response that passed every check.
    this.dimension ??= vectors[0]?.length ?? null;
    return vectors as Float32Array[];
  }

  /**
   * Sends one request and reads its answer, at most `limit` bytes of a 200 (else
   * EMBED_RESPONSE_TOO_LARGE, told by Content-Length before reading when the service sends it)
   * and the first ERROR_BODY_BYTES of any other status.
   */
  private post(
    payload: Buffer,
    signal: Interruptible,
    limit: number,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    const headers: http.OutgoingHttpHeaders = {
      "content-type": "application/json",
      accept: "application/json",
      "content-length": payload.length,
    };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    return new Promise((resolve, reject) => {
      // Ended early by the caller or by the time limit, the request fails with the reason and its
      // socket is destroyed. One timer and one listener a request, both gone when it settles: a
      // document that sends hundreds of requests leaves nothing behind on its signal. No
      // AbortController and no `signal` option (its listeners and stream tracking) per request:
      // 10,000 one-line documents took 1,785 → 1,730 ms of the main thread's CPU (median of 16
      // alternating pairs).
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        fn();
      };
      const fail = (err: unknown) => settle(() => reject(err));
      const stop = (reason: unknown) => {
        fail(reason);
        req.destroy();
      };
      const onAbort = () => stop(signal.reason);
      const timer = setTimeout(() => stop(new Timeout()), this.options.timeoutMs);
      signal.addEventListener("abort", onAbort, { once: true });
      const req = this.transport.request(
        this.target,
        { method: "POST", headers, agent: this.agent },
        (res) => {
          const status = res.statusCode ?? 0;
          const parts: Buffer[] = [];
          let size = 0;
          const done = () =>
            settle(() =>
              resolve({ status, headers: res.headers, body: Buffer.concat(parts).toString("utf8") }),
            );
          const declared = Number(res.headers["content-length"]);
          if (status === 200 && declared > limit) {
            stop(tooLarge(`${declared} bytes announced`, limit));
            return;
          }
          res.on("data", (part: Buffer) => {
            size += part.length;
            if (status !== 200 && size > ERROR_BODY_BYTES) {
              // Enough of an error answer to quote; the rest is not worth reading.
              parts.push(part.subarray(0, Math.max(0, ERROR_BODY_BYTES - (size - part.length))));
              done();
              req.destroy();
            } else if (status === 200 && size > limit) {
              stop(tooLarge(`more than ${limit} bytes received`, limit));
            } else {
              parts.push(part);
            }
          });
          res.on("end", done);
          res.on("error", fail);
          res.on("aborted", () => fail(new Error("response aborted")));
        },
      );
      req.on("error", fail);
      req.end(payload);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

/**
 * The numbers of one answer checked and copied in one plain loop: a callback per element (`every`,
 * `Float32Array.from`) would box each double, 16 bytes of garbage per dimension.
 */
function toVector(embedding: unknown[], dimension: number): Float32Array | "not numbers" | "dimension" {
  const vector = new Float32Array(dimension);
  for (let i = 0; i < embedding.length; i++) {
    const value = embedding[i];
    if (typeof value !== "number") return "not numbers";
    vector[i] = value;
  }
  return embedding.length === dimension ? vector : "dimension";
}

function tooLarge(what: string, limit: number): DocbatchError {
  return new DocbatchError(
    "EMBED_RESPONSE_TOO_LARGE",
    `the embeddings service's answer is too large (${what}; the limit is ${limit} bytes)`,
  );
}

/** A service asking for longer is capped: a document should not wait hours on one header. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/**
 * `Retry-After` as seconds or an HTTP date (RFC 9110), in ms, capped at MAX_RETRY_AFTER_MS;
 * undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.min(MAX_RETRY_AFTER_MS, Math.round(Number(text) * 1000));
  if (!/^[A-Za-z]{3},? /.test(text)) return undefined;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, date - now));
}
