import { afterAll, describe, expect, it } from "vitest";
import { PostgresStore } from "../../src/store/postgres/index.js";
import { dropSchemas, freshSchemaUrl, pgUrl } from "../helpers/postgres.js";

const url = pgUrl();

describe.skipIf(!url)("Postgres advisory locks belong to their schema", () => {
  const schemas: string[] = [];
  const stores: PostgresStore[] = [];
  afterAll(async () => {
    for (const store of stores) await store.close().catch(() => {});
    if (url) await dropSchemas(url, schemas);
  });

  async function storeIn(prefix: string): Promise<PostgresStore> {
    const { url: schemaUrl, schema } = freshSchemaUrl(url!, prefix);
    schemas.push(schema);
    const store = new PostgresStore({ url: schemaUrl, poolSize: 2 });
    stores.push(store);
    await store.open();
    await store.beginPlan({ batchId: "same", layer: "L", settings: {}, inputRef: "x", fingerprint: null });
    return store;
  }

  it("planning batch `same` in one schema does not hold up batch `same` in another", async () => {
    const [a, b] = [await storeIn("lock_a"), await storeIn("lock_b")];
    const runA = await a.startRun({
      batchId: "same",
      workerId: "a",
      host: "h",
      pid: 1,
      command: "t",
      processStartedAt: 0,
    });
    const runB = await b.startRun({
      batchId: "same",
      workerId: "b",
      host: "h",
      pid: 2,
      command: "t",
      processStartedAt: 0,
    });
    const lockA = await a.tryPlanLock("same", runA, 30_000, []);
    expect(lockA).not.toBeNull();
    // Within one schema the lock is exclusive...
    const runA2 = await a.startRun({
      batchId: "same",
      workerId: "a2",
      host: "h",
      pid: 3,
      command: "t",
      processStartedAt: 0,
    });
    expect(await a.tryPlanLock("same", runA2, 30_000, [])).toBeNull();
    // ...and another schema's batch of the same id is another lock.
    const lockB = await b.tryPlanLock("same", runB, 30_000, []);
    expect(lockB).not.toBeNull();
    await lockA!.release();
    await lockB!.release();
    const lockA2 = await a.tryPlanLock("same", runA2, 30_000, []);
    expect(lockA2).not.toBeNull();
    await lockA2!.release();
  });
});
