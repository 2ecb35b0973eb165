import http from "node:http";
import type { AddressInfo } from "node:net";
import { seededRandom } from "../core/backoff.js";
import { embedText } from "../pipeline/embed/local.js";

/**
 * An OpenAI-compatible embeddings server that misbehaves on purpose, for tests, benchmarks and the
 * demo: it answers 500s, 429s with Retry-After, hangs past the client's timeout, drops
 * connections, and can go down entirely. It counts every text it answered with 200, so a test can
 * tell how many texts were embedded more than once.
 */

export interface FaultRates {
  /** Answer 500. */
  error500: number;
  /** Answer 429 with `Retry-After: retryAfterSeconds`. */
  rateLimit429: number;
  /** Never answer (until the client gives up). */
  hang: number;
  /** Read the request, then destroy the connection without answering. */
  drop: number;
  /** Answer 400 (a permanent rejection). */
  reject400: number;
}

export interface EmbeddingServerOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
  /** @default 64 */
  dimensions?: number;
  /** Delay of every answer, in ms. @default 0 */
  latencyMs?: number;
  /** @default no faults */
  rates?: Partial<FaultRates>;
  /** @default 1 */
  retryAfterSeconds?: number;
  /** @default 1 */
  seed?: number;
  /** Record when each text was answered (see `answerTimes`). @default false */
  answerTimes?: boolean;
}

export type DownMode = false | "503" | "refuse";

export interface EmbeddingServerStats {
  requests: number;
  /** Requests answered 200. */
  ok: number;
  /** Texts answered 200, counting repeats. */
  textsOk: number;
  /** Texts answered 200 more often than once: the sum of (times answered - 1). */
  textsRepeated: number;
  injected: FaultRates;
  /** Requests (or connections, when refusing) that arrived while the server was down. */
  whileDown: number;
  /** When each of those arrived (ms since the epoch). */
  downTimes: number[];
  inFlight: number;
  maxInFlight: number;
  /** Average requests in flight since the start (or the last reset). */
  meanInFlight: number;
}

const NO_FAULTS: FaultRates = { error500: 0, rateLimit429: 0, hang: 0, drop: 0, reject400: 0 };

/** One 200 answer to a text: when its request arrived and when it was answered (ms since the epoch). */
export interface Answer {
  received: number;
  answered: number;
}

export class EmbeddingTestServer {
  private readonly server: http.Server;
  private rates: FaultRates;
  private random: () => number;
  private down: DownMode = false;
  private readonly counts = new Map<string, number>();
  private readonly times = new Map<string, Answer[]>();
  private stat: EmbeddingServerStats = freshStats();
  private since = performance.now();
  private lastChange = performance.now();
  private area = 0;
  private readonly hanging = new Set<http.ServerResponse>();

