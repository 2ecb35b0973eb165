import type pg from "pg";
import { decodeObject, decodeVector, encodeVector } from "../codec.js";
import type { CachedVector, GarbageRequest, GarbageResult, OutputChunks } from "../embed-cache.js";
import { transaction } from "./db.js";

/**
 * The embedding cache of the Postgres store. A cache write is a transaction of its own with
 * `synchronous_commit = off`: the server acknowledges it before flushing its WAL, so many writers
 * cost the database no extra syncs. A crash of the server may lose the last of them, which costs
 * their texts one embedding request again. Arrays in, one statement: a lookup or a write costs one
 * round trip whatever the number of texts.
 */
export async function lookupVectors(
  pool: pg.Pool,
  layer: string,
  hashes: string[],
): Promise<Map<string, Float32Array>> {
  const found = new Map<string, Float32Array>();
  if (hashes.length === 0) return found;
  const { rows } = await pool.query<{ text_hash: string; embedding: Buffer }>(
    "SELECT text_hash, embedding FROM embed_cache WHERE layer = $1 AND text_hash = ANY($2::text[])",
    [layer, hashes],
  );
  for (const r of rows) found.set(r.text_hash, decodeVector(r.embedding)!);
  return found;
}

export async function storeVectors(
  pool: pg.Pool,
  layer: string,
  entries: CachedVector[],
  now: number,
): Promise<number> {
  if (entries.length === 0) return 0;
  return transaction(pool, async (client) => {
    await client.query("SET LOCAL synchronous_commit = off");
    const { rowCount } = await client.query(
      `INSERT INTO embed_cache (layer, text_hash, embedding, created_at)
       SELECT $1, h, e, $2 FROM unnest($3::text[], $4::bytea[]) AS v(h, e)
       ON CONFLICT (layer, text_hash) DO NOTHING`,
      [layer, now, entries.map((e) => e.hash), entries.map((e) => encodeVector(e.embedding))],
    );
    return rowCount ?? 0;
  });
}

export async function loadOutputChunks(pool: pg.Pool, row: number): Promise<OutputChunks | null> {
  const { rows } = await pool.query<{
    chunk_index: number;
    text: string;
    metadata: string | null;
    n: number;
  }>(
    `SELECT c.chunk_index, c.text, c.metadata, d.out_chunk_count AS n
     FROM chunks c JOIN documents d ON d.row = c.row WHERE c.row = $1 ORDER BY c.chunk_index`,
    [row],
  );
  if (rows.length === 0 || rows.length !== rows[0]!.n || rows.some((r, i) => r.chunk_index !== i))
    return null;
  return { texts: rows.map((r) => r.text), metadata: rows.map((r) => decodeObject(r.metadata)) };
}

/**
 * The hashes of the texts in use are computed by Postgres (`sha256` of the UTF-8 text), batch by
 * batch into a temporary table dropped with the transaction; the entries not in it go.
 */
export async function collectGarbage(pool: pg.Pool, request: GarbageRequest): Promise<GarbageResult> {
  return transaction(pool, async (client) => {
    await client.query(
      "CREATE TEMP TABLE used_cache (layer TEXT, text_hash TEXT, PRIMARY KEY (layer, text_hash)) ON COMMIT DROP",
    );
    for (const b of request.batches) {
      await client.query(
        `INSERT INTO used_cache (layer, text_hash)
         SELECT DISTINCT $1, encode(sha256(convert_to(c.text, 'UTF8')), 'hex')
         FROM chunks c JOIN documents d ON d.row = c.row
         WHERE d.batch_id = $2 AND c.embedding IS NOT NULL
         ON CONFLICT DO NOTHING`,
        [b.embedLayer, b.batchId],
      );
    }
    const removed = await client.query(
      `DELETE FROM embed_cache e WHERE NOT EXISTS (
         SELECT 1 FROM used_cache u WHERE u.layer = e.layer AND u.text_hash = e.text_hash)`,
    );
    const kept = await client.query<{ n: number }>("SELECT COUNT(*)::bigint AS n FROM embed_cache");
    const cutoff = request.olderThan;
    const events = cutoff === null ? null : await client.query("DELETE FROM events WHERE at < $1", [cutoff]);
    const failures =
      cutoff === null ? null : await client.query("DELETE FROM failures WHERE at < $1", [cutoff]);
    return {
      cacheRemoved: removed.rowCount ?? 0,
      cacheKept: Number(kept.rows[0]?.n ?? 0),
      eventsRemoved: events?.rowCount ?? 0,
      failuresRemoved: failures?.rowCount ?? 0,
    };
  });
}
