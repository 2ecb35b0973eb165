import type pg from "pg";
import type { ErrorInfo } from "../../core/types.js";
import { encodeError } from "../codec.js";
import type * as index from "../index-store.js";
import * as shared from "../outbox-rows.js";
import { beginSnapshot, endSnapshot, NOW_MS } from "./db.js";

/**
 * The outbox and the sink cursors of the Postgres store.
 *
 * Why seq numbers come from a per-batch head row and not from a sequence: a sequence hands out
 * numbers at insert time, and concurrent workers commit in another order; a deliverer that saw seq
 * 11 committed would move its cursor past 10, still in flight, and lose it. Taking the numbers by
 * updating the batch's `outbox_heads` row holds that row's lock until COMMIT, so the next writer of
 * the batch gets its numbers only after this one committed: the committed seqs are always a prefix
 * with no holes (a rolled-back writer gives its numbers back with its update), and "deliver
 * everything after my cursor" can never skip a row. The lock is taken by the last statement before
 * COMMIT, so writers queue only for the commit itself; commits without output changes (retries,
 * claims) do not take it. (The alternative, delivering only below the oldest in-flight
 * transaction's xmin, orders rows by transaction start rather than commit, which reorders two
 * commits of the same document.)
 */
export async function recordOutputChanges(
  client: pg.PoolClient,
  batchId: string,
  changes: index.OutputChange[],
): Promise<void> {
  const rows = shared.outboxRows(changes);
  if (rows.length === 0) return;
  await client.query(
    `WITH head AS (
       INSERT INTO outbox_heads (batch_id, head) VALUES ($1, $2)
       ON CONFLICT (batch_id) DO UPDATE SET head = outbox_heads.head + EXCLUDED.head RETURNING head)
     INSERT INTO outbox (batch_id, seq, row, op, out_key, from_index, to_index, doc_id, source)
     SELECT $1, head.head - $2 + v.i, v.row, v.op, v.k, v.f, v.t, v.d, v.s
     FROM head, unnest($3::bigint[], $4::text[], $5::text[], $6::int[], $7::int[], $8::text[], $9::text[])
       WITH ORDINALITY AS v(row, op, k, f, t, d, s, i)`,
    [
      batchId,
      rows.length,
      rows.map((r) => r.row),
      rows.map((r) => r.op),
      rows.map((r) => r.key),
      rows.map((r) => r.from),
      rows.map((r) => r.to),
      rows.map((r) => r.docId),
      rows.map((r) => r.source),
    ],
  );
}

/** Committed output of documents, read before a commit replaces it. */
export async function outputsOf(
  client: pg.PoolClient,
  rows: number[],
): Promise<Map<number, index.OutputVersion>> {
  if (rows.length === 0) return new Map();
  const result = await client.query<{ row: number; key: string | null; count: number | null }>(
    "SELECT row, out_key AS key, out_chunk_count AS count FROM documents WHERE row = ANY($1::bigint[])",
    [rows],
  );
  return new Map(result.rows.flatMap((r) => (r.key ? [[r.row, { key: r.key, count: r.count ?? 0 }]] : [])));
}

export async function readChanges(
  pool: pg.Pool,
  batchId: string,
  afterSeq: number,
  limit: number,
): Promise<index.ChangePage> {
  // One snapshot for the outbox rows and the output they are expanded against.
  const client = await beginSnapshot(pool);
  try {
    const pending = await client.query<shared.PendingRow>(
      `${shared.PENDING_ROWS} WHERE o.batch_id = $1 AND o.seq > $2 ORDER BY o.seq LIMIT $3`,
      [batchId, afterSeq, limit],
    );
    const head = await headSeq(client, batchId);
    const live = pending.rows.filter((r) => r.op === "upsert" && r.cur_key === r.out_key).map((r) => r.row);
    const chunks = new Map<number, shared.StoredChunk[]>();
    if (live.length > 0) {
      const result = await client.query<shared.StoredChunk & { row: number }>(
        "SELECT row, chunk_index, text, embedding, metadata FROM chunks WHERE row = ANY($1::bigint[]) ORDER BY row, chunk_index",
        [live],
      );
      for (const c of result.rows) {
        const list = chunks.get(c.row) ?? [];
        list.push(c);
        chunks.set(c.row, list);
      }
    }
    return shared.expandRows(pending.rows, afterSeq, head, (row) => chunks.get(row) ?? []);
  } finally {
    await endSnapshot(client);
  }
}

