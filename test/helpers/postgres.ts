import { randomBytes } from "node:crypto";
import pg from "pg";
import { PostgresStore } from "../../src/store/postgres/index.js";

/**
 * The Postgres server of the tests, from DOCBATCH_PG_URL. Under CI it must be there: a Postgres
 * test that skips there would hide a broken store.
 */
export function pgUrl(): string | null {
  const url = process.env.DOCBATCH_PG_URL ?? null;
  if (!url && process.env.CI)
    throw new Error("DOCBATCH_PG_URL is not set: the Postgres tests must run under CI");
  return url;
}

/** A URL with a schema of its own, so every test (file) works in isolation. */
export function freshSchemaUrl(url: string, prefix: string): { url: string; schema: string } {
  const schema = `t_${prefix}_${randomBytes(5).toString("hex")}`;
  const u = new URL(url);
  u.searchParams.set("schema", schema);
  return { url: u.toString(), schema };
}

export async function dropSchemas(url: string, schemas: string[]): Promise<void> {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * Fresh schemas of one test file and a store on each: `cleanup` (in afterAll) closes the stores and
 * drops the schemas.
 */
export function schemaStores(url: string | null) {
  const schemas: string[] = [];
  const stores: PostgresStore[] = [];
  return {
    fresh(prefix: string): { storeUrl: string; store: PostgresStore } {
      const { url: storeUrl, schema } = freshSchemaUrl(url!, prefix);
      schemas.push(schema);
      const store = new PostgresStore({ url: storeUrl, poolSize: 2 });
      stores.push(store);
      return { storeUrl, store };
    },
    async cleanup(): Promise<void> {
      for (const store of stores) await store.close().catch(() => {});
      if (url) await dropSchemas(url, schemas);
    },
  };
}
