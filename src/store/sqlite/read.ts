import fs from "node:fs";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import { threadFile } from "../../core/own-files.js";
import type { StateCounts } from "../../core/types.js";
import { decodeObject } from "../codec.js";
import { type DocumentFilter, type FilterDialect, listFilter } from "../document-filter.js";
import { EXPORT_COLUMNS, type ExportDbRow, toExportRow } from "../export-rows.js";
import { FACT_COLUMNS, FactsBuilder, type SharedFactBuffers, sharedFactBuffers } from "../facts.js";
import {
  DOCUMENT_SUMMARY_COLUMNS,
  type DocumentSummaryRow,
  toDocumentSummary,
  toStateCounts,
} from "../rows.js";
import type {
  DocumentFacts,
  DocumentQuery,
  DocumentSummary,
  ExportRow,
  FailureCount,
  StoreEvent,
} from "../store.js";

/** Read-only queries: status, report and export. */

/**
 * Rows of one export query. SQLite answers on the calling thread, so a page is time the server's
 * event loop stands still: 500 rows take a few milliseconds (2,000 took up to 100 ms on a busy
 * machine), and the total is the same.
 */
const EXPORT_PAGE = 500;

/** Filters in SQLite's words: named parameters (`@p1`, ...), a list of states as JSON. */
export const FILTER: FilterDialect = {
  param: (n) => `@p${n}`,
  stateIn: (p) => `state IN (SELECT value FROM json_each(${p}))`,
  states: (list) => JSON.stringify(list),
  reasonMatch: (p) => `((state = 'failed' AND json_extract(last_error, '$.code') = ${p})
    OR (state = 'degraded' AND json_extract(degraded_reason, '$.code') = ${p})
    OR (state NOT IN ('failed', 'degraded') AND json_extract(last_error, '$.code') = ${p}))`,
};

/** A filter's parameters as better-sqlite3 binds named ones. */
export function bound(filter: DocumentFilter): Record<string, unknown> {
  return Object.fromEntries(filter.params.map((value, i) => [`p${i + 1}`, value]));
}

export function counts(db: Database.Database, batchId: string): StateCounts {
  return toStateCounts({
    states: db
      .prepare("SELECT state, COUNT(*) AS n FROM documents WHERE batch_id = ? GROUP BY state")
      .all(batchId) as { state: string; n: number }[],
    batch: db
      .prepare("SELECT duplicates_skipped, plan_changed FROM batches WHERE batch_id = ?")
      .get(batchId) as { duplicates_skipped: number; plan_changed: number } | undefined,
    latestRun: db
      .prepare("SELECT skipped_done FROM runs WHERE batch_id = ? ORDER BY run DESC LIMIT 1")
      .get(batchId) as { skipped_done: number } | undefined,
    skippedFiles: db
      .prepare("SELECT COUNT(*) AS n FROM skipped_files WHERE batch_id = ?")
      .pluck()
      .get(batchId) as number,
  });
}

export function listDocuments(
  db: Database.Database,
  batchId: string,
  query: DocumentQuery,
): DocumentSummary[] {
  const filter = listFilter(batchId, query, FILTER);
  const limit = filter.bind(query.limit ?? -1);
  const rows = db
    .prepare(
      `SELECT ${DOCUMENT_SUMMARY_COLUMNS} FROM documents WHERE ${filter.where} ORDER BY row LIMIT ${limit}`,
    )
    .all(bound(filter)) as DocumentSummaryRow[];
  return rows.map(toDocumentSummary);
}

/** The report's columns of a batch's settled documents (the statement of every reader). */
export const SETTLED_FACTS = `SELECT ${FACT_COLUMNS} FROM documents
  WHERE batch_id = ? AND committed_at IS NOT NULL AND state IN ('done', 'degraded', 'failed')`;

/**
 * The report's facts. Turning a million rows into numbers takes seconds on one thread, so a store
 * file with a large batch is read by several threads (`readers`: the file and how many), each over
 * a range of rows; the totals are summed here meanwhile.
 */
