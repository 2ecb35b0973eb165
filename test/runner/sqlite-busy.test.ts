import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { runArgs } from "../helpers/args.js";
import { corpusOnDisk } from "../helpers/corpus.js";
import { sharedEmbeddings } from "../helpers/embeddings.js";
import { sleep, startCli, waitFor } from "../helpers/processes.js";
import { countDone, expectCompleteExport, exportRows } from "../helpers/store.js";

/**
 * Another process holds the SQLite file's write lock for longer than the store's busy timeout
 * (15 s): the run's calls fail with SQLITE_BUSY, are retried, and the run completes.
 */
describe("a SQLite store kept busy by another process", () => {
  const embeddings = sharedEmbeddings({ latencyMs: 3 });

  it("rides out SQLITE_BUSY past the busy timeout, says so, and completes exactly", async () => {
    const { input, db, docs, ids } = corpusOnDisk({ count: 1_500, seed: 23, largeShare: 0 });
    const { finished: done } = startCli(
      runArgs(input, { db, batchId: "busy", embedUrl: embeddings.url, concurrency: 2 }),
    );
    await waitFor(() => countDone(db, "busy") >= 100, 60_000, done);
    const holder = new Database(db, { timeout: 60_000 });
    holder.exec("BEGIN IMMEDIATE");
    await sleep(17_000);
    holder.exec("COMMIT");
    holder.close();
    const result = await done;
    expect(result.code, result.stderr.slice(-2_000)).toBe(0);
    expect(result.stderr).toMatch(/the store is unreachable \(.*SQLITE_BUSY.*\); retrying/);
    expect(result.stderr).toMatch(/the store is reachable again after [\d.]+ s/);
    const report = JSON.parse(result.stdout);
    expect(report.counts).toMatchObject({ total: docs.length, done: docs.length });
    expect(report.dup_rate).toBe(0);
    expectCompleteExport(await exportRows(db, "busy"), ids);
  }, 180_000);
});
