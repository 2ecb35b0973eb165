import { batchNotFound, DocbatchError } from "../core/errors.js";
import type { Store } from "../store/store.js";
import { syncBatch } from "./deliver-batch.js";
import { deadRuns } from "./liveness.js";
import type { Logger } from "./logger.js";
import type { SinkOptions } from "./sink-options.js";

export interface DeleteBatchOptions extends SinkOptions {
  /** An open store; the caller closes it. */
  store: Store;
  batchId: string;
  /**
   * Remove the batch without delivering the deletes of its chunks to its sinks: they keep what
   * they hold. @default false (every sink receives the deletes first)
   */
  dropSinks?: boolean;
  /** Longest time to deliver the deletes, in ms. @default 600_000 */
  timeoutMs?: number;
  /** Runs silent for longer than this are taken as dead. @default 30_000 */
  leaseMs?: number;
  logger?: Logger;
  signal?: AbortSignal;
}

export interface DeleteBatchResult {
  batch_id: string;
  /** Documents that still had a state other than `deleted`. */
  documents: number;
  sinks: { uri: string; delivered: boolean }[];
}

/**
 * Deletes a batch and everything it owns. First every document ends `deleted` (one transaction:
 * the chunks leave the export and the search index, the outbox gets their deletes), then every
 * sink receives those deletes, then the batch's rows go. Each step can be repeated: a delete
 * stopped midway (a sink down, a kill) is finished by running it again. A batch a live process
 * still works on is refused (BATCH_RUNNING).
 */
export async function deleteBatch(options: DeleteBatchOptions): Promise<DeleteBatchResult> {
  const { store, batchId } = options;
  if (!(await store.getBatch(batchId))) throw batchNotFound(batchId);
  const runs = await store.listRuns(batchId);
  const dead = new Set(deadRuns(runs, -1, options.leaseMs ?? 30_000));
  const live = runs.filter((r) => r.endedAt === null && !dead.has(r.run));
  if (live.length > 0) {
    throw new DocbatchError("BATCH_RUNNING", `Batch ${batchId} is being processed by run ${live[0]!.run}.`, {
      details: live.map((r) => ({ path: "batch_id", problem: `run ${r.run} of ${r.workerId} is running` })),
    });
  }
  const documents = await store.retireBatch(batchId, Date.now());
  let sinks = (await store.sinkCursors(batchId)).map((c) => ({ uri: c.uri, delivered: false }));
  if (!options.dropSinks && sinks.length > 0) {
    const cursors = await syncBatch({ ...options, sinks: options.sinks ?? [] });
    const behind = cursors.filter((c) => c.lag > 0);
    if (behind.length > 0) {
      throw new DocbatchError(
        "SINKS_BEHIND",
        `The deletes of batch ${batchId} did not reach every sink; the batch is kept until they do.`,
        {
          details: behind.map((c) => ({
            path: c.uri,
            problem: `${c.lag} changes behind${c.lastError ? ` (${c.lastError.code}: ${c.lastError.message})` : ""}`,
          })),
          hints: [
            "Run the same delete again once the sink is reachable, or add --drop-sinks to delete without delivering.",
          ],
        },
      );
    }
    sinks = cursors.map((c) => ({ uri: c.uri, delivered: true }));
  }
  await store.purgeBatch(batchId);
  return { batch_id: batchId, documents, sinks };
}
