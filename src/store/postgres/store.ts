import type pg from "pg";
import { DocbatchError } from "../../core/errors.js";
import { hash64 } from "../../core/identity-map.js";
import type { PlannedDocument, StateCounts } from "../../core/types.js";
import { decodeError, decodeObject, decodeVector, encodeError } from "../codec.js";
import { toBatch, toRun } from "../rows.js";
import type {
  BatchInfo,
  ClaimedDocument,
  CommitRequest,
  CommitResult,
  DocumentFacts,
  DocumentQuery,
  DocumentSummary,
  ExportRow,
  FailureCount,
  PlanCursor,
  PlanLock,
  PlanProgress,
  PlanStart,
  ReloadCandidate,
  RequeueQuery,
  RunHandle,
  RunInfo,
  RunStart,
  StagedChunks,
  Store,
  StoreConnectionSpec,
  StoreEvent,
} from "../store.js";
import { commitFlush } from "./commit.js";
import { createPool, NOW_MS, transaction } from "./db.js";
import { putContents, writePlanSlice } from "./plan.js";
import * as read from "./read.js";
import { migrate } from "./schema.js";

export interface PostgresStoreOptions {
  /** postgres://user@host:port/database, optionally with `?schema=name` (default "docbatch"). */
  url: string;
  /** Connections this process keeps. @default 8 */
  poolSize?: number;
}

/**
 * The shared store: one Postgres database holds the plan, the leases and the output, so any
 * number of workers on any machines can share a batch and any of them can die. Leases are timed
 * by the database's clock, not the workers'.
 */
export class PostgresStore implements Store {
  readonly kind = "postgres" as const;
  private readonly pool: pg.Pool;
  readonly schema: string;
  private readonly expiredLookups = new Map<string, { at: number; short: boolean }>();

  private readonly url: string;

  constructor(options: PostgresStoreOptions) {
    this.url = options.url;
    const { pool, schema } = createPool(options.url, options.poolSize ?? 8);
    this.pool = pool;
    this.schema = schema;
    // An idle client that errors (a restarted server) must not crash the process.
    this.pool.on("error", () => {});
  }

