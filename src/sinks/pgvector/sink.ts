import pg from "pg";
import { DocbatchError } from "../../core/errors.js";
import type { Sink, SinkChunk, SinkKey, SinkRecord } from "../sink.js";

export interface PgvectorSinkOptions {
  /** postgres://user[:password]@host:port/database */
  connectionString: string;
  /** The table, optionally `schema.table`. Created when absent. */
  table: string;
  /** Rows of this batch are the sink's: several batches may share one table. */
  batchId: string;
  /** The URI the batch remembers (without password). */
  uri: string;
  /** Connect and query time limit, in ms. @default 10_000 */
  timeoutMs?: number;
}

/**
 * A Postgres table with a `vector(dim)` column and an HNSW cosine index, upserted by
 * `(batch_id, key)`: the table an application queries with `ORDER BY embedding <=> $1`.
 *
 * One connection, opened on first use and dropped on any error (the next call opens a new one).
 * Every call is one transaction, so a delivery is in the table whole or not at all. The table is
 * created on the first upsert, with the dimension of its first vector; a table created before any
 * vector arrived gets its dimension and index when the first one does.
 */
export class PgvectorSink implements Sink {
  readonly uri: string;
  private client: pg.Client | null = null;
  private ready: { dims: number | null } | null = null;
  private readonly table: string;
  private readonly indexName: string;

  constructor(private readonly options: PgvectorSinkOptions) {
    this.uri = options.uri;
    this.table = options.table
      .split(".")
      .map((part) => `"${part}"`)
      .join(".");
    this.indexName = `"${options.table.replace(/\./g, "_")}_embedding_hnsw"`;
  }

  async upsert(chunks: SinkChunk[]): Promise<void> {
    if (chunks.length === 0) return;
    const dims = chunks.find((c) => c.embedding)?.embedding?.length ?? null;
    await this.use(async (client) => {
      await this.ensureTable(client, dims);
      await client.query("BEGIN");
      await client.query(
        `INSERT INTO ${this.table} (batch_id, key, doc_id, source, chunk_index, text, metadata, embedding)
         SELECT $1, k, d, s, i, t, m::jsonb, e::vector
         FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[]) AS v(k, d, s, i, t, m, e)
         ON CONFLICT (batch_id, key) DO UPDATE SET doc_id = EXCLUDED.doc_id, source = EXCLUDED.source,
           chunk_index = EXCLUDED.chunk_index, text = EXCLUDED.text, metadata = EXCLUDED.metadata,
           embedding = EXCLUDED.embedding`,
        [
          this.options.batchId,
          chunks.map((c) => c.key),
          chunks.map((c) => c.doc_id),
          chunks.map((c) => c.source),
          chunks.map((c) => c.chunk_index),
          chunks.map((c) => c.text),
          chunks.map((c) => JSON.stringify(c.metadata)),
          chunks.map((c) => (c.embedding ? vectorText(c.embedding) : null)),
        ],
      );
      await client.query("COMMIT");
    });
  }

  async delete(keys: SinkKey[]): Promise<void> {
    if (keys.length === 0) return;
    await this.use(async (client) => {
      if (!(await this.tableExists(client))) return;
      await client.query(`DELETE FROM ${this.table} WHERE batch_id = $1 AND key = ANY($2::text[])`, [
        this.options.batchId,
        keys.map((k) => k.key),
      ]);
    });
  }

  async *keys(): AsyncIterable<SinkRecord> {
    const rows = await this.use(async (client) => {
      if (!(await this.tableExists(client))) return [];
      const { rows } = await client.query<{
        key: string;
        text: string;
        embedding: string | null;
        doc_id: string;
        source: string;
        chunk_index: number;
      }>(
        `SELECT key, text, embedding::text AS embedding, doc_id, source, chunk_index FROM ${this.table}
         WHERE batch_id = $1`,
        [this.options.batchId],
      );
      return rows;
    });
    for (const row of rows) {
      yield {
        key: row.key,
        text: row.text,
        embedding: row.embedding === null ? null : (JSON.parse(row.embedding) as number[]),
        doc_id: row.doc_id,
        source: row.source,
        chunk_index: row.chunk_index,
      };
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }

  private async use<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    let client: pg.Client;
    try {
      client = await this.connect();
    } catch (err) {
      throw unavailable(this.uri, err);
    }
    try {
      return await fn(client);
    } catch (err) {
      // A failed statement leaves the transaction aborted, a lost connection leaves nothing usable:
      // start from a fresh connection next time.
      this.client = null;
      this.ready = null;
      await client.end().catch(() => {});
      if (err instanceof DocbatchError) throw err;
      throw unavailable(this.uri, err);
    }
  }

