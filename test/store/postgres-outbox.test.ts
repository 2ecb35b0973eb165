import { afterAll, describe, expect, it } from "vitest";
import { contentHash, idempotencyKey } from "../../src/core/keys.js";
import { PostgresStore } from "../../src/store/postgres/index.js";
import { dropSchemas, freshSchemaUrl, pgUrl } from "../helpers/postgres.js";

const url = pgUrl();
const schemas: string[] = [];
afterAll(async () => {
  if (url) await dropSchemas(url, schemas);
});

/**
 * Concurrent workers commit output while a deliverer reads the outbox: the seqs it sees must be
 * 1, 2, 3, … with no hole, ever. With numbers from a plain sequence, a deliverer could see seq n+1
 * committed while n is still in flight and move its cursor past n for good.
 */
describe.skipIf(!url)("postgres outbox under concurrent writers", () => {
  it("is read in commit order without holes", async () => {
    const { url: schemaUrl, schema } = freshSchemaUrl(url!, "outbox");
    schemas.push(schema);
    const workers = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const store = new PostgresStore({ url: schemaUrl, poolSize: 2 });
        await store.open();
        return store;
      }),
    );
    const reader = new PostgresStore({ url: schemaUrl, poolSize: 2 });
    await reader.open();
    const first = workers[0]!;
    const cursor = await first.beginPlan({
      batchId: "b",
      layer: "l",
      settings: {},
      inputRef: "m",
      fingerprint: "f",
    });
    const total = 400;
    const docs = Array.from({ length: total }, (_, i) => {
      const hash = contentHash("text", {}, `c${i}`);
      return {
        seq: i,
        source: "s",
        docId: `d${i}`,
        format: "text" as const,
        metadata: {},
        content: `c${i}`,
        loadError: null,
        contentHash: hash,
        idempotencyKey: idempotencyKey("s", `d${i}`, hash, "l"),
      };
    });
    await first.planDocuments("b", cursor.batch.planGeneration, docs, { records: total, offset: total });
    await first.finishPlan("b", cursor.batch.planGeneration);
    let writing = true;
    const seen: number[] = [];
    const read = (async () => {
      let at = 0;
      while (writing || at < total) {
        const page = await reader.readChanges("b", at, 7);
        for (const c of page.changes) if (seen.at(-1) !== c.seq) seen.push(c.seq);
        at = page.throughSeq;
        if (page.changes.length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    await Promise.all(
      workers.map(async (store, w) => {
        const run = await store.startRun({
          batchId: "b",
          workerId: `w${w}`,
          host: "h",
          pid: w,
          command: "t",
          processStartedAt: 0,
        });
        for (;;) {
          const claimed = (
            await store.commit({
              run,
              outcomes: [],
              progress: [],
              claim: 3,
              leaseMs: 30_000,
              now: Date.now(),
            })
          ).claimed;
          if (claimed.length === 0) return;
          const outcomes = claimed.map((doc) => ({
            kind: "completed" as const,
            doc,
            degraded: null,
            chunks: [{ index: 0, text: doc.docId, embedding: new Float32Array([1, 2]) }],
            startedAt: 0,
            timings: {},
          }));
          await store.commit({ run, outcomes, progress: [], claim: 0, leaseMs: 30_000, now: Date.now() });
        }
      }),
    );
    writing = false;
    await read;
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    for (const store of [...workers, reader]) await store.close();
  }, 60_000);
});
