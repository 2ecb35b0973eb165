import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { runBatch } from "../../src/runner/run-batch.js";
import { MemorySink } from "../../src/sinks/memory/index.js";
import type { SinkChunk, SinkKey } from "../../src/sinks/sink.js";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import { tempDir } from "../helpers/cli.js";
import { makeCorpus, writeJsonl } from "../helpers/corpus.js";
import { testSeed } from "../helpers/seed.js";

async function exportMap(file: string, batchId: string): Promise<Map<string, string>> {
  const store = new SqliteStore({ file, readonly: true });
  await store.open();
  try {
    const rows = new Map<string, string>();
    for await (const r of store.exportChunks(batchId)) rows.set(r.idempotency_key, r.text);
    return rows;
  } finally {
    await store.close();
  }
}

const texts = (sink: MemorySink) => new Map([...sink.chunks].map(([k, c]) => [k, c.text]));

/** A sink that is down (every call throws) while `down` is true. */
class FlakySink extends MemorySink {
  down = false;
  failures = 0;
  onCall: () => void = () => {};
  override async upsert(chunks: SinkChunk[]): Promise<void> {
    this.call();
    await super.upsert(chunks);
  }
  override async delete(keys: SinkKey[]): Promise<void> {
    this.call();
    await super.delete(keys);
  }
  /** Every call is seen; while the sink is down, it fails. */
  private call(): void {
    this.onCall();
    if (this.down) {
      this.failures += 1;
      throw new Error("connection refused (test outage)");
    }
  }
}

describe("delivery to a sink", () => {
  it("goes on processing while the sink is down for 10 s, then catches up exactly", async () => {
    testSeed("sink outage");
    const dir = tempDir("docbatch-outage-");
    const input = path.join(dir, "corpus.jsonl");
    const db = path.join(dir, "store.db");
    writeJsonl(input, makeCorpus({ count: 2_000, seed: 5 }));
    const sink = new FlakySink("memory:outage");
    let outage: { startedAt: number; doneAtStart: number; doneAtEnd: number | null } | null = null;
    sink.onCall = () => {
      if (outage || sink.calls.length < 2) return;
      sink.down = true;
      outage = { startedAt: Date.now(), doneAtStart: doneCount(db), doneAtEnd: null };
      setTimeout(() => {
        outage!.doneAtEnd = doneCount(db);
        sink.down = false;
      }, 10_000);
    };
    const lags: number[] = [];
    const errors = new Set<string>();
    const watch = setInterval(() => {
      const cursor = readCursor(db);
      if (!cursor) return;
      lags.push(cursor.lag);
      if (cursor.lastError) errors.add(cursor.lastError);
    }, 100);
    const { report, exitCode } = await runBatch({
      input,
      db,
      batchId: "o",
      concurrency: 8,
      chunkSize: 400,
      sinks: [sink],
      sinkWaitMs: 60_000,
      threads: 0,
    });
    clearInterval(watch);
    expect(outage).not.toBeNull();
    const o = outage!;
    // Processing went on during the outage: documents kept completing while the sink was down
    // (how many depends on the machine; on an idle one, all of them).
    expect(o.doneAtEnd!).toBeGreaterThan(o.doneAtStart);
    expect(sink.failures).toBeGreaterThan(0);
    expect([...errors].some((e) => e.includes("SINK_UNAVAILABLE"))).toBe(true);
    // The lag rose during the outage and fell back to 0.
    expect(Math.max(...lags)).toBeGreaterThan(100);
    expect(report.sinks).toEqual([
      expect.objectContaining({ uri: "memory:outage", lag: 0, last_error: null }),
    ]);
    expect(exitCode).toBe(0);
    expect(texts(sink)).toEqual(await exportMap(db, "o"));
  }, 300_000);

  it("a changed document's new chunks reach the sink only once committed; its stale ones leave", async () => {
    const seed = testSeed("changed documents");
    const dir = tempDir("docbatch-changed-");
    const input = path.join(dir, "corpus.jsonl");
    const db = path.join(dir, "store.db");
    const docs = makeCorpus({ count: 300, seed: seed % 1000 });
    writeJsonl(input, docs);
    const sink = new MemorySink("memory:changed");
    // Every chunk a reader of the sink can see must already be committed output in the store.
    const reader = { db: null as Database.Database | null };
    const upsert = sink.upsert.bind(sink);
    let checked = 0;
    sink.upsert = async (chunks: SinkChunk[]) => {
      reader.db ??= new Database(db, { readonly: true });
      const current = reader.db.prepare(
        "SELECT out_key, out_chunk_count FROM documents WHERE batch_id = 'c' AND doc_id = ? AND source = ?",
      );
      for (const chunk of chunks) {
        const row = current.get(chunk.doc_id, chunk.source) as { out_key: string; out_chunk_count: number };
        expect(chunk.key).toBe(`${row.out_key}:${chunk.chunk_index}`);
        expect(chunk.chunk_index).toBeLessThan(row.out_chunk_count);
        checked += 1;
      }
      await upsert(chunks);
    };
    const common = { input, db, batchId: "c", chunkSize: 400, sinks: [sink], threads: 0 };
    expect((await runBatch(common)).exitCode).toBe(0);
    const before = await exportMap(db, "c");
    expect(texts(sink)).toEqual(before);
    // Change every tenth document and run again: the check above runs on every upsert.
    const changed = docs.map((d, i) =>
      i % 10 === 0 ? { ...d, content: `${d.content}\n\nAn appended paragraph ${i}.` } : d,
    );
    writeJsonl(input, changed);
    const result = await runBatch(common);
    expect(result.exitCode).toBe(0);
    const after = await exportMap(db, "c");
    expect(texts(sink)).toEqual(after);
    const stale = [...before.keys()].filter((k) => !after.has(k));
    expect(stale.length).toBeGreaterThanOrEqual(30);
    for (const key of stale) expect(sink.chunks.has(key)).toBe(false);
    expect(checked).toBeGreaterThan(after.size);
    reader.db?.close();
  }, 300_000);
});

function doneCount(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare("SELECT COUNT(*) AS n FROM documents WHERE state = 'done'").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function readCursor(file: string): { lag: number; lastError: string | null } | null {
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const row = db
      .prepare(
        `SELECT (SELECT head FROM outbox_heads WHERE batch_id = c.batch_id) - c.delivered_seq AS lag, c.last_error
         FROM sink_cursors c LIMIT 1`,
      )
      .get() as { lag: number | null; last_error: string | null } | undefined;
    return row ? { lag: row.lag ?? 0, lastError: row.last_error } : null;
  } catch {
    return null;
  } finally {
    db?.close();
  }
}