  private async connect(): Promise<pg.Client> {
    if (this.client) return this.client;
    const timeout = this.options.timeoutMs ?? 10_000;
    const password = process.env.DOCBATCH_SINK_PASSWORD;
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      connectionTimeoutMillis: timeout,
      query_timeout: timeout * 3,
      application_name: "docbatch-sink",
      ...(password && !new URL(this.options.connectionString).password ? { password } : {}),
    });
    client.on("error", () => {
      if (this.client === client) this.client = null;
    });
    await client.connect();
    this.client = client;
    return client;
  }

  private async tableExists(client: pg.Client): Promise<boolean> {
    if (this.ready) return true;
    const { rows } = await client.query<{ oid: string | null }>("SELECT to_regclass($1)::text AS oid", [
      this.table,
    ]);
    return rows[0]?.oid !== null && rows[0]?.oid !== undefined;
  }

  /** Creates the extension, the table and its index when absent; gives the column its dimension. */
  private async ensureTable(client: pg.Client, dims: number | null): Promise<void> {
    if (this.ready && (this.ready.dims !== null || dims === null)) return;
    if (!(await this.tableExists(client))) {
      await client.query("CREATE EXTENSION IF NOT EXISTS vector").catch((err: Error) => {
        throw new DocbatchError(
          "SINK_UNAVAILABLE",
          `pgvector is not available in ${this.uri}: ${err.message}`,
          {
            hints: [
              "Install the pgvector extension in that database (CREATE EXTENSION vector) or ask its administrator.",
            ],
          },
        );
      });
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.table} (
           batch_id TEXT NOT NULL, key TEXT NOT NULL, doc_id TEXT NOT NULL, source TEXT NOT NULL,
           chunk_index INTEGER NOT NULL, text TEXT NOT NULL, metadata JSONB NOT NULL,
           embedding vector${dims === null ? "" : `(${dims})`}, PRIMARY KEY (batch_id, key))`,
      );
    }
    const { rows } = await client.query<{ typmod: number }>(
      "SELECT atttypmod AS typmod FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'embedding'",
      [this.table],
    );
    let current = rows[0]?.typmod ?? -1;
    if (current < 0 && dims !== null) {
      await client.query(`ALTER TABLE ${this.table} ALTER COLUMN embedding TYPE vector(${dims})`);
      current = dims;
    }
    if (current > 0) {
      await client.query(
        `CREATE INDEX IF NOT EXISTS ${this.indexName} ON ${this.table} USING hnsw (embedding vector_cosine_ops)`,
      );
    }
    if (dims !== null && current > 0 && current !== dims) {
      throw new DocbatchError(
        "SINK_REJECTED",
        `${this.uri} holds vectors of ${current} dimensions; this batch's have ${dims}.`,
        { hints: ["Give this batch a table of its own (?table=NAME)."] },
      );
    }
    this.ready = { dims: current > 0 ? current : null };
  }
}

function unavailable(uri: string, err: unknown): DocbatchError {
  return new DocbatchError("SINK_UNAVAILABLE", `${uri}: ${(err as Error).message}`, { cause: err });
}

/**
 * A vector in pgvector's text form. Nine significant digits identify every float32 exactly (the
 * store keeps float32, pgvector too), at half the length of a double's shortest form.
 */
function vectorText(vector: number[]): string {
  return `[${vector.map((v) => Number(v.toPrecision(9))).join(",")}]`;
}
