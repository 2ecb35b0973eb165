import type { PlannedDocument, SkippedFile } from "../core/types.js";
import type { InputSource } from "../input/sources.js";
import type { BatchInfo, PlanLock, Store } from "../store/store.js";
import { checkGroup, type GroupItem, planRecord, type RecordOptions, STAT_GROUP } from "./plan-record.js";

export interface PlanOptions extends RecordOptions {
  /**
   * Documents written per transaction (one plan checkpoint each). The first slices are smaller
   * (FIRST_SLICE_DOCS, doubling up to this), so that processing starts as soon as a few
   * documents are planned, not after a whole slice was read and hashed. @default 1000
   */
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

/** Documents in the first slice a planner writes; each next slice holds twice as many, up to `sliceDocs`. */
export const FIRST_SLICE_DOCS = 64;

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
  const writer = new SliceWriter(store, batch, options);
  const { summary } = writer;
  // Records are checked and stat'ed a group at a time (one store call tells which files are
  // unchanged), then the files that must be read are read one by one.
  let group: GroupItem[] = [];
  const planGroup = async (): Promise<boolean> => {
    const items = await checkGroup(store, source, batch.batchId, group, options);
    group = [];
    for (const item of items) {
      writer.add(item.kept ?? (await planRecord(source, item, options)));
      if (writer.full) {
        await writer.write(item.seq + 1, item.record.next);
        if (options.signal?.aborted) return false;
      }
    }
    return true;
  };
  let records = batch.planRecords;
  let offset = batch.planOffset;
  for await (const read of source.recordBatches(batch.planOffset, batch.planRecords)) {
    for (const record of read) {
      offset = record.next;
      group.push({ record, seq: records });
      records += 1;
      summary.records += 1;
      if (group.length >= Math.min(STAT_GROUP, writer.sliceDocs) && !(await planGroup())) return summary;
    }
  }
  if (group.length > 0 && !(await planGroup())) return summary;
  await writer.writeRest(records, offset);
  summary.deleted = await store.finishPlan(batch.batchId, batch.planGeneration, writer.lockRun);
  summary.complete = true;
  return summary;
}

/**
 * The slice being planned: documents and skipped files gathered until the slice is full, then
 * written with the checkpoint after them in one store call, the planning lock renewed on the way.
 */
class SliceWriter {
  readonly summary: PlanSummary = {
    records: 0,
    inserted: 0,
    unchanged: 0,
    changed: 0,
    duplicates: 0,
    deleted: 0,
    complete: false,
  };
  readonly lockRun: number | undefined;
  private slice: PlannedDocument[] = [];
  private skipped: SkippedFile[] = [];
  private bytes = 0;
  private lastRenew = Date.now();
  /** Documents the current slice holds at most (see PlanOptions.sliceDocs). */
  sliceDocs: number;
  /**
   * Records the store's checkpoint holds: each write says where it starts, so a write that lost
   * the lock, or that came after a retried one, can never move the checkpoint back.
   */
  private written: number;

  constructor(
    private readonly store: Store,
    private readonly batch: BatchInfo,
    private readonly options: PlanOptions,
  ) {
    this.written = batch.planRecords;
    this.lockRun = options.lockRun ?? options.lock?.run;
    this.sliceDocs = Math.min(FIRST_SLICE_DOCS, this.fullSlice);
  }

  private get fullSlice(): number {
    return this.options.sliceDocs ?? 1_000;
  }

  add(planned: PlannedDocument | SkippedFile | null): void {
    if (planned === null) return;
    if ("kind" in planned) this.skipped.push(planned);
    else {
      this.slice.push(planned);
      this.bytes += planned.content?.length ?? 0;
    }
  }

  get full(): boolean {
    const { sliceBytes = 2 << 20 } = this.options;
    return this.slice.length + this.skipped.length >= this.sliceDocs || this.bytes >= sliceBytes;
  }

  /** Writes what is left, or only the checkpoint when the last records planned nothing. */
  async writeRest(records: number, offset: number): Promise<void> {
    if (this.slice.length > 0 || this.skipped.length > 0 || this.written < records)
      await this.write(records, offset);
  }

  async write(records: number, offset: number): Promise<void> {
    const { lockRun } = this;
    const progress = await this.store.planDocuments(
      this.batch.batchId,
      this.batch.planGeneration,
      this.slice,
      { records, offset, from: this.written, ...(lockRun !== undefined ? { lockRun } : {}) },
      this.skipped,
    );
    this.skipped = [];
    this.written = records;
    this.summary.inserted += progress.inserted;
    this.summary.unchanged += progress.unchanged;
    this.summary.changed += progress.changed;
    this.summary.duplicates += progress.duplicates;
    this.slice = [];
    this.bytes = 0;
    this.sliceDocs = Math.min(2 * this.sliceDocs, this.fullSlice);
    await new Promise((resolve) => setImmediate(resolve));
    await this.renewLock();
  }

  private async renewLock(): Promise<void> {
    const { lock, lockTtlMs = 30_000 } = this.options;
    if (lock && Date.now() - this.lastRenew > lockTtlMs / 3) {
      await lock.renew(lockTtlMs);
      this.lastRenew = Date.now();
    }
  }
}