  async open(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw new DocbatchError(
        "STORE_UNAVAILABLE",
        `Cannot connect to the Postgres store: ${(err as Error).message}`,
        {
          cause: err,
          hints: [
            "Check the --store URL (postgres://user@host:port/database) and that the server is running.",
          ],
        },
      );
    }
    try {
      await migrate(client, this.schema);
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async getBatch(batchId: string): Promise<BatchInfo | null> {
    const { rows } = await this.pool.query("SELECT * FROM batches WHERE batch_id = $1", [batchId]);
    return rows[0] ? toBatch(rows[0]) : null;
  }

  async listBatches(): Promise<BatchInfo[]> {
    const { rows } = await this.pool.query("SELECT * FROM batches ORDER BY created_at, batch_id");
    return rows.map(toBatch);
  }

  async beginPlan(start: PlanStart): Promise<PlanCursor> {
    return transaction(this.pool, async (client) => {
      await client.query(
        `INSERT INTO batches (batch_id, created_at, layer, settings, input_ref, fingerprint, plan_generation)
         VALUES ($1, $2, $3, $4, $5, $6, 1) ON CONFLICT (batch_id) DO NOTHING`,
        [
          start.batchId,
          Date.now(),
          start.layer,
          JSON.stringify(start.settings),
          start.inputRef,
          start.fingerprint,
        ],
      );
      const { rows } = await client.query("SELECT * FROM batches WHERE batch_id = $1 FOR UPDATE", [
        start.batchId,
      ]);
      const row = rows[0];
      const existed =
        (await client.query("SELECT 1 FROM documents WHERE batch_id = $1 LIMIT 1", [start.batchId]))
          .rowCount! > 0;
      const fresh = !existed && row.plan_records === 0 && row.plan_generation === 1;
      const same =
        row.fingerprint !== null && row.fingerprint === start.fingerprint && row.layer === start.layer;
      if (same || (fresh && row.fingerprint === start.fingerprint)) {
        return { batch: toBatch(row), upToDate: same && row.plan_complete, existed };
      }
      const updated = await client.query(
        `UPDATE batches SET layer = $2, settings = $3, input_ref = $4, fingerprint = $5,
           plan_generation = plan_generation + 1, plan_records = 0, plan_offset = 0, plan_complete = FALSE,
           duplicates_skipped = 0
         WHERE batch_id = $1 RETURNING *`,
        [start.batchId, start.layer, JSON.stringify(start.settings), start.inputRef, start.fingerprint],
      );
      return { batch: toBatch(updated.rows[0]), upToDate: false, existed };
    });
  }

  async planDocuments(
    batchId: string,
    generation: number,
    docs: PlannedDocument[],
    cursor: { records: number; offset: number },
  ): Promise<PlanProgress> {
    return transaction(this.pool, async (client) => {
      const progress = await writePlanSlice(client, batchId, generation, docs, Date.now());
      await client.query(
        `UPDATE batches SET plan_records = $3, plan_offset = $4, duplicates_skipped = duplicates_skipped + $5
         WHERE batch_id = $1 AND plan_generation = $2`,
        [batchId, generation, cursor.records, cursor.offset, progress.duplicates],
      );
      return progress;
    });
  }

  async finishPlan(batchId: string, generation: number): Promise<void> {
    await this.pool.query(
      "UPDATE batches SET plan_complete = TRUE WHERE batch_id = $1 AND plan_generation = $2",
      [batchId, generation],
    );
  }

  /**
   * A session advisory lock, held on a connection of its own for as long as planning lasts: if the
   * planner dies, its connection closes, the lock is released, and a waiting worker takes over from
   * the plan checkpoint. `deadRuns` is not needed here.
   */
  async tryPlanLock(
    batchId: string,
    _run: RunHandle,
    _ttlMs: number,
    _deadRuns: number[],
  ): Promise<PlanLock | null> {
    const client = await this.pool.connect();
    const key = planLockKey(batchId);
    try {
      const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS ok", key);
      if (!rows[0]?.ok) {
        client.release();
        return null;
      }
    } catch (err) {
      client.release();
      throw err;
    }
    return {
      renew: async () => {},
      release: async () => {
        try {
          await client.query("SELECT pg_advisory_unlock($1, $2)", key);
        } finally {
          client.release();
        }
      },
    };
  }

  async startRun(start: RunStart): Promise<RunHandle> {
    return transaction(this.pool, async (client) => {
      // Run numbers are per batch; workers starting together take them one after the other.
      await client.query("SELECT pg_advisory_xact_lock($1, $2)", runLockKey(start.batchId));
      const now = Date.now();
      const { rows } = await client.query<{ run: number }>(
        `INSERT INTO runs (batch_id, run, worker_id, host, pid, command, process_started_at, started_at, last_seen_at)
         SELECT $1, COALESCE(MAX(run), 0) + 1, $2, $3, $4, $5, $6, $7, $7 FROM runs WHERE batch_id = $1
         RETURNING run`,
        [start.batchId, start.workerId, start.host, start.pid, start.command, start.processStartedAt, now],
      );
      return { batchId: start.batchId, run: rows[0]!.run, workerId: start.workerId };
    });
  }

  async markRunResumed(run: RunHandle, resumed: boolean, skipped: number): Promise<void> {
    await this.pool.query(
      "UPDATE runs SET resumed = $3, skipped_done = $4 WHERE batch_id = $1 AND run = $2",
      [run.batchId, run.run, resumed, skipped],
    );
  }

  async endRun(run: RunHandle, reason: string, now: number): Promise<void> {
    await this.pool.query(
      "UPDATE runs SET ended_at = $3, last_seen_at = $3, exit_reason = $4 WHERE batch_id = $1 AND run = $2",
      [run.batchId, run.run, now, reason],
    );
  }

  async listRuns(batchId: string): Promise<RunInfo[]> {
    const { rows } = await this.pool.query("SELECT * FROM runs WHERE batch_id = $1 ORDER BY run", [batchId]);
    return rows.map(toRun);
  }

  async recoverInFlight(run: RunHandle, deadRuns: number[]): Promise<number> {
    if (deadRuns.length === 0) return 0;
    return transaction(this.pool, async (client) => {
      const holders = await client.query<{ lease_run: number; n: number }>(
        `SELECT lease_run, COUNT(*)::bigint AS n FROM documents
         WHERE batch_id = $1 AND state = 'processing' AND lease_run = ANY($2::int[]) GROUP BY lease_run`,
        [run.batchId, deadRuns],
      );
      if (holders.rows.length > 0) {
        await this.addEventsWith(
          client,
          run.batchId,
          holders.rows.map((h) => ({
            run: run.run,
            at: Date.now(),
            type: "reclaim",
            data: { from_run: h.lease_run, documents: h.n, via: "dead-run" },
          })),
        );
      }
      const { rowCount } = await client.query(
        `UPDATE documents SET state = 'pending', lease_run = NULL, lease_expires_at = NULL, not_before = 0,
           fence = fence + 1
         WHERE batch_id = $1 AND state = 'processing' AND lease_run = ANY($2::int[])`,
        [run.batchId, deadRuns],
      );
      await client.query(
        `UPDATE runs SET exit_reason = 'crashed' WHERE batch_id = $1 AND ended_at IS NULL AND exit_reason IS NULL
           AND run = ANY($2::int[])`,
        [run.batchId, deadRuns],
      );
      await client.query(
        "UPDATE runs SET recovered_in_flight = recovered_in_flight + $3 WHERE batch_id = $1 AND run = $2",
        [run.batchId, run.run, rowCount ?? 0],
      );
      return rowCount ?? 0;
    });
  }

  async renewLeases(
    run: RunHandle,
    docs: ClaimedDocument[],
    leaseMs: number,
    now: number,
  ): Promise<number[]> {
    return transaction(this.pool, async (client) => {
      const { rows } = await client.query<{ row: number }>(
        `UPDATE documents d SET lease_expires_at = ${NOW_MS} + $3
         FROM unnest($1::bigint[], $2::bigint[]) AS v(row, fence)
         WHERE d.row = v.row AND d.fence = v.fence AND d.state = 'processing'
         RETURNING d.row`,
        [docs.map((d) => d.row), docs.map((d) => d.fence), leaseMs],
      );
      await client.query("UPDATE runs SET last_seen_at = $3 WHERE batch_id = $1 AND run = $2", [
        run.batchId,
        run.run,
        now,
      ]);
      const kept = new Set(rows.map((r) => r.row));
      return docs.filter((d) => !kept.has(d.row)).map((d) => d.row);
    });
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    // Expired leases are looked for when this run runs short of pending work, and otherwise about
    // once a second: a lease lasts seconds, and the query is a round trip on the hot path.
    const key = `${request.run.batchId}\u0000${request.run.run}`;
    const last = this.expiredLookups.get(key);
    const lookForExpired =
      request.claim > 0 && (last === undefined || last.short || request.now - last.at >= 1_000);
    const result = await transaction(this.pool, (client) => commitFlush(client, request, lookForExpired));
    if (request.claim > 0) {
      this.expiredLookups.set(key, {
        at: lookForExpired ? request.now : (last?.at ?? request.now),
        short: result.claimed.length < request.claim,
      });
    }
    return result;
  }

  readonly contentFile = null;

  connectionSpec(): StoreConnectionSpec {
    return { kind: "postgres", url: this.url };
  }

  async loadContent(row: number): Promise<string | null> {
    const { rows } = await this.pool.query<{ content: string }>(
      "SELECT content FROM contents WHERE row = $1",
      [row],
    );
    return rows[0]?.content ?? null;
  }

  async loadStaged(doc: ClaimedDocument): Promise<StagedChunks | null> {
    const { rows } = await this.pool.query<{
      chunk_index: number;
      idem_key: string;
      fallback: string | null;
      text: string;
      embedding: Buffer | null;
      metadata: string | null;
    }>(
      "SELECT chunk_index, idem_key, fallback, text, embedding, metadata FROM staged_chunks WHERE row = $1 ORDER BY chunk_index",
      [doc.row],
    );
    if (rows.length === 0 || rows.some((r, i) => r.idem_key !== doc.idempotencyKey || r.chunk_index !== i))
      return null;
    return {
      texts: rows.map((r) => r.text),
      metadata: rows.map((r) => decodeObject(r.metadata)),
      fallback: decodeError(rows[0]!.fallback),
      vectors: rows.map((r) => decodeVector(r.embedding)),
    };
  }

  async nextClaimableAt(run: RunHandle): Promise<number | null> {
    const { rows } = await this.pool.query<{ t: number | null }>(
      `SELECT LEAST(
         (SELECT MIN(not_before) FROM documents WHERE batch_id = $1 AND state = 'pending'),
         (SELECT MIN(lease_expires_at) - ${NOW_MS} + $3 FROM documents
            WHERE batch_id = $1 AND state = 'processing' AND lease_run <> $2)) AS t`,
      [run.batchId, run.run, Date.now()],
    );
    return rows[0]?.t ?? null;
  }

  async counts(batchId: string): Promise<StateCounts> {
    return read.counts(this.pool, batchId);
  }

  async listDocuments(batchId: string, query: DocumentQuery): Promise<DocumentSummary[]> {
    return read.listDocuments(this.pool, batchId, query);
  }

  async documentFacts(batchId: string, origin: number): Promise<DocumentFacts> {
    return read.documentFacts(this.pool, batchId, origin);
  }

  async failureCounts(batchId: string): Promise<FailureCount[]> {
    return read.failureCounts(this.pool, batchId);
  }

  async events(batchId: string, types?: string[]): Promise<StoreEvent[]> {
    return read.events(this.pool, batchId, types);
  }

  async addEvents(batchId: string, events: StoreEvent[]): Promise<void> {
    await this.addEventsWith(this.pool, batchId, events);
  }

  private async addEventsWith(
    db: pg.Pool | pg.PoolClient,
    batchId: string,
    events: StoreEvent[],
  ): Promise<void> {
    if (events.length === 0) return;
    await db.query(
      `INSERT INTO events (batch_id, run, at, type, data)
       SELECT $1, r, a, t, d FROM unnest($2::int[], $3::bigint[], $4::text[], $5::text[]) AS v(r, a, t, d)`,
      [
        batchId,
        events.map((e) => e.run),
        events.map((e) => e.at),
        events.map((e) => e.type),
        events.map((e) => JSON.stringify(e.data)),
      ],
    );
  }

  exportChunks(batchId: string, options: { withEmbeddings?: boolean } = {}): AsyncIterable<ExportRow> {
    return read.exportChunks(this.pool, batchId, options.withEmbeddings ?? false);
  }

  async requeue(batchId: string, query: RequeueQuery, now: number): Promise<number> {
    const { where, params } = requeueFilter(batchId, query);
    params.push(now);
    const { rowCount } = await this.pool.query(
      `UPDATE documents SET state = 'pending', not_before = 0, stage_attempts = 0, failed_stage = NULL,
         breaker_wait_since = NULL, requeued = TRUE, updated_at = $${params.length}
       WHERE ${where}`,
      params,
    );
    return rowCount ?? 0;
  }

  async setCancelled(batchId: string, cancelled: boolean, now: number): Promise<void> {
    await this.pool.query("UPDATE batches SET cancelled_at = $2 WHERE batch_id = $1", [
      batchId,
      cancelled ? now : null,
    ]);
  }

  async reloadCandidates(batchId: string, query: RequeueQuery): Promise<ReloadCandidate[]> {
    const { where, params } = requeueFilter(batchId, query);
    const { rows } = await this.pool.query<{
      row: number;
      source: string;
      doc_id: string;
      format: string;
      metadata: string;
      path: string;
      load_error: string;
    }>(
      `SELECT row, source, doc_id, format, metadata, path, load_error FROM documents
       WHERE ${where} AND load_error IS NOT NULL AND path IS NOT NULL`,
      params,
    );
    return rows.map((r) => ({
      row: r.row,
      source: r.source,
      docId: r.doc_id,
      format: r.format as ReloadCandidate["format"],
      metadata: decodeObject(r.metadata),
      path: r.path,
      loadError: decodeError(r.load_error)!,
    }));
  }

  async reloadDocument(
    row: number,
    doc: Pick<PlannedDocument, "content" | "loadError" | "contentHash" | "idempotencyKey">,
  ): Promise<void> {
    await transaction(this.pool, async (client) => {
      const { rowCount } = await client.query(
        `UPDATE documents SET load_error = $2, content_hash = $3, idem_key = $4, size = $5, completions = 0,
           fence = fence + 1
         WHERE row = $1 AND state IN ('failed', 'pending')`,
        [
          row,
          encodeError(doc.loadError),
          doc.contentHash,
          doc.idempotencyKey,
          doc.content === null ? null : Buffer.byteLength(doc.content),
        ],
      );
      if (rowCount) await putContents(client, [{ row, content: doc.content }]);
    });
  }
}

function requeueFilter(batchId: string, query: RequeueQuery): { where: string; params: unknown[] } {
  const states = [...(query.failed ? ["failed"] : []), ...(query.degraded ? ["degraded"] : [])];
  const params: unknown[] = [batchId, states];
  const where = ["batch_id = $1", "state = ANY($2::text[])"];
  if (query.reason) {
    params.push(query.reason);
    where.push(read.reasonMatch(`$${params.length}`));
  }
  if (query.docId !== undefined) {
    params.push(query.docId);
    where.push(`doc_id = $${params.length}`);
  }
  if (query.source !== undefined) {
    params.push(query.source);
    where.push(`source = $${params.length}`);
  }
  return { where: where.join(" AND "), params };
}

/** Advisory lock keys: two 32-bit halves of a hash, in a namespace of their own per purpose. */
function planLockKey(batchId: string): [number, number] {
  const h = hash64(`plan:${batchId}`);
  return [h.hi | 0, h.lo | 0];
}

function runLockKey(batchId: string): [number, number] {
  const h = hash64(`run:${batchId}`);
  return [h.hi | 0, h.lo | 0];
}
