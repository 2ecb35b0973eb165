import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { DocbatchError } from "../core/errors.js";
import type { PlanLock } from "../store/store.js";
import type { PlanThreadData } from "./plan-thread.js";
import type { PlanSummary } from "./planner.js";

const THREAD_FILE = fileURLToPath(new URL("./plan-thread.js", import.meta.url));

/**
 * Planning on a thread of its own (src/runner/plan-thread.ts): reading and hashing the input no
 * longer competes with claims and commits on the main thread, which starts processing the first
 * planned documents at once. The main thread keeps the planning lock alive meanwhile.
 */
export const PlanThread = {
  /** Whether the compiled thread exists (in the built package, not when running sources). */
  available(): boolean {
    return fs.existsSync(THREAD_FILE);
  },

  run(data: PlanThreadData, lock: PlanLock, lockTtlMs: number, signal?: AbortSignal): Promise<PlanSummary> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(THREAD_FILE, { workerData: data });
      const renew = setInterval(
        () => void lock.renew(lockTtlMs).catch(() => {}),
        Math.max(500, lockTtlMs / 3),
      );
      const onAbort = () => worker.postMessage({ stop: true });
      signal?.addEventListener("abort", onAbort, { once: true });
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearInterval(renew);
        signal?.removeEventListener("abort", onAbort);
        void worker.terminate();
        fn();
      };
      worker.on(
        "message",
        (message: {
          summary?: PlanSummary;
          error?: { code: string; message: string; details?: never; hints?: never };
        }) => {
          if (message.summary) finish(() => resolve(message.summary!));
          else if (message.error) {
            const { code, message: text, details, hints } = message.error;
            finish(() =>
              reject(
                new DocbatchError(code, text, {
                  ...(details ? { details } : {}),
                  ...(hints ? { hints } : {}),
                }),
              ),
            );
          }
        },
      );
      worker.on("error", (err) =>
        finish(() => reject(new DocbatchError("INTERNAL", `the planning thread failed: ${err.message}`))),
      );
      worker.on("exit", (code) =>
        finish(() => reject(new DocbatchError("INTERNAL", `the planning thread exited with code ${code}`))),
      );
    });
  },
};
