import pg from "pg";
import { hash64 } from "../../core/identity-map.js";

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
    options: searchPathOption(schema),
    application_name: "docbatch",
  });
  return { pool, schema };
}

/**
 * `-c search_path=<schema>` for the connection's startup options. The server splits these options
 * at whitespace unless a backslash escapes it, so the quoted identifier has its whitespace and
 * backslashes escaped: whatever its name (spaces, quotes, `-c`), a schema is one value of one
 * setting and cannot add settings of its own.
 */
export function searchPathOption(schema: string): string {
  return `-c search_path=${quoteIdent(schema).replace(/[\s\\]/g, (c) => `\\${c}`)}`;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * A connection taken from the pool for more than one query. The pool listens for errors only on
 * idle connections, and a connection that drops emits one even when a query reports it too:
 * without a listener of its own, a restart of the database would end the process.
 */
export async function checkout(pool: pg.Pool): Promise<pg.PoolClient> {
  const client = await pool.connect();
  client.on("error", ignore);
  return client;
}

/** Returns a connection taken with `checkout`; one that failed is closed rather than reused. */
export function checkin(client: pg.PoolClient, failure?: unknown): void {
  client.off("error", ignore);
  client.release(failure instanceof Error ? failure : failure === undefined ? undefined : true);
}

function ignore(): void {}

/** Runs `fn` in one transaction on one connection, rolling back on any error. */
export async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await checkout(pool);
  let failure: unknown;
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    failure = err;
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    // A connection whose transaction failed for a reason of its own (a lost connection) is closed;
    // one that only rolled back a refused write (a constraint, a fence) goes back to the pool.
    checkin(client, failure !== undefined && isConnectionFailure(failure) ? failure : undefined);
  }
}

/**
 * A connection in a read-only REPEATABLE READ transaction: all its queries read one snapshot,
 * never a mix of two commits. Every snapshot ends with `endSnapshot`.
 */
export async function beginSnapshot(pool: pg.Pool): Promise<pg.PoolClient> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  } catch (err) {
    await endSnapshot(client);
    throw err;
  }
  return client;
}

/** Ends a snapshot (it wrote nothing): the connection goes back to the pool outside a transaction. */
export async function endSnapshot(client: pg.PoolClient): Promise<void> {
  await client.query("ROLLBACK").catch(() => {});
  client.release();
}

function isConnectionFailure(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code !== "string" || /^(08|57P)/.test(code) || /^E[A-Z]+$/.test(code);
}

/** The database's clock in ms: leases are compared with one clock, whatever the workers' clocks say. */
export const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/**
 * An advisory lock key: two 32-bit halves of a hash of what it locks, the schema included, so
 * that stores in two schemas of one database never wait on each other's locks.
 */
export function advisoryKey(schema: string, purpose: string, name: string): [number, number] {
  const h = hash64(JSON.stringify([purpose, schema, name]));
  return [h.hi | 0, h.lo | 0];
}
