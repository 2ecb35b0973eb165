import fs from "node:fs";
import type { Worker } from "node:worker_threads";
import { DocbatchError, fromWireError, type WireError } from "../core/errors.js";
import { threadFile } from "../core/own-files.js";
import type { PartValidation, ValidationSummary } from "../input/validate.js";
import type { PlanLock } from "../store/store.js";
import { spawnInputThread, spawnStandbyThread, takeEarlyInputThread } from "./early-thread.js";
import type { InputRef, InputThreadData } from "./input-thread.js";
import type { PlanSummary } from "./planner.js";

const THREAD_FILE = threadFile("runner/input-thread.js");

/**
 * A thread started before its job is known: loading a thread's modules takes a few hundred
 * milliseconds, which a run would otherwise wait for before its first document is planned.
 */
let standby: Worker | null = null;

/**
 * Validation and planning on a thread of their own (src/runner/input-thread.ts): reading and
 * hashing the input no longer competes with claims and commits on the main thread, which starts
 * processing the first planned documents at once, and what validation held is freed when its
 * thread ends.
 */
export const InputThread = {
  /** Whether the compiled thread exists (in the built package, not when running sources). */
  available(): boolean {
    return fs.existsSync(THREAD_FILE);
  },

  /**
   * Starts a thread for the next validation or plan while the caller gets ready for it, or keeps
   * the one the CLI's entry file started before the run loaded.
   */
  prewarm(): void {
    if (standby || !InputThread.available()) return;
    const worker = takeEarlyInputThread() ?? spawnStandbyThread(THREAD_FILE);
    worker.once("exit", () => {
      if (standby === worker) standby = null;
    });
    standby = worker;
  },

  /** Ends the thread on standby, and one the entry file started, if no job took them. */
  discard(): void {
    void standby?.terminate();
    void takeEarlyInputThread()?.terminate();
    standby = null;
  },

  validate(input: InputRef): Promise<ValidationSummary> {
    return runThread<ValidationSummary>({ job: "validate", input });
  },

  /** Checks the lines from byte `from` to byte `to` of a JSON Lines file (see `validatePart`). */
  validatePart(input: InputRef, from: number, to: number): Promise<PartValidation> {
    return runThread<PartValidation>({ job: "validate-part", input, from, to });
  },

  /** Plans while the main thread keeps the planning lock alive. */
  plan(
    data: Omit<Extract<InputThreadData, { job: "plan" }>, "job">,
    lock: PlanLock,
    lockTtlMs: number,
    signal?: AbortSignal,
  ): Promise<PlanSummary> {
    const renew = setInterval(() => void lock.renew(lockTtlMs).catch(() => {}), Math.max(500, lockTtlMs / 3));
    return runThread<PlanSummary>({ job: "plan", ...data }, signal).finally(() => clearInterval(renew));
  },
};

function runThread<T>(data: InputThreadData, signal?: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = takeStandby(data) ?? spawn(data);
    const onAbort = () => worker.postMessage({ stop: true });
    signal?.addEventListener("abort", onAbort, { once: true });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      void worker.terminate();
      fn();
    };
    worker.on("message", (message: { result?: T; error?: WireError }) => {
      if (message.error) {
        const error = fromWireError(message.error);
        finish(() => reject(error));
      } else if (message.result !== undefined) finish(() => resolve(message.result as T));
    });
    worker.on("error", (err) =>
      finish(() => reject(new DocbatchError("INTERNAL", `the ${data.job} thread failed: ${err.message}`))),
    );
    worker.on("exit", (code) =>
      finish(() => reject(new DocbatchError("INTERNAL", `the ${data.job} thread exited with code ${code}`))),
    );
  });
}

function spawn(data: InputThreadData): Worker {
  return spawnInputThread(THREAD_FILE, data);
}

function takeStandby(data: InputThreadData): Worker | null {
  const worker = standby;
  standby = null;
  if (!worker) return null;
  worker.ref();
  worker.removeAllListeners("error");
  worker.postMessage({ job: data });
  return worker;
}
