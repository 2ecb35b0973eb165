import fs from "node:fs";
import path from "node:path";
import { canonicalJson, idempotencyKey, shortDigest } from "../core/keys.js";
import type { PlannedDocument } from "../core/types.js";
import type { ValidDocument } from "../input/document.js";
import type { InputRecord, InputSource } from "../input/sources.js";
import type { KnownDocument, Store } from "../store/store.js";

/**
 * Files skipped by stat. A document read from a file keeps a signature of the file's stat (size,
 * modification time, inode) and of the record that named it (path, format, metadata); a later plan
 * that finds the same signature takes the stored content and its hash instead of opening the file.
 * As in make and rsync, a file rewritten with the same size and modification time is therefore
 * not seen to change; `--rehash` reads every file again.
 */

export interface FileStat {
  size: number;
  mtimeMs: number;
  ino: number;
}

/** The signature of a document's file as it is now; null when the file cannot be stat'ed. */
export function fileSignature(doc: ValidDocument, stat: FileStat | null): string | null {
  if (stat === null || doc.path === null) return null;
  const record = shortDigest(canonicalJson([doc.path, doc.format, doc.formatGiven, doc.metadata]), 16);
  return `${stat.size}:${stat.mtimeMs}:${stat.ino}:${record}`;
}

/** The stat of a document's file: from the folder's listing when it has one, else one stat call. */
export async function statOf(
  source: InputSource,
  record: InputRecord,
  doc: ValidDocument,
): Promise<FileStat | null> {
  if (record.stat) return record.stat;
  if (doc.path === null) return null;
  try {
    const stat = await fs.promises.stat(path.resolve(source.root.realRoot, doc.path));
    return stat.isFile() ? { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino } : null;
  } catch {
    return null;
  }
}

/** What the store holds of these documents, by identity (one store call for a group of records). */
export async function knownByIdentity(
  store: Store,
  batchId: string,
  docs: { source: string; docId: string }[],
): Promise<Map<string, KnownDocument>> {
  if (docs.length === 0) return new Map();
  const known = await store.knownDocuments(
    batchId,
    docs.map((d) => ({ source: d.source, docId: d.docId })),
  );
  return new Map(known.map((k) => [identityKey(k.source, k.docId), k]));
}

export function identityKey(source: string, docId: string): string {
  return `${source}\u0000${docId}`;
}

/**
 * The planned document of a file whose signature is the one stored: its stored content stands,
 * and only the key is built again (the layer may have changed). Null when the file must be read.
 */
export function keptDocument(
  doc: ValidDocument,
  seq: number,
  sig: string | null,
  stat: FileStat | null,
  known: KnownDocument | undefined,
  layer: string,
): PlannedDocument | null {
  if (sig === null || !known || known.fileSig !== sig || !known.hasContent || known.state === "deleted") {
    return null;
  }
  return {
    seq,
    source: doc.source,
    docId: doc.docId,
    format: doc.format,
    metadata: doc.metadata,
    content: null,
    contentKept: true,
    loadError: null,
    contentHash: known.contentHash,
    idempotencyKey: idempotencyKey(doc.source, doc.docId, known.contentHash, layer),
    path: doc.path,
    fileMtime: stat?.mtimeMs ?? null,
    fileSig: sig,
  };
}
