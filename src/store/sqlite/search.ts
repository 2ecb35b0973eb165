import type Database from "better-sqlite3";
import type { SearchHit, SearchResult } from "../index-store.js";
import { CosineTopK, type HitRow, toHits } from "../vector-math.js";
import type { SqliteVectorIndex } from "./vector-index.js";

/**
 * Search in the SQLite store: the k nearest chunks through sqlite-vec, or, where the extension is
 * not available, an exact scan of the batch's vectors (same results, linear cost, and the answer
 * says `exact-scan`).
 */
export function searchChunks(
  db: Database.Database,
  index: SqliteVectorIndex | null,
  batchId: string,
  vector: Float32Array,
  k: number,
): SearchResult {
  if (index) {
    const near = index.nearest(batchId, vector, k);
    return {
      index: "sqlite-vec",
      hits: hitsOf(
        db,
        near.map((n) => ({ id: n.id, score: 1 - n.distance })),
      ),
    };
  }
  // One pass over the batch's vectors; nothing else runs on the connection meanwhile.
  const scan = db.prepare(
    `SELECT c.id, c.embedding FROM documents d JOIN chunks c ON c.row = d.row
     WHERE d.batch_id = ? AND c.embedding IS NOT NULL`,
  );
  const top = new CosineTopK<number>(vector, k);
  for (const [id, bytes] of scan.raw().iterate(batchId) as IterableIterator<[number, Buffer]>)
    top.offer(id, bytes);
  return { index: "exact-scan", hits: hitsOf(db, top.result()) };
}

function hitsOf(db: Database.Database, ranked: { id: number; score: number }[]): SearchHit[] {
  if (ranked.length === 0) return [];
  const rows = db
    .prepare(
      `SELECT c.id, d.doc_id, d.source, c.chunk_index, c.text, d.out_metadata, c.metadata AS chunk_metadata, d.out_key
       FROM chunks c JOIN documents d ON d.row = c.row WHERE c.id IN (SELECT value FROM json_each(?))`,
    )
    .all(JSON.stringify(ranked.map((r) => r.id))) as (HitRow & { id: number })[];
  return toHits(ranked, new Map(rows.map((r) => [r.id, r])));
}
