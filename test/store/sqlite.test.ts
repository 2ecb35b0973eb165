import path from "node:path";
import { describe, expect, it } from "vitest";
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