  constructor(private readonly options: EmbeddingServerOptions = {}) {
    this.rates = { ...NO_FAULTS, ...options.rates };
    this.random = seededRandom(options.seed ?? 1);
    this.server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => this.handle(req, res));
    this.server.on("connection", (socket) => {
      if (this.down === "refuse") {
        this.stat.whileDown += 1;
        this.stat.downTimes.push(Date.now());
        socket.destroy();
      }
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) =>
      this.server.listen(this.options.port ?? 0, this.options.host ?? "127.0.0.1", resolve),
    );
    return this.url;
  }

  get url(): string {
    const address = this.server.address() as AddressInfo;
    return `http://${address.address}:${address.port}/v1/embeddings`;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  setDown(mode: DownMode): void {
    this.down = mode;
    if (mode) this.server.closeIdleConnections();
  }

  setRates(rates: Partial<FaultRates>): void {
    this.rates = { ...NO_FAULTS, ...rates };
  }

  setLatency(ms: number): void {
    this.options.latencyMs = ms;
  }

  stats(): EmbeddingServerStats {
    this.track(0);
    const elapsed = performance.now() - this.since;
    let repeated = 0;
    for (const n of this.counts.values()) repeated += n - 1;
    return {
      ...this.stat,
      injected: { ...this.stat.injected },
      downTimes: [...this.stat.downTimes],
      textsRepeated: repeated,
      meanInFlight: elapsed > 0 ? this.area / elapsed : 0,
    };
  }

  /** How many times each text was answered with 200. */
  textCounts(): ReadonlyMap<string, number> {
    return this.counts;
  }

  /** When each text's requests arrived and were answered 200, with `answerTimes: true`. */
  answerTimes(): ReadonlyMap<string, readonly Answer[]> {
    return this.times;
  }

  reset(): void {
    this.counts.clear();
    this.times.clear();
    const inFlight = this.stat.inFlight;
    this.stat = { ...freshStats(), inFlight, maxInFlight: inFlight };
    this.since = performance.now();
    this.lastChange = this.since;
    this.area = 0;
  }

  private track(delta: number): void {
    const now = performance.now();
    this.area += this.stat.inFlight * (now - this.lastChange);
    this.lastChange = now;
    this.stat.inFlight += delta;
    this.stat.maxInFlight = Math.max(this.stat.maxInFlight, this.stat.inFlight);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method === "GET" && req.url === "/stats") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(this.stats()));
      return;
    }
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => {
      this.stat.requests += 1;
      if (this.down) {
        this.stat.whileDown += 1;
        this.stat.downTimes.push(Date.now());
        res.writeHead(503, { "content-type": "application/json" }).end('{"error":{"message":"down"}}');
        return;
      }
      this.track(1);
      let finished = false;
      const finish = () => {
        if (!finished) {
          finished = true;
          this.track(-1);
        }
      };
      res.on("close", finish);
      const received = Date.now();
      const answer = () => this.answer(Buffer.concat(parts).toString("utf8"), res, finish, received);
      const latency = this.options.latencyMs ?? 0;
      if (latency > 0) setTimeout(answer, latency);
      else answer();
    });
  }

  private answer(body: string, res: http.ServerResponse, finish: () => void, received: number): void {
    const roll = this.random();
    const { error500, rateLimit429, hang, drop, reject400 } = this.rates;
    if (roll < error500) {
      this.stat.injected.error500 += 1;
      res.writeHead(500, { "content-type": "application/json" }).end('{"error":{"message":"injected 500"}}');
      return;
    }
    if (roll < error500 + rateLimit429) {
      this.stat.injected.rateLimit429 += 1;
      res
        .writeHead(429, {
          "content-type": "application/json",
          "retry-after": String(this.options.retryAfterSeconds ?? 1),
        })
        .end('{"error":{"message":"injected 429"}}');
      return;
    }
    if (roll < error500 + rateLimit429 + hang) {
      this.stat.injected.hang += 1;
      this.hanging.add(res);
      res.on("close", () => this.hanging.delete(res));
      return;
    }
    if (roll < error500 + rateLimit429 + hang + drop) {
      this.stat.injected.drop += 1;
      res.socket?.destroy();
      finish();
      return;
    }
    if (roll < error500 + rateLimit429 + hang + drop + reject400) {
      this.stat.injected.reject400 += 1;
      res.writeHead(400, { "content-type": "application/json" }).end('{"error":{"message":"injected 400"}}');
      return;
    }
    let input: string[];
    let model = "test";
    try {
      const parsed = JSON.parse(body) as { input?: unknown; model?: unknown };
      input = typeof parsed.input === "string" ? [parsed.input] : (parsed.input as string[]);
      if (!Array.isArray(input) || input.some((t) => typeof t !== "string")) throw new Error("input");
      if (typeof parsed.model === "string") model = parsed.model;
    } catch {
      res
        .writeHead(400, { "content-type": "application/json" })
        .end('{"error":{"message":"input must be strings"}}');
      return;
    }
    const dimensions = this.options.dimensions ?? 64;
    const data = input.map((text, index) => ({
      object: "embedding",
      index,
      embedding: Array.from(embedText(text, dimensions)),
    }));
    this.stat.ok += 1;
    this.stat.textsOk += input.length;
    for (const text of input) this.counts.set(text, (this.counts.get(text) ?? 0) + 1);
    if (this.options.answerTimes) {
      const answer = { received, answered: Date.now() };
      for (const text of input) this.times.set(text, [...(this.times.get(text) ?? []), answer]);
    }
    res
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ object: "list", model, data }));
  }
}

function freshStats(): EmbeddingServerStats {
  return {
    requests: 0,
    ok: 0,
    textsOk: 0,
    textsRepeated: 0,
    injected: { ...NO_FAULTS },
    whileDown: 0,
    downTimes: [],
    inFlight: 0,
    maxInFlight: 0,
    meanInFlight: 0,
  };
}
