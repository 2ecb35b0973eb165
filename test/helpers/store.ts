import Database from "better-sqlite3";
import { expect } from "vitest";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import type { ExportRow, Store } from "../../src/store/store.js";

/**
 * Runs `read` on a read-only connection to a SQLite store that another process is writing: null
 * while the file or its tables do not exist yet, or while the writer holds it too long.
 */
export function peekSqlite<T>(file: string, read: (db: Database.Database) => T): T | null {
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 1_000 });
    return read(db);
  } catch {
    return null;
  } finally {
    db?.close();
  }
}

/** Documents of a batch in done/degraded/failed, read from the file without disturbing the writer. */
export function countDone(file: string, batchId: string): number {
  const row = peekSqlite(
    file,
    (db) =>
      db
        .prepare(
          "SELECT COUNT(*) AS n FROM documents WHERE batch_id = ? AND state IN ('done', 'degraded', 'failed')",
        )
        .get(batchId) as { n: number },
  );
  return row?.n ?? 0;
}

/** The settled documents (done, degraded, failed) of a batch in any store, 0 while it cannot say. */
export async function settledCount(store: Store, batchId: string): Promise<number> {
  const c = await store.counts(batchId).catch(() => null);
  return c ? c.done + c.degraded + c.failed : 0;
}

/** Every exported chunk of a batch, from an open store. */
export async function exportOf(store: Store, batchId: string): Promise<ExportRow[]> {
  const rows: ExportRow[] = [];
  for await (const row of store.exportChunks(batchId)) rows.push(row);
  return rows;
}

export async function exportRows(file: string, batchId: string): Promise<ExportRow[]> {
  const store = new SqliteStore({ file });
  await store.open();
  try {
    return await exportOf(store, batchId);
  } finally {
    await store.close();
  }
}

/** Every expected document exactly once, with chunks 0..n-1 each once. */
export function expectCompleteExport(rows: ExportRow[], ids: string[]): void {
  const byDoc = new Map<string, number[]>();
  for (const row of rows) {
    const list = byDoc.get(row.doc_id) ?? [];
    list.push(row.chunk_index);
    byDoc.set(row.doc_id, list);
    expect(row.chunk_count).toBeGreaterThan(row.chunk_index);
  }
  expect([...byDoc.keys()].sort()).toEqual([...new Set(ids)].sort());
  for (const [id, indexes] of byDoc) {
    expect(indexes, id).toEqual(indexes.map((_, i) => i));
  }
  const keys = new Set(rows.map((r) => r.idempotency_key));
  expect(keys.size).toBe(rows.length);
}
