import type pg from "pg";
import type { SearchHit, SearchResult } from "../index-store.js";
import { CosineTopK, type HitRow, toHits } from "../vector-math.js";
import { transaction } from "./db.js";
import type { PgVectorIndex } from "./vector-index.js";
import { vectorHash, vectorIndexable, vectorParam } from "./vector-wire.js";

/** Vectors read per round trip of the exact scan. */
const SCAN_PAGE = 5_000;
/** pgvector's bounds of `hnsw.ef_search`, the candidates an HNSW scan keeps. */
const EF_SEARCH_MIN = 40;
const EF_SEARCH_MAX = 1_000;

type Ranked = { id: [number, number]; score: number }[];

/**
 * Search in the Postgres store. With pgvector (see vector-index.ts) the neighbours come from the
 * HNSW index of the query's dimension count, and the answer says `pgvector`. Without it, or while
 * that index is stale, the batch's vectors (bytes, as SQLite keeps them) are scanned exactly in
 * pages by key: results are exact, the cost grows with the batch, and the answer says `exact-scan`.
 */
export async function searchChunks(
  pool: pg.Pool,
  index: PgVectorIndex | null,
  batchId: string,
  vector: Float32Array,
  k: number,
): Promise<SearchResult> {
  const near = index ? await nearestIndexed(pool, index, batchId, vector, k) : null;
  const found = near ?? { index: "exact-scan" as const, ranked: await scanExactly(pool, batchId, vector, k) };
  return { index: found.index, hits: await hitsOf(pool, found.ranked) };
}

/**
 * The k nearest through pgvector; null when its index is stale.
 *
 * The batch is a filter on an index of every batch of that dimension count, so an HNSW scan may
 * keep fewer than k rows: from pgvector 0.8 the scan goes on until it has k (`hnsw.iterative_scan`,
 * within pgvector's bound of tuples scanned), and when it still has fewer, the batch's vectors are
 * ranked exactly by pgvector's own distance. The answer says `pgvector` when the index found all
 * it could have (k rows, or every vector of the batch), otherwise `exact-scan`.
 *
 * HNSW is approximate: it can miss even a vector equal to the query (many equal distances make
 * its graph hard to walk). The contract promises that a query equal to a chunk's text finds that
 * chunk first, so vectors equal to the query are looked up by their hash as well and ranked with
 * the scan's.
 */
async function nearestIndexed(
  pool: pg.Pool,
  index: PgVectorIndex,
  batchId: string,
  vector: Float32Array,
  k: number,
): Promise<{ index: SearchResult["index"]; ranked: Ranked } | null> {
  return transaction(pool, async (client) => {
    const state = await client.query<{ stale: boolean }>("SELECT stale FROM search_index_state WHERE id = 1");
    if (state.rows[0]?.stale !== false) return null;
    if (!vectorIndexable(vector)) return { index: "pgvector", ranked: [] };
    const { ext } = index;
    const dims = vector.length;
    const distance = `embedding::${ext}.vector(${dims}) OPERATOR(${ext}.<=>) $2::${ext}.vector(${dims})`;
    const ofBatch = `FROM chunk_vectors WHERE batch_id = $1 AND dims = ${dims} AND embedding IS NOT NULL`;
    const params = [batchId, vectorParam(vector), k];
    const indexed = await index.hasIndexFor(client, dims);
    let served = 0;
    if (indexed) {
      await client.query("SELECT set_config('hnsw.ef_search', $1, true)", [
        String(Math.min(EF_SEARCH_MAX, Math.max(EF_SEARCH_MIN, k))),
      ]);
      if (index.iterativeScan)
        await client.query("SELECT set_config('hnsw.iterative_scan', 'strict_order', true)");
      const { rows } = await client.query<Neighbour & { scanned: boolean }>(
        `SELECT * FROM (SELECT row, chunk_index, ${distance} AS distance, TRUE AS scanned ${ofBatch}
                        ORDER BY ${distance} LIMIT $3) nearest
         UNION ALL
         SELECT row, chunk_index, ${distance}, FALSE ${ofBatch} AND vector_hash = $4`,
        [...params, vectorHash(vector)],
      );
      served = rows.filter((r) => r.scanned).length;
      if (served === k) return { index: "pgvector", ranked: rankedOf(rows).slice(0, k) };
    }
    // `+ 0`: an expression no index orders by, so every vector of the batch is ranked.
    const { rows } = await client.query<Neighbour>(
      `SELECT row, chunk_index, ${distance} AS distance ${ofBatch} ORDER BY (${distance}) + 0 LIMIT $3`,
      params,
    );
    return { index: indexed && rows.length === served ? "pgvector" : "exact-scan", ranked: rankedOf(rows) };
  });
}

interface Neighbour {
  row: number;
  chunk_index: number;
  distance: number;
}

/** Best first, each chunk once. */
function rankedOf(rows: Neighbour[]): Ranked {
  const seen = new Set<string>();
  return [...rows]
    .sort((a, b) => a.distance - b.distance)
    .filter((r) => {
      const key = `${r.row}:${r.chunk_index}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .map((r) => ({ id: [r.row, r.chunk_index], score: 1 - r.distance }));
}

async function scanExactly(pool: pg.Pool, batchId: string, vector: Float32Array, k: number): Promise<Ranked> {
  const top = new CosineTopK<[number, number]>(vector, k);
  let after: [number, number] = [0, -1];
  for (;;) {
    const { rows } = await pool.query<{ row: number; chunk_index: number; embedding: Buffer }>(
      `SELECT c.row, c.chunk_index, c.embedding FROM chunks c JOIN documents d ON d.row = c.row
       WHERE d.batch_id = $1 AND c.embedding IS NOT NULL AND (c.row, c.chunk_index) > ($2, $3)
       ORDER BY c.row, c.chunk_index LIMIT ${SCAN_PAGE}`,
      [batchId, after[0], after[1]],
    );
    for (const r of rows) top.offer([r.row, r.chunk_index], r.embedding);
    if (rows.length < SCAN_PAGE) break;
    const last = rows[rows.length - 1]!;
    after = [last.row, last.chunk_index];
  }
  return top.result();
}

async function hitsOf(pool: pg.Pool, ranked: Ranked): Promise<SearchHit[]> {
  if (ranked.length === 0) return [];
  const { rows } = await pool.query<HitRow & { row: number }>(
    `SELECT c.row, d.doc_id, d.source, c.chunk_index, c.text, d.out_metadata, c.metadata AS chunk_metadata, d.out_key
     FROM unnest($1::bigint[], $2::int[]) AS v(row, chunk_index)
     JOIN chunks c ON c.row = v.row AND c.chunk_index = v.chunk_index JOIN documents d ON d.row = c.row`,
    [ranked.map((r) => r.id[0]), ranked.map((r) => r.id[1])],
  );
  const byKey = new Map(rows.map((r) => [`${r.row}:${r.chunk_index}`, r]));
  return toHits(
    ranked.map(({ id, score }) => ({ id: `${id[0]}:${id[1]}`, score })),
    byKey,
  );
}
