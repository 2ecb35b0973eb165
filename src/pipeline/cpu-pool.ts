import fs from "node:fs";
import { Worker } from "node:worker_threads";
import { DocbatchError } from "../core/errors.js";
import type { Interruptible } from "../core/interrupt.js";
import { threadFile } from "../core/own-files.js";
import type { ChunkMetadata, DocumentFormat, ErrorInfo, StageTimings } from "../core/types.js";
import type { ChunkOptions } from "./chunk.js";

export type CpuTask = PrepareTask | EmbedTask | HashEmbedTask;

/** Parse, clean and chunk one document (and embed it with the built-in embedder). */
export interface PrepareTask {
  kind?: "prepare";
  /** The content, or where the thread reads it itself (a SQLite store's `contents` row). */
  content: string | { file: string; row: number };
  format: DocumentFormat;
  chunk: ChunkOptions;
  mode: "normal" | "fallback";
  /** Also embed the chunks with the local embedder of this dimension; null to leave them. */
  embedDimensions: number | null;
  /** The content's size in bytes when the thread reads it itself (balances the threads). */
  size?: number;
  /** The title of last resort (see `prepareChunks`). */
  name: string;
}

/** Embed texts with the local model in `modelDir` (loaded once per thread). */
export interface EmbedTask {
  kind: "embed";
  texts: string[];
  modelDir: string;
  /** Cores ONNX Runtime computes one batch on. */
  threads: number;
}

/** Embed texts with the built-in embedder (see `LocalEmbedder`). */
export interface HashEmbedTask {
  kind: "hash-embed";
  texts: string[];
  dimensions: number;
}

export interface CpuResult {
  texts: string[];
  metadata: ChunkMetadata[];
  vectors: Float32Array[] | null;
  timings: StageTimings;
}

interface Pending {
  id: number;
  task: CpuTask;
  resolve: (result: CpuResult) => void;
  reject: (err: Error) => void;
}

export interface CpuPoolOptions {
  /** Bytes of tasks the caller does itself before the threads start (see `warmFor`). @default 0 */
  startAfterBytes?: number;
}

const WORKER_FILE = threadFile("pipeline/cpu-worker.js");

/**
 * A pool of worker threads for the CPU stages, so that on a machine with several cores parsing,
 * chunking and local embedding run in parallel while the main thread claims and commits. Tasks
 * are handed to a thread at once, to the one with the least work outstanding (in bytes): a thread
 * always has its next task in its own queue and never waits for the busy main thread to take a
 * result and send more. A thread that dies (a parser that exhausts memory) fails the task it was
 * running with PARSE_ERROR, which is retried; the tasks queued behind it go to the other threads,
 * and it is replaced. A task whose signal aborts (the document's time limit) is dropped from its
 * thread's queue, or, when it is running, its thread is terminated and replaced: a parser stuck on
 * a hostile file cannot hold a thread, whatever it does.
 */
export class CpuPool {
  private readonly threads = new Map<Worker, { tasks: Map<number, Pending>; bytes: number }>();
  private readonly waiting: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private readonly starting: Promise<void>[] = [];

  /** Whether the compiled worker exists (it does in the built package, not when running sources). */
  static available(): boolean {
    return fs.existsSync(WORKER_FILE);
  }

  private started = false;
  private loaded = false;
  /** Bytes of the tasks the caller did itself before the threads started (see `warmFor`). */
  private doneElsewhere = 0;

  /**
   * The threads start with the first task (or `ready`, or `warmFor`'s threshold): a batch whose
   * documents all run on the main thread (tiny texts) never spends the CPU of loading their
   * modules, which on two cores would be taken from the main thread and the planner while they
   * start.
   */
  constructor(
    readonly size: number,
    private readonly options: CpuPoolOptions = {},
  ) {}

  /** Whether the threads have loaded their modules (without starting them). */
  get loadedAlready(): boolean {
    return this.loaded;
  }

  /** Starts the threads and resolves once every one has loaded its modules. */
  async ready(): Promise<void> {
    this.start();
    await Promise.all(this.starting);
  }

  /**
   * Whether the threads have loaded their modules; the first call starts them. A caller that can
   * do a task itself does it while this is false, instead of waiting for a thread to start.
   */
  warm(): boolean {
    this.start();
    return this.loaded;
  }

  /**
   * Whether a task of `bytes` that the caller could do itself should go to the threads. Before
   * they start, the caller does such tasks itself until they add up to `startAfterBytes` (a cost
   * about that of the threads' start-up: rent until the rent equals the price); then it starts them.
   */
  warmFor(bytes: number): boolean {
    if (!this.started && this.doneElsewhere < (this.options.startAfterBytes ?? 0)) {
      this.doneElsewhere += bytes;
      return false;
    }
    return this.warm();
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    for (let i = 0; i < this.size; i++) this.spawn();
    void Promise.all(this.starting).then(() => {
      this.loaded = true;
    });
  }