async function headSeq(db: pg.Pool | pg.PoolClient, batchId: string): Promise<number> {
  const { rows } = await db.query<{ head: number }>("SELECT head FROM outbox_heads WHERE batch_id = $1", [
    batchId,
  ]);
  return rows[0]?.head ?? 0;
}

export async function attachSinks(
  pool: pg.Pool,
  batchId: string,
  uris: string[],
  now: number,
): Promise<void> {
  if (uris.length === 0) return;
  await pool.query(
    `INSERT INTO sink_cursors (batch_id, uri, attached_at) SELECT $1, u, $3 FROM unnest($2::text[]) AS u
     ON CONFLICT DO NOTHING`,
    [batchId, uris, now],
  );
}

export async function sinkCursors(pool: pg.Pool, batchId: string): Promise<index.SinkCursor[]> {
  const head = await headSeq(pool, batchId);
  const { rows } = await pool.query<shared.CursorRow>(
    "SELECT * FROM sink_cursors WHERE batch_id = $1 ORDER BY attached_at, uri",
    [batchId],
  );
  return rows.map((r) => shared.toSinkCursor(r, head));
}

/** Leases are timed by the database's clock, as document leases are. */
export async function claimSink(
  pool: pg.Pool,
  batchId: string,
  uri: string,
  owner: index.SinkOwner,
  leaseMs: number,
  dead: string[],
): Promise<index.SinkLease | null> {
  const { rows } = await pool.query<{ fence: number; delivered_seq: number }>(
    `UPDATE sink_cursors SET lease_owner = $3, lease_host = $4, lease_pid = $5, lease_expires_at = ${NOW_MS} + $6,
       fence = fence + 1
     WHERE batch_id = $1 AND uri = $2 AND (lease_owner IS NULL OR lease_owner = $3
       OR lease_expires_at < ${NOW_MS} OR lease_owner = ANY($7::text[]))
     RETURNING fence, delivered_seq`,
    [batchId, uri, owner.owner, owner.host, owner.pid, leaseMs, dead],
  );
  return shared.toSinkLease(batchId, uri, owner, rows[0]);
}

export async function ackSink(
  pool: pg.Pool,
  lease: index.SinkLease,
  throughSeq: number,
  leaseMs: number,
): Promise<boolean> {
  const { rowCount } = await pool.query(
    `UPDATE sink_cursors SET delivered_seq = GREATEST(delivered_seq, $5), delivered_at = $6, last_error = NULL,
       last_error_at = NULL, lease_expires_at = ${NOW_MS} + $7
     WHERE batch_id = $1 AND uri = $2 AND fence = $3 AND lease_owner = $4`,
    [lease.batchId, lease.uri, lease.fence, lease.owner, throughSeq, Date.now(), leaseMs],
  );
  return (rowCount ?? 0) > 0;
}

export async function recordSinkError(
  pool: pg.Pool,
  lease: index.SinkLease,
  error: ErrorInfo,
): Promise<void> {
  await pool.query(
    `UPDATE sink_cursors SET last_error = $5, last_error_at = $6
     WHERE batch_id = $1 AND uri = $2 AND fence = $3 AND lease_owner = $4`,
    [lease.batchId, lease.uri, lease.fence, lease.owner, encodeError(error), Date.now()],
  );
}

export async function releaseSink(pool: pg.Pool, lease: index.SinkLease): Promise<void> {
  await pool.query(
    `UPDATE sink_cursors SET lease_owner = NULL, lease_host = NULL, lease_pid = NULL, lease_expires_at = NULL
     WHERE batch_id = $1 AND uri = $2 AND fence = $3 AND lease_owner = $4`,
    [lease.batchId, lease.uri, lease.fence, lease.owner],
  );
}
