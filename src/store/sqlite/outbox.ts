import type Database from "better-sqlite3";
import type { ErrorInfo } from "../../core/types.js";
import { encodeError } from "../codec.js";
import type * as index from "../index-store.js";
import * as shared from "../outbox-rows.js";

/** The outbox statements of the hot path, prepared once per connection. */
function statements(db: Database.Database) {
  return {
    output: db.prepare("SELECT out_key AS key, out_chunk_count AS count FROM documents WHERE row = ?"),
    bumpHead: db.prepare(
      `INSERT INTO outbox_heads (batch_id, head) VALUES (?, ?)
         ON CONFLICT (batch_id) DO UPDATE SET head = head + excluded.head RETURNING head`,
    ),
    insert: db.prepare(
      `INSERT INTO outbox (batch_id, seq, row, op, out_key, from_index, to_index, doc_id, source)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    head: db.prepare("SELECT head FROM outbox_heads WHERE batch_id = ?").pluck(),
    pending: db.prepare(`${shared.PENDING_ROWS} WHERE o.batch_id = ? AND o.seq > ? ORDER BY o.seq LIMIT ?`),
    chunks: db.prepare(
      "SELECT chunk_index, text, embedding, metadata FROM chunks WHERE row = ? ORDER BY chunk_index",
    ),
  };
}

/**
 * The outbox and the sink cursors of the SQLite store. SQLite has one writer at a time, so seq
 * numbers taken from the batch's head row inside the write transaction are visible in commit
 * order by construction; the head row keeps the same shape as in Postgres, where it is the lock
 * that orders concurrent writers.
 */
export class SqliteOutbox {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Database.Database) {
    this.sql = statements(db);
  }

  /** A document's committed output, read before a commit replaces it. */
  outputOf(row: number): index.OutputVersion | null {
    const r = this.sql.output.get(row) as { key: string | null; count: number | null } | undefined;
    return r?.key ? { key: r.key, count: r.count ?? 0 } : null;
  }

  /** Appends what `changes` did to the batch's outbox; runs inside the caller's write transaction. */
  recordOutputChanges(batchId: string, changes: index.OutputChange[]): void {
    const rows = shared.outboxRows(changes);
    if (rows.length === 0) return;
    const head = this.sql.bumpHead.get(batchId, rows.length) as { head: number };
    let seq = head.head - rows.length;
    for (const r of rows) {
      seq += 1;
      this.sql.insert.run(batchId, seq, r.row, r.op, r.key, r.from, r.to, r.docId, r.source);
    }
  }

  headSeq(batchId: string): number {
    return (this.sql.head.get(batchId) as number | undefined) ?? 0;
  }

  readChanges(batchId: string, afterSeq: number, limit: number): index.ChangePage {
    // One read transaction: the outbox rows and the output they are expanded against are one snapshot.
    return this.db.transaction(() => {
      const rows = this.sql.pending.all(batchId, afterSeq, limit) as shared.PendingRow[];
      return shared.expandRows(
        rows,
        afterSeq,
        this.headSeq(batchId),
        (row) => this.sql.chunks.all(row) as shared.StoredChunk[],
      );
    })();
  }

  attach(batchId: string, uris: string[], now: number): void {
    const insert = this.db.prepare(
      "INSERT OR IGNORE INTO sink_cursors (batch_id, uri, attached_at) VALUES (?, ?, ?)",
    );
    this.db.transaction(() => {
      for (const uri of uris) insert.run(batchId, uri, now);
    })();
  }

  cursors(batchId: string): index.SinkCursor[] {
    const head = this.headSeq(batchId);
    const rows = this.db
      .prepare("SELECT * FROM sink_cursors WHERE batch_id = ? ORDER BY attached_at, uri")
      .all(batchId) as shared.CursorRow[];
    return rows.map((r) => shared.toSinkCursor(r, head));
  }

  claim(
    batchId: string,
    uri: string,
    owner: index.SinkOwner,
    leaseMs: number,
    dead: string[],
    now: number,
  ): index.SinkLease | null {
    const row = this.db
      .prepare(
        `UPDATE sink_cursors SET lease_owner = @owner, lease_host = @host, lease_pid = @pid,
           lease_expires_at = @expires, fence = fence + 1
         WHERE batch_id = @batchId AND uri = @uri AND (lease_owner IS NULL OR lease_owner = @owner
           OR lease_expires_at < @now OR lease_owner IN (SELECT value FROM json_each(@dead)))
         RETURNING fence, delivered_seq`,
      )
      .get({ ...owner, batchId, uri, now, expires: now + leaseMs, dead: JSON.stringify(dead) }) as
      | { fence: number; delivered_seq: number }
      | undefined;
    return shared.toSinkLease(batchId, uri, owner, row);
  }

  ack(lease: index.SinkLease, throughSeq: number, leaseMs: number, now: number): boolean {
    const { changes } = this.db
      .prepare(
        `UPDATE sink_cursors SET delivered_seq = MAX(delivered_seq, @seq), delivered_at = @now, last_error = NULL,
           last_error_at = NULL, lease_expires_at = @expires
         WHERE batch_id = @batchId AND uri = @uri AND fence = @fence AND lease_owner = @owner`,
      )
      .run({ ...guard(lease), seq: throughSeq, now, expires: now + leaseMs });
    return changes > 0;
  }

  error(lease: index.SinkLease, error: ErrorInfo, now: number): void {
    this.db
      .prepare(
        `UPDATE sink_cursors SET last_error = @error, last_error_at = @now
         WHERE batch_id = @batchId AND uri = @uri AND fence = @fence AND lease_owner = @owner`,
      )
      .run({ ...guard(lease), error: encodeError(error), now });
  }

  release(lease: index.SinkLease): void {
    this.db
      .prepare(
        `UPDATE sink_cursors SET lease_owner = NULL, lease_host = NULL, lease_pid = NULL, lease_expires_at = NULL
         WHERE batch_id = @batchId AND uri = @uri AND fence = @fence AND lease_owner = @owner`,
      )
      .run(guard(lease));
  }
}

function guard(lease: index.SinkLease) {
  return { batchId: lease.batchId, uri: lease.uri, fence: lease.fence, owner: lease.owner };
}