  run(task: CpuTask, signal?: Interruptible): Promise<CpuResult> {
    if (this.closed) return Promise.reject(new DocbatchError("INTERNAL", "the CPU pool is closed"));
    this.start();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const pending: Pending = { id: this.nextId++, task, resolve, reject };
      if (signal) {
        const onAbort = () => this.cancel(pending, signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
        const done = () => signal.removeEventListener("abort", onAbort);
        pending.resolve = (r) => {
          done();
          resolve(r);
        };
        pending.reject = (e) => {
          done();
          reject(e);
        };
      }
      this.assign(pending);
    });
  }

  /** Takes a task back: from the waiting list, from its thread's queue, or by ending its thread. */
  private cancel(pending: Pending, reason: unknown): void {
    const error = reason instanceof Error ? reason : new DocbatchError("INTERNAL", String(reason));
    const waiting = this.waiting.indexOf(pending);
    if (waiting >= 0) {
      this.waiting.splice(waiting, 1);
      pending.reject(error);
      return;
    }
    for (const [worker, thread] of this.threads) {
      if (!thread.tasks.has(pending.id)) continue;
      const running = thread.tasks.keys().next().value === pending.id;
      if (running) {
        this.replace(worker, error);
      } else {
        thread.tasks.delete(pending.id);
        thread.bytes -= taskBytes(pending.task);
        worker.postMessage({ cancel: pending.id });
        pending.reject(error);
      }
      return;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const closedError = () => new DocbatchError("INTERNAL", "the CPU pool is closed");
    for (const p of this.waiting.splice(0)) p.reject(closedError());
    for (const t of this.threads.values()) for (const p of t.tasks.values()) p.reject(closedError());
    await Promise.all([...this.threads.keys()].map((w) => w.terminate()));
  }

  private assign(pending: Pending): void {
    let target: Worker | null = null;
    let least = Number.POSITIVE_INFINITY;
    for (const [worker, t] of this.threads) {
      if (t.bytes < least) {
        least = t.bytes;
        target = worker;
      }
    }
    if (!target) {
      this.waiting.push(pending);
      return;
    }
    const t = this.threads.get(target)!;
    t.tasks.set(pending.id, pending);
    t.bytes += taskBytes(pending.task);
    target.postMessage({ id: pending.id, task: pending.task });
  }

  private spawn(): void {
    // Each thread's young generation is capped: tasks are one document each, and memory stays
    // flat however many threads run.
    const worker = new Worker(WORKER_FILE, { resourceLimits: { maxYoungGenerationSizeMb: 16 } });
    worker.unref();
    const thread = { tasks: new Map<number, Pending>(), bytes: 0 };
    this.threads.set(worker, thread);
    this.starting.push(
      new Promise<void>((resolve) => {
        worker.once("message", () => resolve());
        worker.once("exit", () => resolve());
      }),
    );
    worker.on(
      "message",
      (message: { id: number; ready?: boolean; error?: ErrorInfo } & Partial<CpuResult>) => {
        if (message.ready) return;
        const pending = thread.tasks.get(message.id);
        if (!pending) return;
        thread.tasks.delete(message.id);
        thread.bytes -= taskBytes(pending.task);
        if (message.error) pending.reject(new DocbatchError(message.error.code, message.error.message));
        else
          pending.resolve({
            texts: message.texts!,
            metadata: message.metadata ?? [],
            vectors: message.vectors ?? null,
            timings: message.timings ?? {},
          });
      },
    );
    worker.on("error", (err) => this.replace(worker, crashed(err)));
    worker.on("exit", (code) => {
      if (!this.closed && this.threads.has(worker)) {
        this.replace(worker, crashed(new Error(`the worker thread exited with code ${code}`)));
      }
    });
    for (const p of this.waiting.splice(0)) this.assign(p);
  }

  /** Ends a thread, fails the task it was running with `error`, and hands its queue to a new one. */
  private replace(worker: Worker, error: Error): void {
    const thread = this.threads.get(worker);
    if (!thread) return;
    this.threads.delete(worker);
    void worker.terminate();
    // A thread runs its tasks in order: the first was running, the others had not started.
    const [running, ...queued] = [...thread.tasks.values()];
    running?.reject(error);
    if (this.closed) return;
    this.spawn();
    for (const p of queued) this.assign(p);
  }
}

function crashed(err: Error): DocbatchError {
  return new DocbatchError("PARSE_ERROR", `a worker thread crashed: ${err.message}`);
}

/** The work of a task, for balancing: its content's length, or a typical large document. */
function taskBytes(task: CpuTask): number {
  if (task.kind === "embed") return task.texts.reduce((n, t) => n + t.length, 0) * 16;
  if (task.kind === "hash-embed") return task.texts.reduce((n, t) => n + t.length, 0);
  return typeof task.content === "string" ? task.content.length : (task.size ?? 64 * 1024);
}
