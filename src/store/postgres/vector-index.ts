import type pg from "pg";
import { decodeVector } from "../codec.js";
import { advisoryKey, quoteIdent, transaction } from "./db.js";
import { vectorArray, vectorHash } from "./vector-wire.js";

/** pgvector's HNSW index takes vectors of up to 2,000 dimensions; larger ones are searched exactly. */
const HNSW_MAX_DIMS = 2_000;
/** Chunks read per round trip while the index is filled from the chunks. */
const FILL_PAGE = 1_000;

/**
 * The search index of the Postgres store, where the pgvector extension is installed or can be:
 * a side table `chunk_vectors` (one row per chunk with a vector: its batch, its dimension count and
 * the vector as pgvector's `vector`) with one partial HNSW cosine index per dimension count in use,
 * `USING hnsw ((embedding::vector(D)) vector_cosine_ops) WHERE dims = D`. Batches embed with
 * different models, so a single `vector(D)` column would not hold them; a partial index per
 * dimension count does, and it is made the first time a commit brings that count.
 *
 * It is kept in the commit's transaction: the committer adds a document's vectors just before
 * it inserts the chunks, and triggers on `chunks` do the rest, so no path that writes chunks can
 * leave the index behind:
 * - a statement deleting chunks (a replaced, failed, deleted or purged document) deletes their
 *   vectors, whoever runs it;
 * - a statement inserting chunks with vectors the index lacks (a process that opened the store
 *   before pgvector was installed) marks the index stale; search then scans the chunks exactly
 *   (and says so) until the next store that opens with pgvector refills the index.
 * On a database without pgvector none of this exists: no table, no trigger, no cost per commit.
 */
export class PgVectorIndex {
  private constructor(
    /** The extension's schema, quoted: the store's connections search their own schema only. */
    readonly ext: string,
    /** The oid of `vector`, which a binary `vector[]` parameter names. */
    private readonly vectorOid: number,
    /** pgvector 0.8 and later can continue an HNSW scan until the batch filter has kept k rows. */
    readonly iterativeScan: boolean,
    /** Dimension counts with an HNSW index. */
    readonly indexed: Set<number>,
    private readonly schema: string,
  ) {}

  /**
   * Installs pgvector when it is available and not yet installed, makes the index table when it is
   * missing, and fills it when it is stale; null when the database has no pgvector (or refuses to
   * install it). Runs under a lock of the store's schema, so workers starting together fill it once.
   */
  static async open(pool: pg.Pool, schema: string): Promise<PgVectorIndex | null> {
    return transaction(pool, async (client) => {
      await client.query("SELECT pg_advisory_xact_lock($1, $2)", advisoryKey(schema, "vector-index", ""));
      const ext = await installedExtension(client);
      if (!ext) return null;
      const oid = await client.query<{ oid: number }>("SELECT $1::regtype::oid AS oid", [
        `${ext.schema}.vector`,
      ]);
      const [major = 0, minor = 0] = ext.version.split(".").map(Number);
      const index = new PgVectorIndex(
        ext.schema,
        oid.rows[0]!.oid,
        major > 0 || minor >= 8,
        new Set(),
        schema,
      );
      const { rows } = await client.query<{ exists: boolean }>(
        "SELECT to_regclass('chunk_vectors') IS NOT NULL AS exists",
      );
      if (!rows[0]!.exists) await index.createTable(client);
      await index.readIndexed(client);
      const state = await client.query<{ stale: boolean }>(
        "SELECT stale FROM search_index_state WHERE id = 1",
      );
      if (state.rows[0]?.stale !== false) await index.fill(client);
      return index;
    });
  }

  /** Adds the vectors of chunks about to be inserted, in the commit's transaction. */
  async add(
    client: pg.PoolClient,
    batchId: string,
    chunks: { row: number; index: number; embedding: Float32Array }[],
  ): Promise<void> {
    if (chunks.length === 0) return;
    await client.query(
      `INSERT INTO chunk_vectors (row, chunk_index, batch_id, dims, vector_hash, embedding)
       SELECT v.row, v.chunk_index, $1, v.dims, v.vector_hash, v.embedding
       FROM unnest($2::bigint[], $3::int[], $4::int[], $5::bigint[], $6::${this.ext}.vector[])
         AS v(row, chunk_index, dims, vector_hash, embedding)`,
      [
        batchId,
        chunks.map((c) => c.row),
        chunks.map((c) => c.index),
        chunks.map((c) => c.embedding.length),
        chunks.map((c) => vectorHash(c.embedding)),
        vectorArray(
          this.vectorOid,
          chunks.map((c) => c.embedding),
        ),
      ],
    );
  }

  /**
   * Makes the HNSW index of each dimension count a commit brings for the first time, before its
   * transaction: building an index locks the table against writers, which must not happen while
   * the commit holds locks of its own.
   */
  async ensureIndexed(pool: pg.Pool, dims: Iterable<number>): Promise<void> {
    for (const d of dims) {
      if (this.indexed.has(d) || !hnswIndexable(d)) continue;
      await transaction(pool, async (client) => {
        await client.query(
          "SELECT pg_advisory_xact_lock($1, $2)",
          advisoryKey(this.schema, "vector-index", ""),
        );
        await this.createHnsw(client, d);
      });
      this.indexed.add(d);
    }
  }

  /** Whether an HNSW index serves `dims`, asking the database when this process has not made it. */
  async hasIndexFor(client: pg.PoolClient, dims: number): Promise<boolean> {
    if (this.indexed.has(dims)) return true;
    if (!hnswIndexable(dims)) return false;
    const { rows } = await client.query(
      "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1",
      [hnswName(dims)],
    );
    if (rows.length > 0) this.indexed.add(dims);
    return rows.length > 0;
  }

