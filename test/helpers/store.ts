import Database from "better-sqlite3";
import { expect } from "vitest";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import type { ExportRow } from "../../src/store/store.js";

/** Documents of a batch in done/degraded/failed, read from the file without disturbing the writer. */
export function countDone(file: string, batchId: string): number {
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 1_000 });
    const row = db
      .prepare(
        "SELECT COUNT(*) AS n FROM documents WHERE batch_id = ? AND state IN ('done', 'degraded', 'failed')",
      )
      .get(batchId) as { n: number };
    return row.n;
  } catch {
    return 0;
  } finally {
    db?.close();
  }
}

/** Polls `check` until it holds (true), the timeout passes (throws), or `until` settles first (false). */
export async function waitFor(
  check: () => boolean,
  timeoutMs = 30_000,
  until?: Promise<unknown>,
): Promise<boolean> {
  let settled = false;
  void until?.then(() => {
    settled = true;
  });
  const start = Date.now();
  for (;;) {
    if (check()) return true;
    if (settled) return false;
    if (Date.now() - start > timeoutMs) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function exportRows(file: string, batchId: string): Promise<ExportRow[]> {
  const store = new SqliteStore({ file });
  await store.open();
  try {
    const rows: ExportRow[] = [];
    for await (const row of store.exportChunks(batchId)) rows.push(row);
    return rows;
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
