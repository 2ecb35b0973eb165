import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openInput } from "../../src/input/sources.js";
import { planBatch } from "../../src/runner/planner.js";
import { PostgresStore } from "../../src/store/postgres/index.js";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import type { Store } from "../../src/store/store.js";
import { jsonLines, runCli, tempDir } from "../helpers/cli.js";
import { makeCorpus, writeJsonl } from "../helpers/corpus.js";
import { dropSchemas, freshSchemaUrl, pgUrl } from "../helpers/postgres.js";

/**
 * `--sync full` with workers: the planner decides. A batch submitted again with fewer documents
 * and `--sync full` ends with the missing ones deleted whoever processes it; and a planner that
 * takes over an interrupted `--sync full` plan (not knowing how it was started) deletes them too,
 * because the mode is kept with the batch.
 */

const url = pgUrl();
const schemas: string[] = [];
const stores: Store[] = [];
afterAll(async () => {
  for (const store of stores) await store.close().catch(() => {});
  if (url) await dropSchemas(url, schemas);
});

function freshStore(kind: string, dir: string): { args: string[]; store: Store } {
  if (kind === "sqlite") {
    const file = path.join(dir, "store.db");
    const store = new SqliteStore({ file });
    stores.push(store);
    return { args: ["--db", file], store };
  }
  const fresh = freshSchemaUrl(url!, "syncw");
  schemas.push(fresh.schema);
  const store = new PostgresStore({ url: fresh.url, poolSize: 2 });
  stores.push(store);
  return { args: ["--store", fresh.url], store };
}

describe.skipIf(!url)("--sync full with workers (Postgres)", () => {
  it("a resubmission with --sync full deletes what it left out; workers process the rest", async () => {
    const dir = tempDir();
    const { args } = freshStore("postgres", dir);
    const docs = makeCorpus({ count: 300, seed: 5 });
    const first = path.join(dir, "first.jsonl");
    writeJsonl(first, docs);
    const submit = (input: string, extra: string[] = []) =>
      runCli(["submit", input, ...args, "--batch-id", "w", ...extra]);
    expect((await submit(first)).code).toBe(0);
    const worker = () => runCli(["worker", ...args, "--batch-id", "w", "--no-progress", "--json"]);
    expect((await worker()).code).toBe(0);

    const second = path.join(dir, "second.jsonl");
    writeJsonl(second, docs.slice(40));
    const again = await submit(second, ["--sync", "full"]);
    expect(again.code, again.stderr).toBe(0);
    const done = await worker();
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout).counts).toMatchObject({ deleted: 40, total: 260 });
    const ids = new Set(
      jsonLines((await runCli(["export", ...args, "--batch-id", "w"])).stdout).map((r) => r.doc_id),
    );
    expect(ids.size).toBe(260);
    for (const doc of docs.slice(0, 40)) expect(ids.has(doc.id)).toBe(false);
  }, 120_000);
});

describe.each(["sqlite", ...(url ? ["postgres"] : [])])(
  "a plan taken over keeps its sync mode (%s)",
  (kind) => {
    it("deletes when another planner finishes a --sync full plan", async () => {
      const dir = tempDir();
      const { args, store } = freshStore(kind, dir);
      const docs = makeCorpus({ count: 120, seed: 9 });
      const first = path.join(dir, "first.jsonl");
      writeJsonl(first, docs);
      const run = await runCli(["run", first, ...args, "--batch-id", "t", "--no-progress"]);
      expect(run.code, run.stderr).toBe(0);

      // A --sync full plan started and left after its first slice, as by a planner that died.
      const second = path.join(dir, "second.jsonl");
      writeJsonl(second, docs.slice(20));
      await store.open();
      const batch = await store.getBatch("t");
      const source = await openInput(second);
      const cursor = await store.beginPlan({
        batchId: "t",
        layer: batch!.layer,
        settings: batch!.settings,
        inputRef: source.location,
        fingerprint: "second",
        sync: "full",
      });
      const abort = new AbortController();
      abort.abort();
      const partial = await planBatch(store, source, cursor.batch, {
        maxDocBytes: 1 << 20,
        layer: batch!.layer,
        sliceDocs: 10,
        signal: abort.signal,
      });
      expect(partial.complete).toBe(false);
      expect((await store.counts("t")).deleted).toBe(0);

      // Another planner continues from the checkpoint; it was never told the mode.
      const taken = (await store.getBatch("t"))!;
      expect(taken.planSync).toBe("full");
      const rest = await planBatch(store, source, taken, { maxDocBytes: 1 << 20, layer: batch!.layer });
      expect(rest.complete).toBe(true);
      expect(rest.deleted).toBe(20);
      expect((await store.counts("t")).deleted).toBe(20);
    }, 60_000);
  },
);
