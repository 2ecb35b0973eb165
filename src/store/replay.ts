import type { Outcome } from "./store.js";

/**
 * Replayed commits, the same in both stores. A commit whose connection was lost before its answer
 * is sent again with `replay`; the store tells whether the first attempt committed by the run's
 * `last_commit` (written in the same transaction as everything else). If it did, an outcome whose
 * fence guard now fails was either accepted by that attempt or refused by it; the document's row
 * tells which: the first attempt left its fence unchanged and stamped the row with the request's
 * `now`. Nothing is written twice, and the run's counters are not added to again.
 */
export interface SettledRow {
  row: number;
  state: string;
  fence: number;
  committed_at: number | null;
  updated_at: number | null;
}

export function appliedEarlier(outcome: Outcome, row: SettledRow | undefined, now: number): boolean {
  if (!row || row.fence !== outcome.doc.fence) return false;
  if (outcome.kind === "completed") {
    return row.state === (outcome.degraded ? "degraded" : "done") && row.committed_at === now;
  }
  if (outcome.kind === "failed") return row.state === "failed" && row.committed_at === now;
  return row.state === "pending" && row.updated_at === now;
}
