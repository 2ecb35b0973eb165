import type pg from "pg";
import type { StateCounts } from "../../core/types.js";
import { decodeObject } from "../codec.js";
import { type FilterDialect, listFilter } from "../document-filter.js";
import { FACT_COLUMNS, FactsBuilder } from "../facts.js";
import {
  DOCUMENT_SUMMARY_COLUMNS,
  type DocumentSummaryRow,
  toDocumentSummary,
  toStateCounts,
} from "../rows.js";
import type { DocumentFacts, DocumentQuery, DocumentSummary, FailureCount, StoreEvent } from "../store.js";

/** Read-only queries: status, report and export, as the SQLite store answers them. */

/** Filters in Postgres's words: numbered parameters, a list of states as a text array. */
export const FILTER: FilterDialect = {
  param: (n) => `$${n}`,
  stateIn: (p) => `state = ANY(${p}::text[])`,
  states: (list) => list,
  reasonMatch: (p) => `((state = 'failed' AND (last_error::jsonb ->> 'code') = ${p})
    OR (state = 'degraded' AND (degraded_reason::jsonb ->> 'code') = ${p})
    OR (state NOT IN ('failed', 'degraded') AND (last_error::jsonb ->> 'code') = ${p}))`,
};

export async function counts(pool: pg.Pool, batchId: string): Promise<StateCounts> {
  const states = await pool.query<{ state: string; n: number }>(
    "SELECT state, COUNT(*)::bigint AS n FROM documents WHERE batch_id = $1 GROUP BY state",
    [batchId],
  );
  const batch = await pool.query<{ duplicates_skipped: number; plan_changed: number }>(
    "SELECT duplicates_skipped, plan_changed FROM batches WHERE batch_id = $1",
    [batchId],
  );
  const latestRun = await pool.query<{ skipped_done: number }>(
    "SELECT skipped_done FROM runs WHERE batch_id = $1 ORDER BY run DESC LIMIT 1",
    [batchId],
  );
  const skipped = await pool.query<{ n: number }>(
    "SELECT COUNT(*)::bigint AS n FROM skipped_files WHERE batch_id = $1",
    [batchId],
  );
  return toStateCounts({
    states: states.rows,
    batch: batch.rows[0],
    latestRun: latestRun.rows[0],
    skippedFiles: skipped.rows[0]?.n ?? 0,
  });
}

export async function listDocuments(
  pool: pg.Pool,
  batchId: string,
  query: DocumentQuery,
): Promise<DocumentSummary[]> {
  const filter = listFilter(batchId, query, FILTER);
  const limit = query.limit !== undefined ? `LIMIT ${Math.max(0, Math.floor(query.limit))}` : "";
  const { rows } = await pool.query<DocumentSummaryRow>(
    `SELECT ${DOCUMENT_SUMMARY_COLUMNS} FROM documents WHERE ${filter.where} ORDER BY row ${limit}`,
    filter.params,
  );
  return rows.map(toDocumentSummary);
}

const FACTS_PAGE = 50_000;

/** The report's facts, read in keyset pages as arrays of values (rowMode array, no objects). */
export async function documentFacts(pool: pg.Pool, batchId: string, origin: number): Promise<DocumentFacts> {
  const builder = new FactsBuilder(origin);
  let after = 0;
  for (;;) {
    const { rows } = await pool.query<unknown[]>({
      text: `SELECT ${FACT_COLUMNS}, row FROM documents
             WHERE batch_id = $1 AND row > $2 AND committed_at IS NOT NULL AND state IN ('done', 'degraded', 'failed')
             ORDER BY row LIMIT ${FACTS_PAGE}`,
      values: [batchId, after],
      rowMode: "array",
    });
    for (const row of rows) builder.add(row);
    if (rows.length < FACTS_PAGE) break;
    after = rows[rows.length - 1]![9] as number;
  }
  const sums = await pool.query<{ retries: number; reexecuted: number; executions: number }>(
    `SELECT COALESCE(SUM(GREATEST(attempts - 1, 0)), 0)::bigint AS retries,
       COUNT(*) FILTER (WHERE reexecuted)::bigint AS reexecuted, COALESCE(SUM(executions), 0)::bigint AS executions
     FROM documents WHERE batch_id = $1`,
    [batchId],
  );
  const degraded = await pool.query<{ code: string; n: number }>(
    `SELECT COALESCE(degraded_reason::jsonb ->> 'code', 'UNKNOWN') AS code, COUNT(*)::bigint AS n FROM documents
     WHERE batch_id = $1 AND state = 'degraded' GROUP BY 1`,
    [batchId],
  );
  return builder.build(sums.rows[0]!, Object.fromEntries(degraded.rows.map((d) => [d.code, d.n])));
}

export async function failureCounts(pool: pg.Pool, batchId: string): Promise<FailureCount[]> {
  const { rows } = await pool.query<{ code: string; n: number; doc_id: string; message: string }>(
    `SELECT f.code, f.n, d.doc_id, e.message FROM
       (SELECT code, COUNT(*)::bigint AS n, MIN(id) AS first FROM failures WHERE batch_id = $1 GROUP BY code) f
     JOIN failures e ON e.id = f.first
     JOIN documents d ON d.row = e.row
     ORDER BY f.n DESC, f.code`,
    [batchId],
  );
  return rows.map((r) => ({ code: r.code, count: r.n, exampleDocId: r.doc_id, exampleMessage: r.message }));
}

export async function events(pool: pg.Pool, batchId: string, types?: string[]): Promise<StoreEvent[]> {
  const filter = types && types.length > 0 ? "AND type = ANY($2::text[])" : "";
  const { rows } = await pool.query<{ run: number | null; at: number; type: string; data: string }>(
    `SELECT run, at, type, data FROM events WHERE batch_id = $1 ${filter} ORDER BY id`,
    types && types.length > 0 ? [batchId, types] : [batchId],
  );
  return rows.map((r) => ({ run: r.run, at: r.at, type: r.type, data: decodeObject(r.data) }));
}
