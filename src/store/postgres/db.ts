import pg from "pg";

/** BIGINT columns hold times in ms and counters, all far below 2^53: read them as numbers. */
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === 20) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as "text");
  },
};

export interface PostgresConnection {
  /** postgres://user@host:port/db; `?schema=name` picks the schema. */
  url: string;
  /** Connections kept by this process. @default 8 */
  poolSize?: number;
}

export function parseStoreUrl(url: string): { connectionString: string; schema: string } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get("schema") ?? "docbatch";
  parsed.searchParams.delete("schema");
  return { connectionString: parsed.toString(), schema };
}

export function createPool(url: string, poolSize: number): { pool: pg.Pool; schema: string } {
  const { connectionString, schema } = parseStoreUrl(url);
  const pool = new pg.Pool({
    connectionString,
    max: poolSize,
    types,
    // Every connection works in the store's schema, so queries need not name it.
    options: `-c search_path="${schema.replace(/"/g, '""')}"`,
    application_name: "docbatch",
  });
  return { pool, schema };
}

/** Runs `fn` in one transaction on one connection, rolling back on any error. */
export async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** The database's clock in ms: leases are compared with one clock, whatever the workers' clocks say. */
export const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
