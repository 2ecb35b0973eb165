import type pg from "pg";
import type { SearchHit, SearchResult } from "../index-store.js";
import { CosineTopK, toHits } from "../vector-math.js";

/** Vectors read per round trip of the exact scan. */
const SCAN_PAGE = 5_000;

/**
 * Search in the Postgres store. Its chunks keep vectors as bytes (the same bytes as SQLite), so the
 * neighbours are found by an exact scan of the batch's vectors, in pages by key: results are exact,
 * the cost grows with the batch, and the answer says `exact-scan`. Point a `pgvector:` sink at the
 * database for an HNSW index that your application queries.
 */
export async function searchChunks(
  pool: pg.Pool,
  batchId: string,
  vector: Float32Array,
  k: number,
): Promise<SearchResult> {
  const top = new CosineTopK<string>(vector, k);
  let after: [number, number] = [0, -1];
  for (;;) {
    const { rows } = await pool.query<{ row: number; chunk_index: number; embedding: Buffer }>(
      `SELECT c.row, c.chunk_index, c.embedding FROM chunks c JOIN documents d ON d.row = c.row
       WHERE d.batch_id = $1 AND c.embedding IS NOT NULL AND (c.row, c.chunk_index) > ($2, $3)
       ORDER BY c.row, c.chunk_index LIMIT ${SCAN_PAGE}`,
      [batchId, after[0], after[1]],
    );
    for (const r of rows) top.offer(`${r.row}:${r.chunk_index}`, r.embedding);
    if (rows.length < SCAN_PAGE) break;
    const last = rows[rows.length - 1]!;
    after = [last.row, last.chunk_index];
  }
  return { index: "exact-scan", hits: await hitsOf(pool, top.result()) };
}

async function hitsOf(pool: pg.Pool, ranked: { id: string; score: number }[]): Promise<SearchHit[]> {
  if (ranked.length === 0) return [];
  const pairs = ranked.map((r) => r.id.split(":").map(Number) as [number, number]);
  const { rows } = await pool.query<{
    row: number;
    doc_id: string;
    source: string;
    chunk_index: number;
    text: string;
    out_metadata: string | null;
    chunk_metadata: string | null;
    out_key: string;
  }>(
    `SELECT c.row, d.doc_id, d.source, c.chunk_index, c.text, d.out_metadata, c.metadata AS chunk_metadata, d.out_key
     FROM unnest($1::bigint[], $2::int[]) AS v(row, chunk_index)
     JOIN chunks c ON c.row = v.row AND c.chunk_index = v.chunk_index JOIN documents d ON d.row = c.row`,
    [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
  );
  return toHits(ranked, new Map(rows.map((r) => [`${r.row}:${r.chunk_index}`, r])));
}
