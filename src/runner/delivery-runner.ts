import fs from "node:fs";
import { Worker } from "node:worker_threads";
import { threadFile } from "../core/own-files.js";
import type { DeliveryThreadData, DeliveryThreadMessage, DeliveryThreadRequest } from "./delivery-thread.js";
import type { Logger } from "./logger.js";
import type { Deliverer } from "./sink-delivery.js";

const THREAD_FILE = threadFile("runner/delivery-thread.js");

/**
 * Delivery on a thread of its own (src/runner/delivery-thread.ts), seen from the main thread: the
 * same `start`, `lag`, `drain` and `stop` as SinkDelivery. Its cost (reading the outbox back,
 * formatting vectors, writing and syncing the sink) then runs next to processing, on another core,
 * instead of between its commits. Library `Sink` objects cannot cross to a thread: a process given
 * one delivers on its main thread.
 */
export class DeliveryThread implements Deliverer {
  /** Whether the compiled thread exists (in the built package, not when running sources). */
  static available(): boolean {
    return fs.existsSync(THREAD_FILE);
  }

  private worker: Worker | null = null;
  private lastLag: number | null = null;
  private readonly drains = new Map<number, (caughtUp: boolean) => void>();
  private nextDrain = 0;
  private exited: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | null = null;
  private gone = false;

  constructor(
    private readonly data: DeliveryThreadData,
    private readonly logger: Logger,
  ) {}

  get lag(): number | null {
    return this.lastLag;
  }

  /** Starts the thread; resolves once it delivers (or rejects with the error it met). */
  start(): Promise<void> {
    const worker = new Worker(THREAD_FILE, { workerData: this.data });
    this.worker = worker;
    this.exited = new Promise((resolve) => worker.once("exit", () => resolve()));
    return new Promise((resolve, reject) => {
      worker.on("message", (message: DeliveryThreadMessage) => {
        if ("started" in message) resolve();
        else if ("error" in message) reject(Object.assign(new Error(message.error.message), message.error));
        else this.receive(message);
      });
      worker.on("error", (err) => {
        // Delivery stops; the run's drain then reports the sinks behind, and the next run goes on.
        this.logger.error({ event: "sink.thread_failed", error: err.message }, "delivery thread failed");
        reject(err);
      });
      void this.exited.then(() => {
        this.gone = true;
        for (const done of this.drains.values()) done(false);
        this.drains.clear();
        reject(new Error("the delivery thread ended before it started"));
      });
    });
  }

  drain(timeoutMs: number): Promise<boolean> {
    if (this.gone || !this.worker) return Promise.resolve(false);
    const id = this.nextDrain++;
    return new Promise((resolve) => {
      this.drains.set(id, resolve);
      this.send({ drain: id, timeoutMs });
    });
  }

  /** Stops delivery after its current call, hands the cursors back and ends the thread. */
  stop(): Promise<void> {
    if (this.gone || !this.worker) return Promise.resolve();
    if (!this.stopping) {
      this.send({ stop: true });
      this.stopping = this.exited;
    }
    return this.stopping;
  }

  private send(request: DeliveryThreadRequest): void {
    this.worker?.postMessage(request);
  }

  private receive(message: DeliveryThreadMessage): void {
    if ("lag" in message) this.lastLag = message.lag;
    else if ("drained" in message) {
      this.drains.get(message.drained)?.(message.caughtUp);
      this.drains.delete(message.drained);
    } else if ("log" in message) this.logger[message.log](message.fields, message.text);
    else if ("stopped" in message) void this.worker?.terminate();
  }
}
