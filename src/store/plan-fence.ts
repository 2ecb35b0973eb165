import { DocbatchError } from "../core/errors.js";
import type { PlanCursorWrite } from "./store.js";

/**
 * The fence of plan writes, the same in both stores: a slice is written only by the run holding
 * the planning lock, and only at the checkpoint it was read at, so a planner that lost its lock
 * (its lease expired, its connection dropped) writes nothing, and the checkpoint never goes back.
 */
export interface PlanFenceRow {
  plan_generation: number;
  plan_records: number;
  plan_lock_run: number | null;
}

/**
 * Whether a plan slice may be written: `write` when the checkpoint is where the writer left it and
 * it holds the lock, `written` when the checkpoint already passed the slice (a retry of a write that
 * committed); otherwise the writer lost the plan to another process (PLAN_LOCK_LOST).
 */
export function planFence(
  row: PlanFenceRow | undefined,
  generation: number,
  cursor: PlanCursorWrite,
): "write" | "written" {
  if (!row || row.plan_generation !== generation) throw planLockLost();
  if (cursor.lockRun !== undefined && row.plan_lock_run !== cursor.lockRun) throw planLockLost();
  if (cursor.from === undefined || row.plan_records === cursor.from) return "write";
  if (row.plan_records >= cursor.records) return "written";
  throw planLockLost();
}

export function planLockLost(batchId?: string): DocbatchError {
  return new DocbatchError(
    "PLAN_LOCK_LOST",
    `Another process took over planning${batchId ? ` batch ${batchId}` : ""}; this one wrote nothing more.`,
  );
}
