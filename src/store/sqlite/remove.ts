import type Database from "better-sqlite3";
import type { OutputChange } from "../index-store.js";
import { BATCH_OWNED_TABLES, DOCUMENT_OWNED_TABLES, EVERY_GENERATION } from "../rows.js";
import type { SqliteOutbox } from "./outbox.js";
import type { SqliteVectorIndex } from "./vector-index.js";

/** A document about to end `deleted`, with the output its sinks hold. */
interface Doomed {
  row: number;
  doc_id: string;
  source: string;
  out_key: string | null;
  out_chunk_count: number | null;
}

/**
 * Deleting documents and batches in the SQLite store. A document ends `deleted` in one
 * transaction with everything that follows from it: its chunks leave the export and the search
 * index, its staged progress and content go, its fence moves (a worker still processing it cannot
 * commit), and the outbox gets the deletes of the chunks its sinks hold. The row itself stays, so
 * `status` counts it and a document that comes back is planned like a new one.
 */
export class SqliteRemover {
  private readonly markDeleted: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly index: SqliteVectorIndex | null,
    private readonly outbox: SqliteOutbox,
  ) {
    this.markDeleted = db.prepare(
      `UPDATE documents SET state = 'deleted', fence = fence + 1, lease_run = NULL, lease_expires_at = NULL,
         not_before = 0, has_staged = 0, breaker_wait_since = NULL, out_key = NULL, out_degraded = NULL,
         out_chunk_count = NULL, out_metadata = NULL, file_sig = NULL, updated_at = ?
       WHERE row = ?`,
    );
  }

  /**
   * Deletes the documents of the batch that a plan of `generation` did not reach, or all of them
   * (null); runs inside the caller's write transaction. Returns how many were deleted.
   */
  remove(batchId: string, generation: number | null, now: number): number {
    const doomed = this.db
      .prepare(
        `SELECT row, doc_id, source, out_key, out_chunk_count FROM documents
         WHERE batch_id = ? AND state <> 'deleted' AND plan_generation < ?`,
      )
      .all(batchId, generation ?? EVERY_GENERATION) as Doomed[];
    const dropChunks = this.db.prepare("DELETE FROM chunks WHERE row = ?");
    const dropStaged = this.db.prepare("DELETE FROM staged_chunks WHERE row = ?");
    const dropContent = this.db.prepare("DELETE FROM contents WHERE row = ?");
    const output: OutputChange[] = [];
    for (const d of doomed) {
      this.index?.removeRow(d.row);
      dropChunks.run(d.row);
      dropStaged.run(d.row);
      dropContent.run(d.row);
      this.markDeleted.run(now, d.row);
      const before = d.out_key ? { key: d.out_key, count: d.out_chunk_count ?? 0 } : null;
      if (before) output.push({ row: d.row, docId: d.doc_id, source: d.source, before, after: null });
    }
    this.outbox.recordOutputChanges(batchId, output);
    return doomed.length;
  }

  /** Removes every row the batch owns; runs inside the caller's write transaction. */
  purge(batchId: string): boolean {
    const owned = "row IN (SELECT row FROM documents WHERE batch_id = ?)";
    for (const row of this.db.prepare("SELECT row FROM documents WHERE batch_id = ?").pluck().all(batchId)) {
      this.index?.removeRow(row as number);
    }
    for (const table of DOCUMENT_OWNED_TABLES) {
      this.db.prepare(`DELETE FROM ${table} WHERE ${owned}`).run(batchId);
    }
    for (const table of BATCH_OWNED_TABLES) {
      this.db.prepare(`DELETE FROM ${table} WHERE batch_id = ?`).run(batchId);
    }
    return this.db.prepare("DELETE FROM batches WHERE batch_id = ?").run(batchId).changes > 0;
  }
}
