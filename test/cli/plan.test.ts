import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { deleteBatch } from "../../src/runner/delete-batch.js";
import { currentProcess } from "../../src/runner/liveness.js";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import { errorOf, runCli, tempDir } from "../helpers/cli.js";

/**
 * `docbatch plan` rejects an invalid input exactly as `run` does and creates no store; `delete`
 * refuses a batch that a live process still works on.
 */
describe("docbatch plan and delete", () => {
  it("gives run's error body and exit 2 for an invalid input, and creates no store", async () => {
    const dir = tempDir("docbatch-plan-");
    const input = path.join(dir, "bad.jsonl");
    fs.writeFileSync(input, '{"id": "a", "content": "x"}\n{"id": "", "content": "y"}\nnot json\n');
    const db = path.join(dir, "store.db");
    const plan = await runCli(["plan", input, "--db", db, "--json"]);
    const run = await runCli(["run", input, "--db", db, "--json", "--no-progress"]);
    expect(plan.code).toBe(2);
    expect(run.code).toBe(2);
    expect(errorOf(plan)).toEqual(errorOf(run));
    expect(fs.existsSync(db)).toBe(false);

    const good = path.join(dir, "good.jsonl");
    fs.writeFileSync(good, '{"id": "a", "content": "some text"}\n{"id": "a", "content": "some text"}\n');
    const fine = await runCli(["plan", good, "--db", db, "--json"]);
    expect(fine.code, fine.stderr).toBe(0);
    expect(JSON.parse(fine.stdout)).toMatchObject({
      new: 1,
      duplicates: 1,
      changed: 0,
      deleted: 0,
      chunks: 1,
    });
    expect(fs.existsSync(db)).toBe(false);
  }, 60_000);

  it("refuses to delete a batch a live process works on (BATCH_RUNNING)", async () => {
    const dir = tempDir("docbatch-delete-live-");
    const store = new SqliteStore({ file: path.join(dir, "store.db") });
    await store.open();
    try {
      await store.beginPlan({ batchId: "b", layer: "l", settings: {}, inputRef: "m", fingerprint: "f" });
      const me = currentProcess();
      const run = await store.startRun({
        batchId: "b",
        workerId: "w",
        host: "h",
        pid: process.pid,
        command: "test",
        processStartedAt: Date.now(),
        locality: me.locality,
        pidStart: me.pidStart,
      });
      await expect(deleteBatch({ store, batchId: "b" })).rejects.toMatchObject({ code: "BATCH_RUNNING" });
      await store.endRun(run, "finished", Date.now());
      await expect(deleteBatch({ store, batchId: "b" })).resolves.toMatchObject({
        batch_id: "b",
        documents: 0,
      });
      expect(await store.getBatch("b")).toBeNull();
    } finally {
      await store.close();
    }
  });
});
