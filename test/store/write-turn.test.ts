import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { writeTurn } from "../../src/store/sqlite/write-turn.js";
import { tempDir } from "../helpers/cli.js";

/**
 * The hot path's writes on a SQLite file whose write lock another connection holds (the planning
 * thread, another worker): they wait without blocking the event loop, write once the lock is free,
 * and fail with SQLite's own SQLITE_BUSY, having written nothing, once the busy timeout has passed.
 */
describe("writeTurn", () => {
  const dir = tempDir("docbatch-write-turn-");
  let n = 0;
  const open: Database.Database[] = [];

  function connections(): { writer: Database.Database; holder: Database.Database } {
    const file = path.join(dir, `store-${n++}.db`);
    const writer = new Database(file, { timeout: 5_000 });
    writer.pragma("journal_mode = WAL");
    writer.exec("CREATE TABLE t (x INTEGER)");
    const holder = new Database(file, { timeout: 5_000 });
    open.push(writer, holder);
    return { writer, holder };
  }

  const rows = (db: Database.Database) => db.prepare("SELECT count(*) FROM t").pluck().get() as number;

  afterEach(() => {
    for (const db of open.splice(0)) db.close();
  });

  it("lets the event loop run while the lock is taken, then writes", async () => {
    const { writer, holder } = connections();
    holder.exec("BEGIN IMMEDIATE");
    const ticks: number[] = [];
    const ticker = setInterval(() => ticks.push(performance.now()), 5);
    setTimeout(() => holder.exec("COMMIT"), 120);
    const started = performance.now();
    const written = await writeTurn(
      writer,
      () => writer.prepare("INSERT INTO t VALUES (1)").run().changes,
      5_000,
    );
    clearInterval(ticker);
    expect(written).toBe(1);
    expect(rows(writer)).toBe(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
    // SQLite's busy handler would have held the thread for the whole wait: no timer in between.
    expect(ticks.length).toBeGreaterThan(5);
    expect(writer.pragma("busy_timeout", { simple: true })).toBe(5_000);
  });

  it("fails with SQLITE_BUSY after the timeout, having written nothing", async () => {
    const { writer, holder } = connections();
    holder.exec("BEGIN IMMEDIATE");
    const started = performance.now();
    const attempt = writeTurn(writer, () => writer.prepare("INSERT INTO t VALUES (1)").run(), 150);
    await expect(attempt).rejects.toMatchObject({ code: "SQLITE_BUSY" });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    holder.exec("COMMIT");
    expect(rows(writer)).toBe(0);
    expect(writer.inTransaction).toBe(false);
    expect(writer.pragma("busy_timeout", { simple: true })).toBe(150);
  });

  it("rolls back a body that throws, and restores what `around` changed", async () => {
    const { writer } = connections();
    const around = {
      before: () => writer.pragma("synchronous = OFF"),
      after: () => writer.pragma("synchronous = FULL"),
    };
    const failing = writeTurn(
      writer,
      () => {
        writer.prepare("INSERT INTO t VALUES (1)").run();
        throw new Error("body failed");
      },
      1_000,
      around,
    );
    await expect(failing).rejects.toThrow("body failed");
    expect(rows(writer)).toBe(0);
    expect(writer.inTransaction).toBe(false);
    expect(writer.pragma("synchronous", { simple: true })).toBe(2);
    const synced = await writeTurn(
      writer,
      () => writer.pragma("synchronous", { simple: true }),
      1_000,
      around,
    );
    expect(synced).toBe(0);
    expect(writer.pragma("synchronous", { simple: true })).toBe(2);
  });
});