  private async createTable(client: pg.PoolClient): Promise<void> {
    await client.query(`
      CREATE TABLE chunk_vectors (
        row BIGINT NOT NULL,
        chunk_index INTEGER NOT NULL,
        batch_id TEXT NOT NULL,
        dims INTEGER NOT NULL,
        -- Finds a vector equal to the query whatever the HNSW scan missed (see search.ts).
        vector_hash BIGINT NOT NULL,
        -- NULL for a vector pgvector cannot hold (not finite, too long): it has its row, so it does
        -- not mark the index stale, and only an exact scan of the chunks would rank it.
        embedding ${this.ext}.vector,
        PRIMARY KEY (row, chunk_index)
      );
      CREATE INDEX chunk_vectors_batch ON chunk_vectors (batch_id, vector_hash);
      CREATE FUNCTION chunk_vectors_drop() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      BEGIN
        DELETE FROM chunk_vectors v USING gone g WHERE v.row = g.row AND v.chunk_index = g.chunk_index;
        RETURN NULL;
      END $$;
      CREATE TRIGGER chunks_drop_vectors AFTER DELETE ON chunks
        REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION chunk_vectors_drop();
      CREATE FUNCTION chunk_vectors_check() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM added a WHERE a.embedding IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM chunk_vectors v WHERE v.row = a.row AND v.chunk_index = a.chunk_index)) THEN
          UPDATE search_index_state SET stale = TRUE WHERE id = 1 AND NOT stale;
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER chunks_check_vectors AFTER INSERT ON chunks
        REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION chunk_vectors_check();
    `);
  }

  /**
   * Fills the index from the chunks: once on a database that gained pgvector after chunks were
   * written, or after a process without it wrote some. Writers of chunks wait meanwhile (a SHARE
   * lock), so the index and the chunks agree when it commits; the HNSW indexes are built after the
   * rows are in, which is faster than growing them row by row.
   */
  private async fill(client: pg.PoolClient): Promise<void> {
    await client.query("LOCK TABLE chunks IN SHARE MODE");
    for (const d of this.indexed) await client.query(`DROP INDEX ${hnswName(d)}`);
    this.indexed.clear();
    await client.query("TRUNCATE chunk_vectors");
    let after: [number, number] = [0, -1];
    const dims = new Set<number>();
    for (;;) {
      const { rows } = await client.query<{
        row: number;
        chunk_index: number;
        batch_id: string;
        embedding: Buffer;
      }>(
        `SELECT c.row, c.chunk_index, d.batch_id, c.embedding FROM chunks c JOIN documents d ON d.row = c.row
         WHERE c.embedding IS NOT NULL AND (c.row, c.chunk_index) > ($1, $2)
         ORDER BY c.row, c.chunk_index LIMIT ${FILL_PAGE}`,
        after,
      );
      const byBatch = new Map<string, { row: number; index: number; embedding: Float32Array }[]>();
      for (const r of rows) {
        const embedding = decodeVector(r.embedding)!;
        dims.add(embedding.length);
        const list = byBatch.get(r.batch_id) ?? [];
        list.push({ row: r.row, index: r.chunk_index, embedding });
        byBatch.set(r.batch_id, list);
      }
      for (const [batchId, chunks] of byBatch) await this.add(client, batchId, chunks);
      if (rows.length < FILL_PAGE) break;
      const last = rows[rows.length - 1]!;
      after = [last.row, last.chunk_index];
    }
    for (const d of dims) {
      if (!hnswIndexable(d)) continue;
      await this.createHnsw(client, d);
      this.indexed.add(d);
    }
    await client.query("UPDATE search_index_state SET stale = FALSE WHERE id = 1");
  }

  private async createHnsw(client: pg.PoolClient, dims: number): Promise<void> {
    await client.query(
      `CREATE INDEX IF NOT EXISTS ${hnswName(dims)} ON chunk_vectors
       USING hnsw ((embedding::${this.ext}.vector(${dims})) ${this.ext}.vector_cosine_ops) WHERE dims = ${dims}`,
    );
  }

  private async readIndexed(client: pg.PoolClient): Promise<void> {
    const { rows } = await client.query<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname LIKE 'chunk\\_vectors\\_hnsw\\_%'",
    );
    for (const r of rows) this.indexed.add(Number(r.indexname.slice("chunk_vectors_hnsw_".length)));
  }
}

function hnswIndexable(dims: number): boolean {
  return dims >= 1 && dims <= HNSW_MAX_DIMS;
}

function hnswName(dims: number): string {
  return `chunk_vectors_hnsw_${dims}`;
}

/**
 * The schema of the installed pgvector, installing it (in `public`, where a `pgvector:` sink
 * expects it too) when the server has it available; null when it cannot be had. The attempt runs
 * under a savepoint: a refusal (no privilege) must not end the caller's transaction.
 */
async function installedExtension(
  client: pg.PoolClient,
): Promise<{ schema: string; version: string } | null> {
  const installed = async () => {
    const { rows } = await client.query<{ schema: string; version: string }>(
      `SELECT n.nspname AS schema, e.extversion AS version FROM pg_extension e
       JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'`,
    );
    return rows[0] ? { schema: quoteIdent(rows[0].schema), version: rows[0].version } : null;
  };
  const found = await installed();
  if (found) return found;
  const { rows } = await client.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'");
  if (rows.length === 0) return null;
  await client.query("SAVEPOINT install_vector");
  try {
    await client.query("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public");
    await client.query("RELEASE SAVEPOINT install_vector");
  } catch {
    await client.query("ROLLBACK TO SAVEPOINT install_vector");
    return null;
  }
  return installed();
}
