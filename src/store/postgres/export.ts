import type pg from "pg";
import { EXPORT_COLUMNS, type ExportDbRow, toExportRow } from "../export-rows.js";
import type { ExportRow } from "../store.js";
import { beginSnapshot, endSnapshot } from "./db.js";

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
  const client = await beginSnapshot(pool);
  try {
    await client.query(
      `DECLARE export_chunks NO SCROLL CURSOR FOR
       SELECT ${EXPORT_COLUMNS}${withEmbeddings ? ", encode(c.embedding, 'base64') AS embedding" : ""}
       FROM documents d JOIN chunks c ON c.row = d.row
       WHERE d.batch_id = $1
       ORDER BY d.doc_id COLLATE "C", d.source COLLATE "C", c.chunk_index`,
      [batchId],
    );
    for (;;) {
      // The vector comes as base64 (see above).
      const { rows } = await client.query<ExportDbRow<string>>(`FETCH ${EXPORT_PAGE} FROM export_chunks`);
      for (const r of rows) yield toExportRow(r, withEmbeddings ? fromBase64 : undefined);
      if (rows.length < EXPORT_PAGE) break;
    }
  } finally {
    // Also when the reader stopped early: the cursor ends with the transaction.
    await endSnapshot(client);
  }
}

function fromBase64(embedding: string): Uint8Array {
  return Uint8Array.from(Buffer.from(embedding, "base64"));
}
