import { createRequire } from "node:module";
import type Database from "better-sqlite3";

/**
 * The search index of the SQLite store: one sqlite-vec `vec0` table per vector dimension
 * (`vec_chunks_<dim>`), keyed by the chunk's row id and partitioned by batch, kept in the same
 * transaction as the chunks (the committer adds a document's vectors when it inserts its chunks and
 * removes them before it deletes them), so search sees exactly what export sees.
 *
 * sqlite-vec ships its extension in a platform package. Where it cannot be loaded, the store still
 * works: chunks are written without index rows, the index is marked stale, search falls back to an
 * exact scan (and says so), and the next process that can load the extension rebuilds the index
 * once from the chunks.
 */
export class SqliteVectorIndex {
  private readonly dims = new Set<number>();
  private readonly inserts = new Map<number, Database.Statement>();
  private readonly vectorsOf: Database.Statement;

  private constructor(private readonly db: Database.Database) {
    this.vectorsOf = db.prepare(
      "SELECT id, length(embedding) / 4 AS dim FROM chunks WHERE row = ? AND embedding IS NOT NULL",
    );
    const tables = db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'vec_chunks_[0-9]*' AND sql LIKE '%vec0%'",
      )
      .pluck()
      .all() as string[];
    for (const name of tables) this.dims.add(Number(name.slice("vec_chunks_".length)));
  }

  /** Loads sqlite-vec into `db`; null when the platform has no build of it. */
  static load(db: Database.Database): SqliteVectorIndex | null {
    try {
      const require = createRequire(import.meta.url);
      const sqliteVec = require("sqlite-vec") as { load(db: unknown): void };
      sqliteVec.load(db);
      return new SqliteVectorIndex(db);
    } catch {
      return null;
    }
  }

  /** Adds vectors of chunks just inserted (inside the commit's transaction). */
  add(batchId: string, entries: { id: number | bigint; embedding: Float32Array }[]): void {
    for (const { id, embedding } of entries) {
      this.insertFor(embedding.length).run(BigInt(id), batchId, embedding);
    }
  }

  /** Removes the vectors of a document's chunks before they are deleted. */
  removeRow(row: number): void {
    for (const r of this.vectorsOf.all(row) as { id: number; dim: number }[]) {
      if (this.dims.has(r.dim))
        this.db.prepare(`DELETE FROM vec_chunks_${r.dim} WHERE chunk_id = ?`).run(BigInt(r.id));
    }
  }

  /** Chunk ids and cosine distances of the `k` nearest vectors of the batch. */
  nearest(batchId: string, vector: Float32Array, k: number): { id: number; distance: number }[] {
    if (!this.dims.has(vector.length)) return [];
    return this.db
      .prepare(
        `SELECT chunk_id AS id, distance FROM vec_chunks_${vector.length}
         WHERE embedding MATCH ? AND k = ? AND batch_id = ? ORDER BY distance`,
      )
      .all(vector, k, batchId) as { id: number; distance: number }[];
  }

  /** Rebuilds every index table from the chunks when a process without sqlite-vec wrote chunks. */
  rebuildIfStale(): void {
    const stale = this.db.prepare("SELECT stale FROM search_index_state WHERE id = 1").pluck().get() as
      | number
      | undefined;
    if (stale !== 1) return;
    this.db
      .transaction(() => {
        for (const dim of this.dims) this.db.exec(`DROP TABLE IF EXISTS vec_chunks_${dim}`);
        this.dims.clear();
        this.inserts.clear();
        // In pages: better-sqlite3 runs no statement on a connection while another one iterates.
        const page = this.db.prepare(
          `SELECT c.id, d.batch_id, c.embedding FROM chunks c JOIN documents d ON d.row = c.row
         WHERE c.embedding IS NOT NULL AND c.id > ? ORDER BY c.id LIMIT 1000`,
        );
        for (let after = 0; ; ) {
          const rows = page.raw().all(after) as [number, string, Buffer][];
          if (rows.length === 0) break;
          for (const [id, batchId, bytes] of rows) {
            const copy = new Uint8Array(bytes.byteLength);
            copy.set(bytes);
            const vector = new Float32Array(copy.buffer);
            this.insertFor(vector.length).run(BigInt(id), batchId, vector);
            after = id;
          }
        }
        this.db.prepare("UPDATE search_index_state SET stale = 0 WHERE id = 1").run();
      })
      .immediate();
  }

  private insertFor(dim: number): Database.Statement {
    let statement = this.inserts.get(dim);
    if (statement) return statement;
    if (!this.dims.has(dim)) {
      this.db.exec(
        `CREATE VIRTUAL TABLE IF NOT EXISTS vec_chunks_${dim} USING vec0(
           chunk_id INTEGER PRIMARY KEY, batch_id TEXT PARTITION KEY, embedding float[${dim}] distance_metric=cosine)`,
      );
      this.dims.add(dim);
    }
    statement = this.db.prepare(
      `INSERT INTO vec_chunks_${dim} (chunk_id, batch_id, embedding) VALUES (?, ?, ?)`,
    );
    this.inserts.set(dim, statement);
    return statement;
  }
}

/** Marks the index stale: this connection writes chunks without index rows. */
export function markIndexStale(db: Database.Database): void {
  db.prepare("UPDATE search_index_state SET stale = 1 WHERE id = 1 AND stale = 0").run();
}
