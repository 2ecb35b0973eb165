import type { StateCounts } from "../core/types.js";
import type { Store } from "../store/store.js";

/** A batch of a store as `docbatch batches --json` prints it (the contract's snake_case). */
export interface BatchSummary {
  batch_id: string;
  /** ISO-8601. */
  created_at: string;
  /** What the batch was planned from: a path, or `http:<sha256>` for a batch sent to the service. */
  input: string;
  plan_complete: boolean;
  counts: StateCounts;
}

/** Every batch of a store, oldest first, with its counts. */
export async function listBatches(store: Store): Promise<BatchSummary[]> {
  const out: BatchSummary[] = [];
  for (const b of await store.listBatches()) {
    out.push({
      batch_id: b.batchId,
      created_at: new Date(b.createdAt).toISOString(),
      input: b.inputRef,
      plan_complete: b.planComplete,
      counts: await store.counts(b.batchId),
    });
  }
  return out;
}
