import { DocbatchError } from "../core/errors.js";
import { contentHash, idempotencyKey, missingContentHash, normalizeContent } from "../core/keys.js";
import { isBinaryFormat, type PlannedDocument, type SkippedFile } from "../core/types.js";
import { checkDocument, type ValidDocument } from "../input/document.js";
import { loadFile, tooLargeMessage } from "../input/load.js";
import type { InputRecord, InputSource } from "../input/sources.js";
import type { Store } from "../store/store.js";
import {
  type FileStat,
  fileSignature,
  identityKey,
  keptDocument,
  knownByIdentity,
  statOf,
} from "./plan-files.js";

/**
 * One input record as a plan sees it: checked, its file stat'ed, and either kept (its stat is the
 * one stored) or read. Shared by the planner, which writes what it finds, and by `docbatch plan`,
 * which only counts it.
 */

/** How records are planned: the options of `planBatch` these steps need. */
export interface RecordOptions {
  maxDocBytes: number;
  layer: string;
  rehash?: boolean;
}

/** Records checked, stat'ed and looked up together. */
export const STAT_GROUP = 256;

export interface GroupItem {
  record: InputRecord;
  seq: number;
}

export interface CheckedItem extends GroupItem {
  /** Null for a file of a folder that is not a document. */
  doc: ValidDocument | null;
  sig: string | null;
  stat: FileStat | null;
  /** Set when the file's stat is unchanged: planned without reading it. */
  kept: PlannedDocument | null;
}

/**
 * Checks a group of records, stats their files and finds which ones need not be read again (none
 * without a store, or with `rehash`).
 */
export async function checkGroup(
  store: Store | null,
  source: InputSource,
  batchId: string,
  group: GroupItem[],
  options: RecordOptions,
): Promise<CheckedItem[]> {
  const items: CheckedItem[] = await Promise.all(
    group.map(async (item) => {
      const doc = item.record.skipped ? null : checkedDocument(item.record);
      const read = doc?.path != null && (source.kind === "directory" || source.filter.includes(doc.path));
      const stat = read ? await statOf(source, item.record, doc!) : null;
      return { ...item, doc, stat, sig: doc ? fileSignature(doc, stat) : null, kept: null };
    }),
  );
  if (options.rehash || store === null) return items;
  const withFiles = items.filter((i) => i.sig !== null).map((i) => i.doc!);
  const known = await knownByIdentity(store, batchId, withFiles);
  for (const item of items) {
    if (item.doc === null || item.sig === null) continue;
    const stored = known.get(identityKey(item.doc.source, item.doc.docId));
    item.kept = keptDocument(item.doc, item.seq, item.sig, item.stat, stored, options.layer);
  }
  return items;
}

function checkedDocument(record: InputRecord): ValidDocument {
  const { doc } = record.parseError === undefined ? checkDocument(record.raw, record.where) : { doc: null };
  if (!doc) {
    // Validation passed for this fingerprint, so the input changed while it was being planned.
    throw new DocbatchError("INVALID_INPUT", `${record.where} changed while the batch was being planned.`, {
      details: [{ path: record.where, problem: "changed during planning", ...record.extra }],
      hints: ["Do not modify the input while docbatch runs; run the same command again."],
    });
  }
  return doc;
}

/**
 * One input record as the store plans it: a document (keyed, its file read), a file skipped as
 * not a document, or null for a `path` document the file filter leaves out.
 */
export async function planRecord(
  source: InputSource,
  item: CheckedItem,
  options: RecordOptions,
): Promise<PlannedDocument | SkippedFile | null> {
  const { record, doc, seq } = item;
  if (doc === null) return { path: record.where, kind: record.skipped ?? "binary" };
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
    fileSig: loadError ? null : item.sig,
  };
}
