import { chunkKey } from "../core/keys.js";
import { exportMetadata } from "./rows.js";
import type { ExportRow } from "./store.js";

/**
 * A committed chunk as both stores' export queries select it (`d` the documents, `c` the chunks),
 * in export order: by doc_id, then source, then chunk index. Each store adds the vector its own way.
 */
export const EXPORT_COLUMNS = `d.doc_id, d.source, c.chunk_index, d.out_chunk_count, c.text, d.out_key, d.out_degraded,
  length(c.embedding) AS bytes, d.out_metadata, c.metadata AS chunk_metadata`;

/** A row of EXPORT_COLUMNS, with the vector as the store's driver hands it (`V`) when asked for. */
export interface ExportDbRow<V> {
  doc_id: string;
  source: string;
  chunk_index: number;
  out_chunk_count: number;
  text: string;
  out_key: string;
  out_degraded: boolean | number;
  bytes: number | null;
  out_metadata: string;
  chunk_metadata: string | null;
  embedding?: V | null;
}

/**
 * The exported chunk; with `bytesOf` (exports with embeddings), its vector too. `bytesOf` returns
 * a buffer of its own: a slice of a shared one need not be aligned for Float32Array.
 */
export function toExportRow<V>(r: ExportDbRow<V>, bytesOf?: (embedding: V) => Uint8Array): ExportRow {
  const row: ExportRow = {
    doc_id: r.doc_id,
    source: r.source,
    chunk_index: r.chunk_index,
    chunk_count: r.out_chunk_count,
    text: r.text,
    idempotency_key: chunkKey(r.out_key, r.chunk_index),
    degraded: r.out_degraded === true || r.out_degraded === 1,
    embedding_dim: r.bytes === null ? null : r.bytes / 4,
    metadata: exportMetadata(r.out_metadata, r.chunk_metadata),
  };
  if (bytesOf) {
    row.embedding = r.embedding ? Array.from(new Float32Array(bytesOf(r.embedding).buffer)) : null;
  }
  return row;
}
