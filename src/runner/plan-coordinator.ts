import { DocbatchError } from "../core/errors.js";
import type { InputSource } from "../input/sources.js";
import type { BatchInfo, PlanLock, RunHandle, Store } from "../store/store.js";
import type { StopReason } from "./engine.js";
import { InputThread } from "./input-runner.js";
import type { InputRef } from "./input-thread.js";
import { deadRuns } from "./liveness.js";
import type { Logger } from "./logger.js";
import { type PlanSummary, planBatch } from "./planner.js";

/** The input of a batch as this process can read it. */
export interface PlanInput {
  source: InputSource;
  /** How the planning thread opens the same input. */
  ref: InputRef;
  maxDocBytes: number;
  layer: string;
  /** Read every file again (`--rehash`). */
  rehash?: boolean;
}

export interface CoordinatePlanOptions {
  store: Store;
  batchId: string;
  run: RunHandle;
  leaseMs: number;
  storeRetryMs: number;
  logger: Logger;
  signal?: AbortSignal;
  /** The batch's input, when this process can read it; null: it can only wait for a planner. */
  input: PlanInput | null;
  /** Why the input cannot be read here, told when no live process is planning the batch. */
  unreadable?: string;
  /** Told when this process starts writing the plan, with the records planned so far. */
  onPlanning?: (planned: number) => void;
  /** Told when this process starts (true) and stops (false) writing the plan. */
  writing?: (on: boolean) => void;
}

export interface PlanOutcome {
  stop: StopReason;
  /** What this process planned, if it planned. */
  summary: PlanSummary | null;
}

/**
 * Sees a batch's plan to its end, whoever writes it. One process at a time holds the planning lock
 * and writes from the plan checkpoint; the others wait. When the holder dies, a waiting process
 * that can read the input takes the lock over and continues from the checkpoint; one that cannot
 * (a worker on another machine, a batch uploaded to a server) says why and stops, rather than wait
 * forever. A holder that lost its lock (its lease ran out, its connection dropped and another took
 * over) learns it at its next write, which is refused, and goes back to waiting.
 */
export async function coordinatePlan(options: CoordinatePlanOptions): Promise<PlanOutcome> {
  const { store, batchId, run, leaseMs, logger } = options;
  let unlockedSince: number | null = null;
  for (;;) {
    const batch = await store.getBatch(batchId);
    if (!batch || batch.planComplete) return { stop: "finished", summary: null };
    const runs = await store.listRuns(batchId);
    const dead = deadRuns(runs, run.run, leaseMs);
    if (options.input) {
      const lock = await store.tryPlanLock(batchId, run, leaseMs, dead);
      if (lock) {
        const outcome = await planHolding(options, options.input, lock);
        if (outcome) return outcome;
      }
    } else {
      const holder = batch.planLockRun;
      const alive =
        holder !== null && !dead.includes(holder) && runs.some((r) => r.run === holder && r.endedAt === null);
      unlockedSince = alive ? null : (unlockedSince ?? Date.now());
      // Nobody holds the lock: a planner may be about to take it, so wait a lease before giving up;
      // a holder that died or ended is given up on at once.
      if (!alive && (holder !== null || Date.now() - unlockedSince! > leaseMs)) {
        throw planIncomplete(batch, options.unreadable);
      }
    }
    // A stop asked for ends the wait; a planner that holds the lock stops after its current slice.
    if (options.signal?.aborted) return { stop: "interrupted", summary: null };
    logger.debug({ event: "plan.wait", batchId, run: run.run }, "waiting for the planner");
    await new Promise((resolve) => setTimeout(resolve, 150 + Math.random() * 150));
  }
}

/** Plans while holding the lock; null when the lock was lost to another process (wait again). */
async function planHolding(
  options: CoordinatePlanOptions,
  input: PlanInput,
  lock: PlanLock,
): Promise<PlanOutcome | null> {
  const { store, batchId, run, logger } = options;
  try {
    const batch = await store.getBatch(batchId);
    if (!batch || batch.planComplete) return { stop: "finished", summary: null };
    if (batch.planRecords > 0) {
      logger.info(
        { event: "plan.takeover", batchId, run: run.run, from: batch.planRecords },
        "continuing the plan from its checkpoint",
      );
    }
    options.onPlanning?.(batch.planRecords);
    options.writing?.(true);
    const summary = await writePlan(options, input, batch, lock);
    logger.info({ event: "plan.done", batchId, run: run.run, ...summary }, "planned");
    return { stop: summary.complete ? "finished" : "interrupted", summary };
  } catch (err) {
    if (!(err instanceof DocbatchError && err.code === "PLAN_LOCK_LOST")) throw err;
    logger.warn({ event: "plan.lost", batchId, run: run.run }, "another process took over the plan");
    return null;
  } finally {
    options.writing?.(false);
    await lock.release().catch(() => {});
  }
}

/** On the input thread when it can be used (it opens its own store connection), else here. */
function writePlan(
  options: CoordinatePlanOptions,
  input: PlanInput,
  batch: BatchInfo,
  lock: PlanLock,
): Promise<PlanSummary> {
  const spec = options.store.connectionSpec();
  if (spec !== null && InputThread.available()) {
    return InputThread.plan(
      {
        store: spec,
        input: input.ref,
        batch,
        maxDocBytes: input.maxDocBytes,
        layer: input.layer,
        ...(input.rehash ? { rehash: true } : {}),
        lockRun: lock.run,
        storeRetryMs: options.storeRetryMs,
      },
      lock,
      options.leaseMs,
      options.signal,
    );
  }
  return planBatch(options.store, input.source, batch, {
    maxDocBytes: input.maxDocBytes,
    layer: input.layer,
    ...(input.rehash ? { rehash: true } : {}),
    lock,
    lockTtlMs: options.leaseMs,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

function planIncomplete(batch: BatchInfo, unreadable: string | undefined): DocbatchError {
  return new DocbatchError(
    "PLAN_INCOMPLETE",
    `The plan of batch ${batch.batchId} stopped after ${batch.planRecords} input records and no live ` +
      `process is writing it; this process cannot continue it: ${unreadable ?? "its input cannot be read here"}.`,
    { details: [{ path: "input", problem: unreadable ?? "unreadable", input: batch.inputRef }] },
  );
}

/**
 * A plan being seen to its end alongside processing: whether it still runs, whether this process
 * writes it now (processing then looks for new documents often), and a signal that stops
 * processing when planning fails.
 */
export class PlanTask {
  private task: Promise<PlanOutcome> | null = null;
  private readonly failed = new AbortController();
  running = false;
  writing = false;

  start(task: Promise<PlanOutcome>): void {
    this.running = true;
    this.task = task.finally(() => {
      this.running = false;
    });
    this.task.catch(() => this.failed.abort());
  }

  setWriting(on: boolean): void {
    this.writing = on;
  }

  /** Aborted by `outer`, or when planning fails (its error comes from `outcome`). */
  signal(outer?: AbortSignal): AbortSignal {
    return outer ? AbortSignal.any([outer, this.failed.signal]) : this.failed.signal;
  }

  /** How planning ended ("finished" when there was nothing to plan); throws what planning threw. */
  async outcome(): Promise<StopReason> {
    return this.task ? (await this.task).stop : "finished";
  }
}
