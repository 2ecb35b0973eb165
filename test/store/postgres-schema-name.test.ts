import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresStore } from "../../src/store/postgres/index.js";
import { dropSchemas, pgUrl } from "../helpers/postgres.js";

const url = pgUrl();
const names = [
  "with space",
  'quote" -c statement_timeout=1234',
  "x -c search_path=public",
  "back\\slash -c lock_timeout=77",
  "tab\tand\nnewline",
  "ünïcødé 架构",
];

/** What the store's own connections see: the path and the settings a name could try to add. */
async function settingsOf(store: PostgresStore): Promise<Record<string, string>> {
  // The store keeps its pool to itself; its connection options are the ones under test.
  const pool = (store as unknown as { pool: pg.Pool }).pool;
  const { rows } = await pool.query(
    "SELECT current_schemas(false)::text AS schemas, current_setting('statement_timeout') AS statement_timeout, current_setting('lock_timeout') AS lock_timeout",
  );
  return rows[0];
}

describe.skipIf(!url)("Postgres schema names reach the connection as one value", () => {
  const created: string[] = [];
  afterAll(async () => {
    if (url)
      await dropSchemas(
        url,
        created.map((n) => n.replace(/"/g, '""')),
      );
  });

  it.each(names)("works in exactly the schema %j and adds no setting", async (name) => {
    const u = new URL(url!);
    u.searchParams.set("schema", `t_name_${name}`);
    const store = new PostgresStore({ url: u.toString(), poolSize: 1 });
    created.push(`t_name_${name}`);
    try {
      await store.open();
      await store.beginPlan({ batchId: "b", layer: "L", settings: {}, inputRef: "x", fingerprint: null });
      const settings = await settingsOf(store);
      expect(settings.statement_timeout).toBe("0");
      expect(settings.lock_timeout).toBe("0");
      expect(settings.schemas).toContain(`t_name_`);
      // The tables are in that schema, and nowhere else.
      const check = new pg.Client({ connectionString: url! });
      await check.connect();
      try {
        const { rows } = await check.query(
          "SELECT table_schema FROM information_schema.tables WHERE table_name = 'batches' AND table_schema = $1",
          [`t_name_${name}`],
        );
        expect(rows).toHaveLength(1);
        const { rows: batch } = await check.query(
          `SELECT batch_id FROM ${pg.escapeIdentifier(`t_name_${name}`)}.batches`,
        );
        expect(batch).toEqual([{ batch_id: "b" }]);
      } finally {
        await check.end();
      }
    } finally {
      await store.close();
    }
  });
});
