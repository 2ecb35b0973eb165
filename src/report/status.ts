import { batchNotFound } from "../core/errors.js";
import type { StateCounts } from "../core/types.js";
import type { Store } from "../store/store.js";
import { type SinkReport, sinkReport } from "./sinks.js";

/** The contract's status: counts, and the failed and degraded documents with their errors. */
export interface BatchStatus {
  batch_id: string;
  counts: StateCounts;
  failed_documents: {
    id: string;
    source: string;
    attempts: number;
    last_error: { code: string; message: string } | null;
  }[];
  degraded_documents: {
    id: string;
    source: string;
    attempts: number;
    reason: { code: string; message: string } | null;
  }[];
  /** Files of the folder skipped as not documents (images, archives, ...), by path. */
  skipped_files: { path: string; kind: string }[];
  /** The batch's sinks: acknowledged seq, lag and last error. */
  sinks: SinkReport[];
}

/** @throws DocbatchError `BATCH_NOT_FOUND` when the store holds no such batch. */
export async function batchStatus(store: Store, batchId: string): Promise<BatchStatus> {
  if ((await store.getBatch(batchId)) === null) throw batchNotFound(batchId);
  const counts = await store.counts(batchId);
  const failed = await store.listDocuments(batchId, { states: ["failed"] });
  const degraded = await store.listDocuments(batchId, { states: ["degraded"] });
  const skipped = await store.listSkipped(batchId);
  return {
    batch_id: batchId,
    counts,
    failed_documents: failed.map((d) => ({
      id: d.docId,
      source: d.source,
      attempts: d.attempts,
      last_error: d.lastError,
    })),
    degraded_documents: degraded.map((d) => ({
      id: d.docId,
      source: d.source,
      attempts: d.attempts,
      reason: d.degradedReason,
    })),
    skipped_files: skipped.map((f) => ({ path: f.path, kind: f.kind })),
    sinks: await sinkReport(store, batchId),
  };
}
