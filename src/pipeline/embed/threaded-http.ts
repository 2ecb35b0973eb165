import fs from "node:fs";
import { Worker } from "node:worker_threads";
import { DocbatchError, fromWireError } from "../../core/errors.js";
import { threadFile } from "../../core/own-files.js";
import type { Embedder } from "./embedder.js";
import { HttpEmbedder, type HttpEmbedderOptions } from "./http.js";
import type { EmbedAnswerMessage, EmbedInitMessage, EmbedRequestMessage } from "./http-thread.js";

const THREAD_FILE = threadFile("pipeline/embed/http-thread.js");

/** Young generation of the thread: an answer's JSON is read as short-lived numbers by the thousand. */
const RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 16 };

/**
 * A thread started before the run knows it needs one (see `prewarm`): a new thread takes about a
 * tenth of a second to load, which the first requests of a run would otherwise wait for.
 */
let standby: Worker | null = null;

interface Waiting {
  resolve(vectors: Float32Array[]): void;
  reject(err: unknown): void;
  signal: AbortSignal;
  onAbort(): void;
}

/**
 * An embeddings endpoint's client whose requests are sent and read on a thread of its own
 * (src/pipeline/embed/http-thread.ts). With one-line documents and a fast endpoint, HTTP (the
 * request's framing, the socket's writes and reads, the answer's JSON and its numbers) was a
 * seventh of the main thread's time, which bounds such a run; the main thread now posts the texts
 * and takes the vectors back. Errors arrive classified as the in-process client classifies them
 * (`HttpEmbedder`), with the server's Retry-After. Should the thread fail, the requests it held
 * fail as the service's unavailability (retried as such) and the run goes on with the in-process
 * client.
 */
export class ThreadedHttpEmbedder implements Embedder {
  readonly id: string;
  private readonly local: HttpEmbedder;
  private worker: Worker | null;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();

  /** Whether the thread's entry file exists (the built package; not when the sources run). */
  static available(): boolean {
    return fs.existsSync(THREAD_FILE);
  }

  /**
   * Starts the thread while the run validates its input and opens its store; the client made next
   * takes it (`discard` ends it if none does).
   */
  static prewarm(): void {
    if (standby || !ThreadedHttpEmbedder.available()) return;
    const worker = new Worker(THREAD_FILE, { resourceLimits: RESOURCE_LIMITS });
    worker.unref();
    worker.on("error", () => {});
    worker.once("exit", () => {
      if (standby === worker) standby = null;
    });
    standby = worker;
  }

  /** Ends the thread on standby, if no client took it. */
  static discard(): void {
    void standby?.terminate();
    standby = null;
  }

  constructor(options: HttpEmbedderOptions) {
    // Checks the options (a bad URL is a usage error here, not in the thread) and names the model.
    this.local = new HttpEmbedder(options);
    this.id = this.local.id;
    const worker =
      standby ?? new Worker(THREAD_FILE, { workerData: options, resourceLimits: RESOURCE_LIMITS });
    if (worker === standby) {
      standby = null;
      worker.removeAllListeners("error");
      worker.postMessage({ init: options } satisfies EmbedInitMessage);
    }
    // It keeps the process alive only while it holds requests.
    worker.unref();
    worker.on("message", (message: EmbedAnswerMessage) => this.answer(message));
    worker.on("error", () => this.lose(worker));
    worker.on("exit", () => this.lose(worker));
    this.worker = worker;
  }

  embed(texts: string[], signal: AbortSignal): Promise<Float32Array[]> {
    if (texts.length === 0) return Promise.resolve([]);
    signal.throwIfAborted();
    const worker = this.worker;
    if (!worker) return this.local.embed(texts, signal);
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const onAbort = () => {
        if (!this.take(id)) return;
        worker.postMessage({ id, abort: true } satisfies EmbedRequestMessage);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.set(id, { resolve, reject, signal, onAbort });
      if (this.waiting.size === 1) worker.ref();
      worker.postMessage({ id, texts } satisfies EmbedRequestMessage);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
    // As the in-process client's requests fail when it closes: none is left waiting for ever.
    this.failWaiting("the client of the embeddings service was closed");
    await this.local.close();
  }

  private answer(message: EmbedAnswerMessage): void {
    const waiting = this.take(message.id);
    if (!waiting) return;
    if ("vectors" in message) {
      waiting.resolve(message.vectors);
      return;
    }
    waiting.reject(fromWireError(message.error));
  }

  /** The request `id` leaves the waiting ones (null when it had left already). */
  private take(id: number): Waiting | null {
    const waiting = this.waiting.get(id);
    if (!waiting) return null;
    this.waiting.delete(id);
    waiting.signal.removeEventListener("abort", waiting.onAbort);
    if (this.waiting.size === 0) this.worker?.unref();
    return waiting;
  }

  /** The thread ended or failed: what it held fails as a retryable outage, the rest runs here. */
  private lose(worker: Worker): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.failWaiting("the thread sending embedding requests ended");
  }

  private failWaiting(why: string): void {
    for (const id of [...this.waiting.keys()])
      this.take(id)?.reject(new DocbatchError("EMBED_UNAVAILABLE", why));
  }
}
