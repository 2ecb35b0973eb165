import type { PlannedDocument, SkippedFile } from "../core/types.js";
import type { InputSource } from "../input/sources.js";
import type { BatchInfo, PlanLock, Store } from "../store/store.js";
import { checkGroup, type GroupItem, planRecord, type RecordOptions, STAT_GROUP } from "./plan-record.js";

export interface PlanOptions extends RecordOptions {
  /** Documents written per transaction (one plan checkpoint each). @default 1000 */
  sliceDocs?: number;
  /**
   * Content bytes per transaction: slices of large documents stay small, and processing that runs
   * alongside planning is never held up for long. @default 2 MiB
   */
  sliceBytes?: number;
  /** The planning lock, renewed here while planning goes on. */
  lock?: PlanLock;
  lockTtlMs?: number;
  /**
   * The run holding the planning lock, when another thread holds and renews it: every write is
   * fenced by it (a planner that lost the lock writes nothing more). @default lock.run
   */
  lockRun?: number;
  /** Planning stops after the current slice when this aborts; the next run continues from there. */
  signal?: AbortSignal;
}

export interface PlanSummary {
  records: number;
  inserted: number;
  unchanged: number;
  changed: number;
  duplicates: number;
  /** Documents the completed plan deleted (`--sync full`). */
  deleted: number;
  /** False when planning stopped early (signal). */
  complete: boolean;
}

/**
 * Streams the input from the batch's plan checkpoint into the store in slices. Each slice and the
 * offset after it commit together, so a plan killed midway continues exactly where it stopped and
 * memory holds one slice, never the input.
 */
export async function planBatch(
  store: Store,
  source: InputSource,
  batch: BatchInfo,
  options: PlanOptions,
): Promise<PlanSummary> {
  const sliceDocs = options.sliceDocs ?? 1_000;
  const sliceBytes = options.sliceBytes ?? 2 << 20;
  const summary: PlanSummary = {
    records: 0,
    inserted: 0,
    unchanged: 0,
    changed: 0,
    duplicates: 0,
    deleted: 0,
    complete: false,
  };
  // Records the store's checkpoint holds: each write says where it starts, so a write that lost
  // the lock, or that came after a retried one, can never move the checkpoint back.
  let written = batch.planRecords;
  const lockRun = options.lockRun ?? options.lock?.run;
  let slice: PlannedDocument[] = [];
  let skipped: SkippedFile[] = [];
  let bytes = 0;
  let lastRenew = Date.now();
  const write = async (records: number, offset: number) => {
    const progress = await store.planDocuments(
      batch.batchId,
      batch.planGeneration,
      slice,
      { records, offset, from: written, ...(lockRun !== undefined ? { lockRun } : {}) },
      skipped,
    );
    skipped = [];
    written = records;
    summary.inserted += progress.inserted;
    summary.unchanged += progress.unchanged;
    summary.changed += progress.changed;
    summary.duplicates += progress.duplicates;
    slice = [];
    bytes = 0;
    await new Promise((resolve) => setImmediate(resolve));
    if (options.lock && Date.now() - lastRenew > (options.lockTtlMs ?? 30_000) / 3) {
      await options.lock.renew(options.lockTtlMs ?? 30_000);
      lastRenew = Date.now();
    }
  };
  // Records are checked and stat'ed a group at a time (one store call tells which files are
  // unchanged), then the files that must be read are read one by one.
  let group: GroupItem[] = [];
  const planGroup = async (): Promise<boolean> => {
    const items = await checkGroup(store, source, batch.batchId, group, options);
    group = [];
    for (const item of items) {
      const planned = item.kept ?? (await planRecord(source, item, options));
      if (planned !== null && "kind" in planned) skipped.push(planned);
      else if (planned !== null) {
        slice.push(planned);
        bytes += planned.content?.length ?? 0;
      }
      if (slice.length + skipped.length >= sliceDocs || bytes >= sliceBytes) {
        await write(item.seq + 1, item.record.next);
        if (options.signal?.aborted) return false;
      }
    }
    return true;
  };
  let records = batch.planRecords;
  let offset = batch.planOffset;
  for await (const record of source.records(batch.planOffset, batch.planRecords)) {
    offset = record.next;
    group.push({ record, seq: records });
    records += 1;
    summary.records += 1;
    if (group.length >= Math.min(STAT_GROUP, sliceDocs) && !(await planGroup())) return summary;
  }
  if (group.length > 0 && !(await planGroup())) return summary;
  if (slice.length > 0 || skipped.length > 0 || written < records) await write(records, offset);
  summary.deleted = await store.finishPlan(batch.batchId, batch.planGeneration, lockRun);
  summary.complete = true;
  return summary;
}
