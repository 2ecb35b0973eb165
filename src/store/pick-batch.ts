import { DocbatchError } from "../core/errors.js";
import { requireBatch } from "./open.js";
import type { BatchInfo, Store } from "./store.js";

export interface PickedBatch {
  batchId: string;
  /** Null when the batch was asked for by name; otherwise why this one was picked, for people. */
  picked: string | null;
}

/**
 * The batch a command works on: the one asked for (which must exist), else the store's only batch,
 * else its latest (the one whose last run started last, or created last when none ran). The one
 * place `status`, `report`, `export`, `retry` (and any later reader) resolve a batch id, so they
 * all default alike.
 */
export async function pickBatch(store: Store, requested?: string): Promise<PickedBatch> {
  const asked = requested?.trim();
  if (asked) {
    await requireBatch(store, asked);
    return { batchId: asked, picked: null };
  }
  const batches = await store.listBatches();
  if (batches.length === 0) {
    throw new DocbatchError("BATCH_NOT_FOUND", "The store holds no batch yet.", {
      details: [{ path: "--batch-id", problem: "the store has no batches" }],
      hints: ["Run `docbatch run INPUT` first, or check --db / --store."],
    });
  }
  if (batches.length === 1) return { batchId: batches[0]!.batchId, picked: "the store's only batch" };
  const latest = await latestBatch(store, batches);
  const others = batches.length - 1;
  return {
    batchId: latest.batchId,
    picked: `the latest of ${batches.length} batches (${others} other${others === 1 ? "" : "s"}: see \`docbatch batches\`; choose with --batch-id)`,
  };
}

async function latestBatch(store: Store, batches: BatchInfo[]): Promise<BatchInfo> {
  let best = batches[0]!;
  let bestAt = -Infinity;
  for (const batch of batches) {
    const runs = await store.listRuns(batch.batchId);
    const at = Math.max(batch.createdAt, ...runs.map((r) => r.startedAt));
    // Ties (same millisecond) go to the batch listed later, i.e. created later.
    if (at >= bestAt) {
      best = batch;
      bestAt = at;
    }
  }
  return best;
}
