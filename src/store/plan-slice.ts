import type { PlannedDocument } from "../core/types.js";
import type { PlanProgress } from "./store.js";

/** What the store holds for a planned document's identity, as far as planning cares. */
export interface KnownIdentity {
  idem_key: string;
  plan_generation: number;
  state: string;
}

/** What planning does with a document: the same decisions in both stores, the SQL in each. */
export type SliceDecision = "insert" | "duplicate" | "unchanged" | "replace";

/**
 * Decides a planned document against the row its identity has in the store:
 * - no row: insert it pending;
 * - a row of this plan generation: a duplicate inside the input (validation already rejected
 *   duplicates with different content), counted and skipped;
 * - a row of an earlier generation with the same key: unchanged, its state and output are kept;
 * - a row with another key: the content changed; it goes back to pending with a new fence, so a
 *   worker still processing the old content cannot commit, and its old chunks stay visible until
 *   the new ones replace them;
 * - a `deleted` row: the document came back; it is planned again like a new one.
 * The decision is counted in `progress` (a document that came back counts as inserted).
 */
export function decideDocument(
  found: KnownIdentity | undefined,
  doc: PlannedDocument,
  generation: number,
  progress: PlanProgress,
): SliceDecision {
  if (found === undefined) {
    progress.inserted += 1;
    return "insert";
  }
  if (found.plan_generation === generation) {
    progress.duplicates += 1;
    return "duplicate";
  }
  if (found.idem_key === doc.idempotencyKey && found.state !== "deleted") {
    progress.unchanged += 1;
    return "unchanged";
  }
  if (found.state === "deleted") progress.inserted += 1;
  else progress.changed += 1;
  return "replace";
}

export function emptyProgress(): PlanProgress {
  return { inserted: 0, unchanged: 0, changed: 0, duplicates: 0 };
}
