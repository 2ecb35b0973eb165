import { chunkKey } from "../core/keys.js";
import type { JsonObject } from "../core/types.js";
import { decodeError, decodeObject } from "./codec.js";
import type {
  ChangePage,
  OutputChange,
  SinkChange,
  SinkCursor,
  SinkLease,
  SinkOwner,
} from "./index-store.js";

/**
 * The outbox as both stores write and read it. A row names one document version and a range of
 * its chunk indexes; it never copies a text or a vector.
 */
export interface OutboxRow {
  row: number;
  op: "upsert" | "delete";
  key: string;
  from: number;
  to: number;
  docId: string;
  source: string;
}

/**
 * The outbox rows of one output change: the keys of the old version that the new one does not
 * hold are deleted (all of them when the key changed; the tail when a backfill of the same key
 * made fewer chunks), then the new version is upserted.
 */
export function outboxRows(changes: OutputChange[]): OutboxRow[] {
  const rows: OutboxRow[] = [];
  // Each row written out in full: spreading shared fields into a literal costs V8 kilobytes of
  // garbage per call, and this runs once per committed document.
  for (const { row, docId, source, before, after } of changes) {
    if (before && before.count > 0) {
      const from = after && after.key === before.key ? Math.min(after.count, before.count) : 0;
      if (from < before.count)
        rows.push({ row, docId, source, op: "delete", key: before.key, from, to: before.count });
    }
    if (after && after.count > 0)
      rows.push({ row, docId, source, op: "upsert", key: after.key, from: 0, to: after.count });
  }
  return rows;
}

/** Outbox rows (`o`) joined with their document's output as it is now (PendingRow), in both stores. */
export const PENDING_ROWS = `SELECT o.seq, o.row, o.op, o.out_key, o.from_index, o.to_index, o.doc_id, o.source,
    d.out_key AS cur_key, d.out_chunk_count AS cur_count, d.out_metadata AS cur_metadata
  FROM outbox o LEFT JOIN documents d ON d.row = o.row`;

/** An outbox row joined with the document's output as it is now. */
export interface PendingRow {
  seq: number;
  row: number;
  op: string;
  out_key: string;
  from_index: number;
  to_index: number;
  doc_id: string;
  source: string;
  cur_key: string | null;
  cur_count: number | null;
  cur_metadata: string | null;
}

export interface StoredChunk {
  chunk_index: number;
  text: string;
  embedding: Uint8Array | null;
  /** What the pipeline knows of the chunk (title, headings, pages), JSON. */
  metadata: string | null;
}

/** Changes per page at most (a page always ends at an outbox row's end). */
export const MAX_PAGE_CHANGES = 2_000;

/**
 * Expands outbox rows against the current output (see `IndexStore` for why this is exact):
 * an upsert row yields the document's current chunks when its key is still the current one (once
 * per page), a delete row yields the keys the current output does not hold. A chunk's metadata
 * is `exportMetadata`'s, with the document's part decoded once per document.
 */
export function expandRows(
  rows: PendingRow[],
  afterSeq: number,
  headSeq: number,
  chunksOf: (row: number) => StoredChunk[],
): ChangePage {
  const changes: SinkChange[] = [];
  const upserted = new Set<number>();
  let through = afterSeq;
  for (const r of rows) {
    if (changes.length >= MAX_PAGE_CHANGES) break;
    through = r.seq;
    const live = r.cur_key === r.out_key ? (r.cur_count ?? 0) : 0;
    // Objects written out field by field: spreading a shared base into each was most of the
    // expansion's time on the delivery's hot path.
    const { seq, doc_id, source } = r;
    if (r.op === "delete") {
      for (let i = Math.max(r.from_index, live); i < r.to_index; i++) {
        changes.push({ seq, doc_id, source, op: "delete", key: chunkKey(r.out_key, i), chunk_index: i });
      }
    } else if (live > 0 && !upserted.has(r.row)) {
      upserted.add(r.row);
      const own = decodeObject(r.cur_metadata);
      for (const c of chunksOf(r.row)) {
        changes.push({
          seq,
          doc_id,
          source,
          op: "upsert",
          key: chunkKey(r.out_key, c.chunk_index),
          chunk_index: c.chunk_index,
          text: c.text,
          metadata: chunkMetadata(own, c.metadata),
          embedding: c.embedding ? toVector(c.embedding) : null,
        });
      }
    }
  }
  return { changes, throughSeq: through, headSeq };
}

/** `exportMetadata` with the document's part decoded already: the document's keys win. */
function chunkMetadata(own: JsonObject, chunk: string | null): JsonObject {
  const merged = chunk === null ? {} : decodeObject(chunk);
  for (const key in own) merged[key] = own[key]!;
  return merged;
}

/** The stored float32 bytes as a vector: in place when aligned (read only), else copied once. */
function toVector(bytes: Uint8Array): Float32Array {
  if (bytes.byteOffset % 4 === 0)
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return new Float32Array(Uint8Array.from(bytes).buffer);
}

export interface CursorRow {
  uri: string;
  delivered_seq: number;
  attached_at: number;
  delivered_at: number | null;
  last_error: string | null;
  last_error_at: number | null;
  lease_owner: string | null;
  lease_host: string | null;
  lease_pid: number | null;
  lease_expires_at: number | null;
}

export function toSinkCursor(row: CursorRow, headSeq: number): SinkCursor {
  return {
    uri: row.uri,
    deliveredSeq: row.delivered_seq,
    headSeq,
    lag: Math.max(0, headSeq - row.delivered_seq),
    lastError: decodeError(row.last_error),
    lastErrorAt: row.last_error_at,
    deliveredAt: row.delivered_at,
    attachedAt: row.attached_at,
    leaseOwner: row.lease_owner,
    leaseHost: row.lease_host,
    leasePid: row.lease_pid,
    leaseExpiresAt: row.lease_expires_at,
  };
}

/** A cursor a claim took: its lease, fenced by the cursor's new fence. */
export function toSinkLease(
  batchId: string,
  uri: string,
  owner: SinkOwner,
  row: { fence: number; delivered_seq: number } | undefined,
): SinkLease | null {
  return row ? { batchId, uri, owner: owner.owner, fence: row.fence, deliveredSeq: row.delivered_seq } : null;
}
