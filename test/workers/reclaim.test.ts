import { afterAll, describe, expect, it } from "vitest";
import { PostgresStore } from "../../src/store/postgres/index.js";
import { EmbeddingTestServer } from "../../src/testing/embedding-server.js";
import { flags, workerArgs } from "../helpers/args.js";
import { runCli } from "../helpers/cli.js";
import { corpusOnDisk } from "../helpers/corpus.js";
import { dropSchemas, freshSchemaUrl, pgUrl } from "../helpers/postgres.js";
import { startCli, waitFor } from "../helpers/processes.js";
import { testSeed } from "../helpers/seed.js";

const url = pgUrl();

describe.skipIf(!url)("a killed worker on the same host, default lease (Postgres)", () => {
  const schemas: string[] = [];
  afterAll(async () => {
    if (url) await dropSchemas(url, schemas);
  });

  it("has its documents reclaimed within about a second, not a third of the 30 s lease", async () => {
    const { url: storeUrl, schema } = freshSchemaUrl(url!, "reclaim");
    schemas.push(schema);
    // Slow embeddings: both workers always hold documents in flight.
    const embeddings = new EmbeddingTestServer({ latencyMs: 150 });
    const embedUrl = await embeddings.start();
    const store = new PostgresStore({ url: storeUrl, poolSize: 2 });
    try {
      const seed = testSeed("reclaim a killed worker");
      const { input } = corpusOnDisk({ count: 400, seed, largeShare: 0 });
      const submitted = await runCli([
        "submit",
        input,
        ...flags({ store: storeUrl, batchId: "r", embedUrl }),
      ]);
      expect(submitted.code, submitted.stderr).toBe(0);
      await store.open();
      // No --lease-ms: the default lease is what users run with.
      const args = { batchId: "r", store: storeUrl, concurrency: 8 };
      const victim = startCli(workerArgs({ ...args, workerId: "victim" }));
      const survivor = startCli(workerArgs({ ...args, workerId: "survivor" }));
      const killAfter = 40 + Math.floor((seed % 1000) / 10);
      const busy = async () => {
        const c = await store.counts("r");
        return c.done + c.degraded >= killAfter && c.processing > 8;
      };
      await waitFor(busy, 120_000, undefined, 20);
      victim.child.kill("SIGKILL");
      const killedAt = Date.now();
      expect((await victim.finished).signal).toBe("SIGKILL");
      expect((await survivor.finished).code).toBe(0);
      const reclaims = await store.events("r", ["reclaim"]);
      expect(reclaims.length).toBeGreaterThan(0);
      const delay = Math.min(...reclaims.map((e) => e.at)) - killedAt;
      console.log(
        `killed worker's documents reclaimed ${delay} ms after the kill (${JSON.stringify(reclaims[0]!.data)})`,
      );
      // The reaper looks every second; before, it looked every 10 s with the default lease.
      expect(delay).toBeLessThan(4_000);
      expect(await store.counts("r")).toMatchObject({ total: 400, pending: 0, processing: 0 });
    } finally {
      await store.close();
      await embeddings.stop();
    }
  }, 120_000);
});
