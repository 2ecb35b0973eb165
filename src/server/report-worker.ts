import fs from "node:fs";
import { Worker } from "node:worker_threads";
import { DocbatchError } from "../core/errors.js";
import { threadFile } from "../core/own-files.js";
import type { BatchAnalysis } from "../report/report.js";
import type { StoreConnectionSpec } from "../store/store.js";

const THREAD_FILE = threadFile("server/report-thread.js");

/**
 * The main thread's side of the report thread (src/server/report-thread.ts): started on first
 * use, kept for the server's life, started again if it dies. Without a compiled thread (running
 * from sources) or a store another thread can open (SQLite in memory), `available` is false and
 * callers compute reports themselves.
 */
export class ReportWorker {
  private worker: Worker | null = null;
  private next = 1;
  private readonly pending = new Map<
    number,
    { resolve: (a: BatchAnalysis) => void; reject: (e: Error) => void }
  >();

  constructor(private readonly spec: StoreConnectionSpec | null) {}

  get available(): boolean {
    return this.spec !== null && fs.existsSync(THREAD_FILE);
  }

  analyze(batchId: string): Promise<BatchAnalysis> {
    const worker = this.start();
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, batchId });
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.fail(new DocbatchError("SHUTTING_DOWN", "The server is shutting down."));
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(THREAD_FILE, { workerData: this.spec });
    // It waits for requests forever: it must not keep a stopping process alive.
    worker.unref();
    worker.on(
      "message",
      (message: { id: number; analysis?: BatchAnalysis; error?: { code: string; message: string } }) => {
        const waiter = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error) waiter?.reject(new DocbatchError(message.error.code, message.error.message));
        else waiter?.resolve(message.analysis!);
      },
    );
    const lost = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.fail(new DocbatchError("INTERNAL", `the report thread ${why}`));
    };
    worker.on("error", (err) => lost(`failed: ${err.message}`));
    worker.on("exit", (code) => lost(`exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  private fail(error: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