export async function documentFacts(
  db: Database.Database,
  batchId: string,
  origin: number,
  readers?: { file: string; threads: number; fromRows?: number },
): Promise<DocumentFacts> {
  const span = db
    .prepare("SELECT MIN(row) AS first, MAX(row) AS last, COUNT(*) AS n FROM documents WHERE batch_id = ?")
    .get(batchId) as { first: number | null; last: number | null; n: number };
  const rows = (span.last ?? 0) - (span.first ?? 0) + 1;
  // Readers split the batch's rows; when they are interleaved with other batches' rows (which the
  // shared columns would have to make room for), one thread reads.
  const threads =
    readers &&
    fs.existsSync(FACTS_THREAD) &&
    span.n >= (readers.fromRows ?? PARALLEL_FACTS_FROM) &&
    rows <= 2 * span.n
      ? readers.threads
      : 1;
  const builder = new FactsBuilder(origin);
  let shared: { buffers: SharedFactBuffers; step: number; lengths: Promise<number[][]> } | null = null;
  if (threads > 1) {
    // Every reader writes into its own part of shared columns (a row of the range, at most one
    // value per column): no list grows, nothing is copied back.
    const first = span.first ?? 0;
    const step = Math.ceil(rows / threads);
    const buffers = sharedFactBuffers(step * threads);
    const lengths = Promise.all(
      Array.from({ length: threads }, (_, i) =>
        readInThread({
          file: readers!.file,
          batchId,
          origin,
          from: first + i * step,
          to: first + (i + 1) * step,
          buffers,
          offset: i * step,
        }),
      ),
    );
    shared = { buffers, step, lengths };
  } else {
    for (const row of db.prepare(SETTLED_FACTS).raw().iterate(batchId) as IterableIterator<unknown[]>) {
      builder.add(row);
    }
  }
  const sums = db
    .prepare(
      `SELECT COALESCE(SUM(MAX(attempts - 1, 0)), 0) AS retries, COALESCE(SUM(reexecuted), 0) AS reexecuted,
         COALESCE(SUM(executions), 0) AS executions FROM documents WHERE batch_id = ?`,
    )
    .get(batchId) as { retries: number; reexecuted: number; executions: number };
  const degraded = db
    .prepare(
      `SELECT COALESCE(json_extract(degraded_reason, '$.code'), 'UNKNOWN') AS code, COUNT(*) AS n FROM documents
       WHERE batch_id = ? AND state = 'degraded' GROUP BY 1`,
    )
    .all(batchId) as { code: string; n: number }[];
  const byReason = Object.fromEntries(degraded.map((d) => [d.code, d.n]));
  return shared
    ? FactsBuilder.gather(shared.buffers, shared.step, await shared.lengths, sums, byReason)
    : builder.build(sums, byReason);
}

/** Rows from which a batch's facts are read by several threads. */
const PARALLEL_FACTS_FROM = 200_000;
const FACTS_THREAD = threadFile("store/sqlite/facts-thread.js");

/** What one facts thread reads (see facts-thread.ts): the rows [from, to) into `buffers` at `offset`. */
export interface FactsThreadData {
  file: string;
  batchId: string;
  origin: number;
  from: number;
  to: number;
  buffers: SharedFactBuffers;
  offset: number;
}

function readInThread(data: FactsThreadData): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(FACTS_THREAD, { workerData: data });
    worker.once("message", (lengths: number[]) => resolve(lengths));
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the report reader exited with code ${code}`)));
  });
}

export function failureCounts(db: Database.Database, batchId: string): FailureCount[] {
  const rows = db
    .prepare(
      `SELECT f.code, f.n, d.doc_id, e.message FROM
         (SELECT code, COUNT(*) AS n, MIN(id) AS first FROM failures WHERE batch_id = ? GROUP BY code) f
       JOIN failures e ON e.id = f.first
       JOIN documents d ON d.row = e.row
       ORDER BY f.n DESC, f.code`,
    )
    .all(batchId) as { code: string; n: number; doc_id: string; message: string }[];
  return rows.map((r) => ({ code: r.code, count: r.n, exampleDocId: r.doc_id, exampleMessage: r.message }));
}

export function events(db: Database.Database, batchId: string, types?: string[]): StoreEvent[] {
  const filter = types && types.length > 0 ? `AND type IN (${types.map(() => "?").join(", ")})` : "";
  const rows = db
    .prepare(`SELECT run, at, type, data FROM events WHERE batch_id = ? ${filter} ORDER BY id`)
    .all(batchId, ...(types ?? [])) as { run: number | null; at: number; type: string; data: string }[];
  return rows.map((r) => ({ run: r.run, at: r.at, type: r.type, data: decodeObject(r.data) }));
}

/**
 * The committed chunks in export order, read in pages by keyset so that a long export never holds
 * the connection (or a read transaction) while the runner writes.
 */
export function* exportChunks(
  db: Database.Database,
  batchId: string,
  withEmbeddings: boolean,
): Generator<ExportRow> {
  const columns = `${EXPORT_COLUMNS}${withEmbeddings ? ", c.embedding" : ""}`;
  const first = db.prepare(
    `SELECT ${columns} FROM documents d JOIN chunks c ON c.row = d.row
     WHERE d.batch_id = @batchId
     ORDER BY d.doc_id, d.source, c.chunk_index LIMIT @limit`,
  );
  const next = db.prepare(
    `SELECT ${columns} FROM documents d JOIN chunks c ON c.row = d.row
     WHERE d.batch_id = @batchId AND (d.doc_id, d.source, c.chunk_index) > (@docId, @source, @index)
     ORDER BY d.doc_id, d.source, c.chunk_index LIMIT @limit`,
  );
  let page = first.all({ batchId, limit: EXPORT_PAGE }) as ExportDbRow<Buffer>[];
  while (page.length > 0) {
    for (const r of page) yield toExportRow(r, withEmbeddings ? (e) => new Uint8Array(e) : undefined);
    if (page.length < EXPORT_PAGE) return;
    const last = page[page.length - 1]!;
    page = next.all({
      batchId,
      docId: last.doc_id,
      source: last.source,
      index: last.chunk_index,
      limit: EXPORT_PAGE,
    }) as ExportDbRow<Buffer>[];
  }
}
