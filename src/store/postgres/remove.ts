import type pg from "pg";
import type { OutputChange } from "../index-store.js";
import { BATCH_OWNED_TABLES, DOCUMENT_OWNED_TABLES, EVERY_GENERATION } from "../rows.js";
import { recordOutputChanges } from "./outbox.js";

/**
 * Deleting documents and batches in the Postgres store, with the same promise as the SQLite
 * store's (see its `remove.ts`): a document ends `deleted` in one transaction with its chunks,
 * staged progress and content gone, its fence moved, and the deletes of its sinks' chunks in the
 * outbox. One statement marks them all and returns the output they had; the rest goes by arrays.
 */
export async function removeDocuments(
  client: pg.PoolClient,
  batchId: string,
  generation: number | null,
  now: number,
): Promise<number> {
  // The old output is read in the statement that clears it: RETURNING sees the new row, so the
  // subquery keeps the values from before the update.
  const { rows } = await client.query<{
    row: number;
    doc_id: string;
    source: string;
    out_key: string | null;
    out_chunk_count: number | null;
  }>(
    `UPDATE documents d SET state = 'deleted', fence = d.fence + 1, lease_run = NULL, lease_expires_at = NULL,
       not_before = 0, has_staged = FALSE, breaker_wait_since = NULL, out_key = NULL, out_degraded = NULL,
       out_chunk_count = NULL, out_metadata = NULL, file_sig = NULL, updated_at = $3
     FROM (SELECT row, out_key, out_chunk_count FROM documents
           WHERE batch_id = $1 AND state <> 'deleted' AND plan_generation < $2 FOR UPDATE) old
     WHERE d.row = old.row
     RETURNING d.row, d.doc_id, d.source, old.out_key, old.out_chunk_count`,
    [batchId, generation ?? EVERY_GENERATION, now],
  );
  if (rows.length === 0) return 0;
  const gone = rows.map((r) => r.row);
  for (const table of DOCUMENT_OWNED_TABLES) {
    await client.query(`DELETE FROM ${table} WHERE row = ANY($1::bigint[])`, [gone]);
  }
  const output: OutputChange[] = rows
    .filter((r) => r.out_key !== null)
    .map((r) => ({
      row: r.row,
      docId: r.doc_id,
      source: r.source,
      before: { key: r.out_key!, count: r.out_chunk_count ?? 0 },
      after: null,
    }));
  await recordOutputChanges(client, batchId, output);
  return rows.length;
}

/** Removes every row the batch owns, inside the caller's transaction. */
export async function purgeBatch(client: pg.PoolClient, batchId: string): Promise<boolean> {
  const owned = "row IN (SELECT row FROM documents WHERE batch_id = $1)";
  for (const table of DOCUMENT_OWNED_TABLES) {
    await client.query(`DELETE FROM ${table} WHERE ${owned}`, [batchId]);
  }
  for (const table of BATCH_OWNED_TABLES) {
    await client.query(`DELETE FROM ${table} WHERE batch_id = $1`, [batchId]);
  }
  const { rowCount } = await client.query("DELETE FROM batches WHERE batch_id = $1", [batchId]);
  return (rowCount ?? 0) > 0;
}
