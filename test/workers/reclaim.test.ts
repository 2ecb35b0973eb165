import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresStore } from "../../src/store/postgres/index.js";
import { EmbeddingTestServer } from "../../src/testing/embedding-server.js";
import { collect, runCli, spawnCli, tempDir } from "../helpers/cli.js";
import { makeCorpus, writeJsonl } from "../helpers/corpus.js";
import { dropSchemas, freshSchemaUrl, pgUrl } from "../helpers/postgres.js";

const url = pgUrl();
const SEED = Number(process.env.DOCBATCH_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`reclaim.test: seed ${SEED} (replay with DOCBATCH_TEST_SEED=${SEED})`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
      const dir = tempDir();
      const input = path.join(dir, "c.jsonl");
      writeJsonl(input, makeCorpus({ count: 400, seed: SEED, largeShare: 0 }));
      const submitted = await runCli([
        "submit",
        input,
        "--store",
        storeUrl,
        "--batch-id",
        "r",
        "--embed-url",
        embedUrl,
      ]);
      expect(submitted.code, submitted.stderr).toBe(0);
      await store.open();
      // No --lease-ms: the default lease is what users run with.
      const args = [
        "worker",
        "--batch-id",
        "r",
        "--store",
        storeUrl,
        "--concurrency",
        "8",
        "--no-progress",
        "--json",
      ];
      const victim = spawnCli([...args, "--worker-id", "victim"]);
      const survivor = spawnCli([...args, "--worker-id", "survivor"]);
      const victimDone = collect(victim);
      const survivorDone = collect(survivor);
      const killAfter = 40 + Math.floor((SEED % 1000) / 10);
      for (;;) {
        const c = await store.counts("r");
        if (c.done + c.degraded >= killAfter && c.processing > 8) break;
        await sleep(20);
      }
      victim.kill("SIGKILL");
      const killedAt = Date.now();
      expect((await victimDone).signal).toBe("SIGKILL");
      expect((await survivorDone).code).toBe(0);
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
