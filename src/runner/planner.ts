import { DocbatchError } from "../core/errors.js";
import { contentHash, idempotencyKey, missingContentHash, normalizeContent } from "../core/keys.js";
import { isBinaryFormat, type PlannedDocument, type SkippedFile } from "../core/types.js";
import { checkDocument } from "../input/document.js";
import { loadFile, tooLargeMessage } from "../input/load.js";
import type { InputRecord, InputSource } from "../input/sources.js";
import type { BatchInfo, PlanLock, Store } from "../store/store.js";

export interface PlanOptions {
  /** Documents written per transaction (one plan checkpoint each). @default 1000 */
  sliceDocs?: number;
  /**
   * Content bytes per transaction: slices of large documents stay small, and processing that runs
   * alongside planning is never held up for long. @default 2 MiB
   */
  sliceBytes?: number;
  maxDocBytes: number;
  layer: string;
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
    complete: false,
  };
  let records = batch.planRecords;
  // Records the store's checkpoint holds: each write says where it starts, so a write that lost
  // the lock, or that came after a retried one, can never move the checkpoint back.
  let written = batch.planRecords;
  const lockRun = options.lockRun ?? options.lock?.run;
  let slice: PlannedDocument[] = [];
  let skipped: SkippedFile[] = [];
  let bytes = 0;
  let lastRenew = Date.now();
  const write = async (offset: number) => {
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
  let offset = batch.planOffset;
  for await (const record of source.records(batch.planOffset, batch.planRecords)) {
    offset = record.next;
    const seq = records;
    records += 1;
    summary.records += 1;
    const planned = await planRecord(source, record, seq, options);
    if (planned === null) continue;
    if ("kind" in planned) skipped.push(planned);
    else {
      slice.push(planned);
      bytes += planned.content?.length ?? 0;
    }
    if (slice.length + skipped.length >= sliceDocs || bytes >= sliceBytes) {
      await write(record.next);
      if (options.signal?.aborted) return summary;
    }
  }
  if (slice.length > 0 || skipped.length > 0) await write(offset);
  await store.finishPlan(batch.batchId, batch.planGeneration, lockRun);
  summary.complete = true;
  return summary;
}

/**
 * One input record as the store plans it: a document (keyed, its file read), a file skipped as
 * not a document, or null for a `path` document the file filter leaves out.
 */
async function planRecord(
  source: InputSource,
  record: InputRecord,
  seq: number,
  options: PlanOptions,
): Promise<PlannedDocument | SkippedFile | null> {
  if (record.skipped) return { path: record.where, kind: record.skipped };
  const { doc } = record.parseError === undefined ? checkDocument(record.raw, record.where) : { doc: null };
  if (!doc) {
    // Validation passed for this fingerprint, so the input changed while it was being planned.
    throw new DocbatchError("INVALID_INPUT", `${record.where} changed while the batch was being planned.`, {
      details: [{ path: record.where, problem: "changed during planning", ...record.extra }],
      hints: ["Do not modify the input while docbatch runs; run the same command again."],
    });
  }
  if (doc.path !== null && source.kind !== "directory" && !source.filter.includes(doc.path)) return null;
  let content = doc.content;
  let metadata = doc.metadata;
  let loadError: PlannedDocument["loadError"] = null;
  let fileMtime: number | null = null;
  const binary = isBinaryFormat(doc.format);
  if (doc.path !== null) {
    const loaded = await loadFile(source.root, doc.path, {
      maxBytes: options.maxDocBytes,
      skipNonDocuments: !doc.formatGiven,
      binary,
    });
    if (loaded.skipped) return { path: doc.path, kind: loaded.skipped };
    if (loaded.error) loadError = loaded.error;
    else {
      content = binary ? loaded.content : normalizeContent(loaded.content);
      fileMtime = loaded.mtimeMs;
      // Recorded only when it is not UTF-8, so the keys of UTF-8 files stay what they were.
      if (loaded.encoding !== null && loaded.encoding !== "UTF-8") {
        metadata = { encoding: loaded.encoding, ...metadata };
      }
    }
  } else if (content !== null) {
    // The limit is on the document's bytes, whether they came as text or as base64.
    const size = binary ? Buffer.byteLength(content, "base64") : Buffer.byteLength(content);
    if (size > options.maxDocBytes) {
      loadError = {
        code: "DOC_TOO_LARGE",
        message: tooLargeMessage("the content", size, options.maxDocBytes),
      };
    }
  }
  if (loadError) content = null;
  const hash =
    content !== null
      ? contentHash(doc.format, metadata, content)
      : missingContentHash(`${loadError?.code}:${doc.path ?? ""}`);
  return {
    seq,
    source: doc.source,
    docId: doc.docId,
    format: doc.format,
    metadata,
    content,
    loadError,
    contentHash: hash,
    idempotencyKey: idempotencyKey(doc.source, doc.docId, hash, options.layer),
    path: doc.path,
    fileMtime,
  };
}
