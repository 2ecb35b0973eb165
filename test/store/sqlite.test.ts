import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { chunkTextHash } from "../../src/core/keys.js";
import { embedCacheSlot } from "../../src/store/sqlite/embed-cache.js";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import { tempDir } from "../helpers/cli.js";
import { storeConformance } from "./conformance.js";
import { indexConformance } from "./index-conformance.js";

const dir = tempDir("docbatch-sqlite-");
let n = 0;
storeConformance("sqlite", async () => new SqliteStore({ file: path.join(dir, `store-${n++}.db`) }));
// Where sqlite-vec cannot be loaded: the same promises, search by exact scan.
indexConformance(
  "sqlite without sqlite-vec",
  async () => new SqliteStore({ file: path.join(dir, `store-${n++}.db`), vectorIndex: false }),
);

describe("sqlite search index", () => {
  it("is rebuilt from the chunks after a process without sqlite-vec wrote them", async () => {
    const file = path.join(dir, `store-${n++}.db`);
    const plain = new SqliteStore({ file, vectorIndex: false });
    await plain.open();
    await plain.beginPlan({ batchId: "b", layer: "l", settings: {}, inputRef: "m", fingerprint: "f" });
    await plain.planDocuments(
      "b",
      1,
      [
        {
          seq: 0,
          source: "s",
          docId: "d",
          format: "text",
          metadata: {},
          content: "x",
          loadError: null,
          contentHash: "h",
          idempotencyKey: "k",
        },
      ],
      { records: 1, offset: 1 },
    );
    const run = await plain.startRun({
      batchId: "b",
      workerId: "w",
      host: "h",
      pid: 1,
      command: "t",
      processStartedAt: 0,
    });
    const [doc] = (
      await plain.commit({ run, outcomes: [], progress: [], claim: 1, leaseMs: 30_000, now: Date.now() })
    ).claimed;
    const chunks = [0, 1].map((index) => ({
      index,
      text: `t${index}`,
      embedding: new Float32Array([index, 1 - index]),
    }));
    await plain.commit({
      run,
      outcomes: [{ kind: "completed", doc: doc!, degraded: null, chunks, startedAt: 0, timings: {} }],
      progress: [],
      claim: 0,
      leaseMs: 30_000,
      now: Date.now(),
    });
    expect((await plain.search("b", new Float32Array([0, 1]), 1)).index).toBe("exact-scan");
    await plain.close();
    const indexed = new SqliteStore({ file });
    await indexed.open();
    const result = await indexed.search("b", new Float32Array([1, 0]), 2);
    expect(result.index).toBe("sqlite-vec");
    expect(result.hits.map((h) => h.text)).toEqual(["t1", "t0"]);
    await indexed.close();
  });
});

describe("sqlite embedding cache", () => {
  it("keeps the entries of a store from before its slot index (schema 12)", async () => {
    const file = path.join(dir, `store-${n++}.db`);
    const a = new Float32Array([0.25, -1]);
    const b = new Float32Array([3, 4]);
    const written = new SqliteStore({ file, vectorIndex: false });
    await written.open();
    await written.storeVectors("L", [{ hash: chunkTextHash("a"), embedding: a }], 1);
    await written.storeVectors("M", [{ hash: chunkTextHash("a"), embedding: b }], 1);
    await written.close();
    // The cache as schema 12 left it: indexed by (layer, text hash), no slots.
    const raw = new Database(file);
    raw.exec(`DROP INDEX embed_cache_slot;
      ALTER TABLE embed_cache DROP COLUMN slot;
      CREATE UNIQUE INDEX embed_cache_key ON embed_cache (layer, text_hash);`);
    raw.pragma("user_version = 12");
    raw.close();
    // Read-only (`docbatch plan` on a store this version has not opened yet): not migrated, read as it is.
    const reader = new SqliteStore({ file, vectorIndex: false, readonly: true });
    await reader.open();
    expect(
      Array.from((await reader.lookupVectors("L", [chunkTextHash("a")])).get(chunkTextHash("a"))!),
    ).toEqual(Array.from(a));
    await reader.close();
    const migrated = new SqliteStore({ file, vectorIndex: false });
    await migrated.open();
    const inL = await migrated.lookupVectors("L", [chunkTextHash("a"), chunkTextHash("b")]);
    expect([...inL.keys()]).toEqual([chunkTextHash("a")]);
    expect(Array.from(inL.get(chunkTextHash("a"))!)).toEqual(Array.from(a));
    expect(
      Array.from((await migrated.lookupVectors("M", [chunkTextHash("a")])).get(chunkTextHash("a"))!),
    ).toEqual(Array.from(b));
    // A later write of the same entry keeps the first; a new one is found.
    expect(await migrated.storeVectors("L", [{ hash: chunkTextHash("a"), embedding: b }], 2)).toBe(0);
    expect(await migrated.storeVectors("L", [{ hash: chunkTextHash("b"), embedding: b }], 2)).toBe(1);
    expect((await migrated.lookupVectors("L", [chunkTextHash("b")])).size).toBe(1);
    await migrated.close();
  });

  it("answers a lookup only with entries of its own layer, even where two share a slot", async () => {
    const file = path.join(dir, `store-${n++}.db`);
    const store = new SqliteStore({ file, vectorIndex: false });
    await store.open();
    await store.storeVectors("L", [{ hash: chunkTextHash("a"), embedding: new Float32Array([1]) }], 1);
    await store.close();
    // Another layer's entry put in the slot that ("M", hash of "b") would take.
    const raw = new Database(file);
    raw.prepare("UPDATE embed_cache SET slot = ?, layer = 'N'").run(embedCacheSlot("M", chunkTextHash("b")));
    raw.close();
    const reopened = new SqliteStore({ file, vectorIndex: false });
    await reopened.open();
    expect((await reopened.lookupVectors("M", [chunkTextHash("b")])).size).toBe(0);
    // The same with an entry of the same layer and another text in that slot.
    const again = new Database(file);
    again.prepare("UPDATE embed_cache SET layer = 'M'").run();
    again.close();
    expect((await reopened.lookupVectors("M", [chunkTextHash("b")])).size).toBe(0);
    // The slot is taken: the entry is not stored, and the text is embedded again next time.
    expect(
      await reopened.storeVectors("M", [{ hash: chunkTextHash("b"), embedding: new Float32Array([2]) }], 2),
    ).toBe(0);
    expect((await reopened.lookupVectors("M", [chunkTextHash("b")])).size).toBe(0);
    await reopened.close();
  });
});
