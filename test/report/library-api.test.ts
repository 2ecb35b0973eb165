import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchStatus, buildReport, listBatches, runBatch, SqliteStore } from "../../src/index.js";
import { tempDir } from "../helpers/cli.js";
import { writeJsonl } from "../helpers/corpus.js";

describe("the library API", () => {
  it("throws BATCH_NOT_FOUND for a batch the store does not hold, as the CLI exits 2", async () => {
    const store = new SqliteStore({ file: path.join(tempDir(), "s.db") });
    await store.open();
    try {
      await expect(buildReport(store, "no-such-batch")).rejects.toMatchObject({
        code: "BATCH_NOT_FOUND",
        hints: [expect.stringContaining("listBatches")],
      });
      await expect(batchStatus(store, "no-such-batch")).rejects.toMatchObject({ code: "BATCH_NOT_FOUND" });
    } finally {
      await store.close();
    }
  });

  it("returns data in the contract's snake_case, as --json prints it", async () => {
    const dir = tempDir();
    const input = path.join(dir, "notes.jsonl");
    writeJsonl(input, [
      { id: "a", source: "s", content: "Alpha words.", format: "text", metadata: {}, markers: [] },
    ]);
    const db = path.join(dir, "s.db");
    const { report } = await runBatch({ input, db, threads: 0 });
    expect(report.batch_id).toBe("notes");
    const store = new SqliteStore({ file: db });
    await store.open();
    try {
      const batches = await listBatches(store);
      expect(batches).toEqual([
        {
          batch_id: "notes",
          created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          input,
          plan_complete: true,
          counts: expect.objectContaining({ total: 1, done: 1, skipped_unsupported: 0 }),
        },
      ]);
      expect((await batchStatus(store, "notes")).batch_id).toBe("notes");
      const rows = [];
      for await (const row of store.exportChunks("notes")) rows.push(row);
      expect(rows[0]).toMatchObject({ doc_id: "a", chunk_index: 0, text: "Alpha words." });
    } finally {
      await store.close();
    }
  });
});
