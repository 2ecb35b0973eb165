import { DocbatchError } from "../core/errors.js";
import { contentHash, idempotencyKey, missingContentHash, normalizeContent } from "../core/keys.js";
import { isBinaryFormat, type PlannedDocument } from "../core/types.js";
import { checkDocument } from "../input/document.js";
import { loadFile } from "../input/load.js";
import type { InputSource } from "../input/sources.js";
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
  lock?: PlanLock;
  lockTtlMs?: number;
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
  let slice: PlannedDocument[] = [];
  let bytes = 0;
  let lastRenew = Date.now();
  const write = async (offset: number) => {
    const progress = await store.planDocuments(batch.batchId, batch.planGeneration, slice, {
      records,
      offset,
    });
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
  for await (const record of source.records(batch.planOffset)) {
    offset = record.next;
    const seq = records;
    records += 1;
    summary.records += 1;
    const { doc } = record.parseError === undefined ? checkDocument(record.raw, record.where) : { doc: null };
    if (!doc) {
      // Validation passed for this fingerprint, so the input changed while it was being planned.
      throw new DocbatchError("INVALID_INPUT", `${record.where} changed while the batch was being planned.`, {
        details: [{ path: record.where, problem: "changed during planning", ...record.extra }],
        hints: ["Do not modify the input while docbatch runs; run the same command again."],
      });
    }
    let content = doc.content;
    let loadError: PlannedDocument["loadError"] = null;
    let fileMtime: number | null = null;
    const binary = isBinaryFormat(doc.format);
    if (doc.path !== null) {
      const loaded = await loadFile(source.root, doc.path, options.maxDocBytes, binary);
      if (loaded.error) loadError = loaded.error;
      else {
        content = binary ? loaded.content : normalizeContent(loaded.content);
        fileMtime = loaded.mtimeMs;
      }
    } else if (content !== null) {
      // The limit is on the document's bytes, whether they came as text or as base64.
      const size = binary ? Buffer.byteLength(content, "base64") : Buffer.byteLength(content);
      if (size > options.maxDocBytes) {
        loadError = {
          code: "DOC_TOO_LARGE",
          message: `the content has ${size} bytes, more than ${options.maxDocBytes}`,
        };
      }
    }
    if (loadError) content = null;
    const hash =
      content !== null
        ? contentHash(doc.format, doc.metadata, content)
        : missingContentHash(`${loadError?.code}:${doc.path ?? ""}`);
    slice.push({
      seq,
      source: doc.source,
      docId: doc.docId,
      format: doc.format,
      metadata: doc.metadata,
      content,
      loadError,
      contentHash: hash,
      idempotencyKey: idempotencyKey(doc.source, doc.docId, hash, options.layer),
      path: doc.path,
      fileMtime,
    });
    bytes += content?.length ?? 0;
    if (slice.length >= sliceDocs || bytes >= sliceBytes) {
      await write(record.next);
      if (options.signal?.aborted) return summary;
    }
  }
  if (slice.length > 0) await write(offset);
  await store.finishPlan(batch.batchId, batch.planGeneration);
  summary.complete = true;
  return summary;
}
