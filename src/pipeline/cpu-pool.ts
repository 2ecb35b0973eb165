import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { DocbatchError } from "../core/errors.js";
import type { DocumentFormat, ErrorInfo } from "../core/types.js";
import type { StageTimings } from "../store/store.js";
import type { ChunkOptions } from "./chunk.js";

export interface CpuTask {
  /** The content, or where the thread reads it itself (a SQLite store's `contents` row). */
  content: string | { file: string; row: number };
  format: DocumentFormat;
  chunk: ChunkOptions;
  mode: "normal" | "fallback";
  /** Also embed the chunks with the local embedder of this dimension; null to leave them. */
  embedDimensions: number | null;
}

export interface CpuResult {
  texts: string[];
  vectors: Float32Array[] | null;
  timings: StageTimings;
}

interface Pending {
  id: number;
  task: CpuTask;
  resolve: (result: CpuResult) => void;
  reject: (err: Error) => void;
}

const WORKER_FILE = fileURLToPath(new URL("./cpu-worker.js", import.meta.url));

/**
 * A pool of worker threads for the CPU stages, so that on a machine with several cores parsing,
 * chunking and local embedding run in parallel while the main thread claims and commits. A task
 * waits in a queue for an idle thread; a thread that dies (a parser that exhausts memory) fails
 * its task with PARSE_ERROR, which is retried, and is replaced.
 */
export class CpuPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  /** Whether the compiled worker exists (it does in the built package, not when running sources). */
  static available(): boolean {
    return fs.existsSync(WORKER_FILE);
  }

  private readonly starting: Promise<void>[] = [];

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) this.idle.push(this.spawn());
  }

  /** Resolves once every thread has loaded its modules (a first task would otherwise wait for it). */
  async ready(): Promise<void> {
    await Promise.all(this.starting);
  }

  run(task: CpuTask): Promise<CpuResult> {
    if (this.closed) return Promise.reject(new DocbatchError("INTERNAL", "the CPU pool is closed"));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new DocbatchError("INTERNAL", "the CPU pool is closed"));
    await Promise.all([...this.idle, ...this.busy.keys()].map((w) => w.terminate()));
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const pending = this.queue.shift()!;
      this.busy.set(worker, pending);
      worker.postMessage({ id: pending.id, task: pending.task });
    }
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_FILE);
    worker.unref();
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
        const pending = this.busy.get(worker);
        this.busy.delete(worker);
        this.idle.push(worker);
        if (pending) {
          if (message.error) pending.reject(new DocbatchError(message.error.code, message.error.message));
          else
            pending.resolve({
              texts: message.texts!,
              vectors: message.vectors ?? null,
              timings: message.timings ?? {},
            });
        }
        this.dispatch();
      },
    );
    worker.on("error", (err) => this.replace(worker, err));
    worker.on("exit", (code) => {
      if (!this.closed && (this.busy.has(worker) || this.idle.includes(worker))) {
        this.replace(worker, new Error(`the worker thread exited with code ${code}`));
      }
    });
    return worker;
  }

  private replace(worker: Worker, err: Error): void {
    const pending = this.busy.get(worker);
    this.busy.delete(worker);
    const i = this.idle.indexOf(worker);
    if (i >= 0) this.idle.splice(i, 1);
    pending?.reject(new DocbatchError("PARSE_ERROR", `a worker thread crashed: ${err.message}`));
    if (!this.closed) {
      this.idle.push(this.spawn());
      this.dispatch();
    }
  }
}
