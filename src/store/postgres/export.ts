import type pg from "pg";
import { chunkKey } from "../../core/keys.js";
import { exportMetadata } from "../rows.js";
import type { ExportRow } from "../store.js";

/** Rows per FETCH: few round trips, and a page of a few MB in memory. */
const EXPORT_PAGE = 10_000;

/**
 * The batch's chunks in export order, streamed. One server-side cursor in a read-only
 * REPEATABLE READ transaction: the rows are sorted once and fetched in large pages, and the export
 * is one snapshot, never a mix of two commits. (Pages by keyset, a query each, sorted the batch's
 * rows again for every page: 19 s for 147,634 chunks, against 1.8 s from SQLite.)
 *
 * A vector travels as base64 (a third larger than its bytes), decoded natively, not as the bytea
 * default of hex text (twice its bytes). The binary result format would carry the bytes as they
 * are, but node-postgres decodes every row of a connection as text unless the whole connection
 * is opened in binary mode.
 */
export async function* exportChunks(
  pool: pg.Pool,
  batchId: string,
  withEmbeddings: boolean,
): AsyncGenerator<ExportRow> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    await client.query(
      `DECLARE export_chunks NO SCROLL CURSOR FOR
       SELECT d.doc_id, d.source, c.chunk_index, d.out_chunk_count, c.text, d.out_key, d.out_degraded,
         length(c.embedding) AS bytes, d.out_metadata, c.metadata AS chunk_metadata${withEmbeddings ? ", encode(c.embedding, 'base64') AS embedding" : ""}
       FROM documents d JOIN chunks c ON c.row = d.row
       WHERE d.batch_id = $1
       ORDER BY d.doc_id COLLATE "C", d.source COLLATE "C", c.chunk_index`,
      [batchId],
    );
    for (;;) {
      const { rows } = await client.query<ExportDbRow>(`FETCH ${EXPORT_PAGE} FROM export_chunks`);
      for (const r of rows) yield toExportRow(r, withEmbeddings);
      if (rows.length < EXPORT_PAGE) break;
    }
  } finally {
    // Also when the reader stopped early: the cursor ends with the transaction, and the
    // connection goes back to the pool outside one.
    await client.query("ROLLBACK").catch(() => {});
    client.release();
  }
}

interface ExportDbRow {
  doc_id: string;
  source: string;
  chunk_index: number;
  out_chunk_count: number;
  text: string;
  out_key: string;
  out_degraded: boolean;
  bytes: number | null;
  out_metadata: string;
  chunk_metadata: string | null;
  /** base64 */
  embedding?: string | null;
}

function toExportRow(r: ExportDbRow, withEmbeddings: boolean): ExportRow {
  const row: ExportRow = {
    doc_id: r.doc_id,
    source: r.source,
    chunk_index: r.chunk_index,
    chunk_count: r.out_chunk_count,
    text: r.text,
    idempotency_key: chunkKey(r.out_key, r.chunk_index),
    degraded: r.out_degraded === true,
    embedding_dim: r.bytes === null ? null : r.bytes / 4,
    metadata: exportMetadata(r.out_metadata, r.chunk_metadata),
  };
  if (withEmbeddings) {
    // A buffer of its own: a decoded slice of a shared pool need not be aligned for Float32Array.
    const bytes = r.embedding ? Uint8Array.from(Buffer.from(r.embedding, "base64")) : null;
    row.embedding = bytes ? Array.from(new Float32Array(bytes.buffer)) : null;
  }
  return row;
}
