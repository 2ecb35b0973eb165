import { Worker } from "node:worker_threads";

/**
 * The input thread started by the CLI's entry file before the CLI's own modules load
 * (src/cli/main.ts): a new thread loads Node's internal modules again for its isolate, which takes
 * longer than the process takes to load the CLI, so a run that plans waited for it before its first
 * document. Started first, it loads on the other core meanwhile. The entry file and the bundle each
 * hold a copy of this module, so the thread is handed over through a process-wide symbol.
 */
const EARLY = Symbol.for("docbatch.early-input-thread");

type Holder = { [EARLY]?: Worker };

/** A new input thread. A small young generation: the input is read as short-lived strings by the million. */
export function spawnInputThread(file: string | URL, workerData: unknown): Worker {
  return new Worker(file, { workerData, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
}

/** An input thread on standby: its job arrives later as a message (see InputThread.prewarm). */
export function spawnStandbyThread(file: string | URL): Worker {
  const worker = spawnInputThread(file, { job: "standby" });
  // Not a reason to keep the process alive, nor an error to report, until it has a job.
  worker.unref();
  worker.on("error", () => {});
  return worker;
}

/** Starts an input thread on standby for the run about to load. */
export function startEarlyInputThread(file: URL): Worker {
  const worker = spawnStandbyThread(file);
  (globalThis as Holder)[EARLY] = worker;
  return worker;
}

/** The thread the entry file started, once: the caller owns it from here (and ends it if unused). */
export function takeEarlyInputThread(): Worker | null {
  const holder = globalThis as Holder;
  const worker = holder[EARLY] ?? null;
  delete holder[EARLY];
  return worker;
}
