import type pg from "pg";
import { batchConflict, DocbatchError } from "../../core/errors.js";
import type { ErrorInfo, PlannedDocument, SkippedFile, StateCounts } from "../../core/types.js";
import { encodeError } from "../codec.js";
import { reloadFilter, requeueFilter } from "../document-filter.js";
import type { CachedVector, GarbageRequest, GarbageResult, OutputChunks } from "../embed-cache.js";
import type { ChangePage, SearchResult, SinkCursor, SinkLease, SinkOwner } from "../index-store.js";
import { type PlanFenceRow, planFence, planLockLost } from "../plan-fence.js";
import { planDecision } from "../plan-start.js";
import {
  type KnownRow,
  planStartValues,
  RELOAD_COLUMNS,
  type ReloadRow,
  STAGED_COLUMNS,
  type StagedRow,
  syncMode,
  toBatch,
  toKnown,
  toReloadCandidate,
  toStaged,
} from "../rows.js";
import type * as api from "../store.js";
import { classifyStoreError } from "../transient.js";
import { commitFlush, vectorsOf } from "./commit.js";
import { advisoryKey, checkin, checkout, createPool, NOW_MS, transaction } from "./db.js";
import * as cache from "./embed-cache.js";
import { exportChunks } from "./export.js";
import * as outbox from "./outbox.js";
import { putContents, writePlanSlice } from "./plan.js";
import * as read from "./read.js";
import { purgeBatch, removeDocuments } from "./remove.js";
import * as runs from "./runs.js";
import { migrate } from "./schema.js";
import { searchChunks } from "./search.js";
import { PgVectorIndex } from "./vector-index.js";

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
export class PostgresStore implements api.Store {
  readonly kind = "postgres" as const;
  private readonly pool: pg.Pool;
  readonly schema: string;
  private readonly expiredLookups = new Map<string, { at: number; short: boolean }>();
  /** The pgvector search index; null where the database has no pgvector (search scans exactly). */
  private vectorIndex: PgVectorIndex | null = null;

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
      client = await checkout(this.pool);
    } catch (err) {
      // A server that is restarting (or not up yet) is the caller's to wait for: it sees the
      // driver's error, which its retries know as transient.
      if (classifyStoreError(err) !== "fatal") throw err;
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
    let failure: unknown;
    try {
      await migrate(client, this.schema);
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      checkin(client, failure);
    }
    this.vectorIndex = await PgVectorIndex.open(this.pool, this.schema);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async getBatch(batchId: string): Promise<api.BatchInfo | null> {
    const { rows } = await this.pool.query("SELECT * FROM batches WHERE batch_id = $1", [batchId]);
    return rows[0] ? toBatch(rows[0]) : null;
  }

  async listBatches(): Promise<api.BatchInfo[]> {
    const { rows } = await this.pool.query("SELECT * FROM batches ORDER BY created_at, batch_id");
    return rows.map(toBatch);
  }

  async beginPlan(start: api.PlanStart): Promise<api.PlanCursor> {
    const { input, sync } = planStartValues(start, (set) => set);
    return transaction(this.pool, async (client) => {
      // A racing creator of the same id waits here for the first one's transaction; then it sees
      // the committed row (DO NOTHING), and the check below decides which input owns the batch.
      const inserted = await client.query(
        `INSERT INTO batches (batch_id, created_at, layer, settings, input_ref, fingerprint, plan_generation,
           plan_sync, external_files)
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8) ON CONFLICT (batch_id) DO NOTHING`,
        [start.batchId, Date.now(), ...input, ...sync],
      );
      const { rows } = await client.query("SELECT * FROM batches WHERE batch_id = $1 FOR UPDATE", [
        start.batchId,
      ]);
      const row = rows[0];
      const created = inserted.rowCount === 1;
      if (!created && start.exclusive && row.input_ref !== start.inputRef) throw batchConflict(start.batchId);
      const existed =
        (await client.query("SELECT 1 FROM documents WHERE batch_id = $1 LIMIT 1", [start.batchId]))
          .rowCount! > 0;
      const { keep, upToDate } = planDecision(row, start, existed);
      if (keep) {
        if (row.plan_complete) return { created, batch: toBatch(row), upToDate, existed };
        // The plan still being written deletes (or not) as its latest start says.
        const kept = await client.query(
          "UPDATE batches SET plan_sync = $2, external_files = $3 WHERE batch_id = $1 RETURNING *",
          [start.batchId, ...sync],
        );
        return { created, batch: toBatch(kept.rows[0]), upToDate, existed };
      }
      const updated = await client.query(
        `UPDATE batches SET layer = $2, settings = $3, input_ref = $4, fingerprint = $5,
           plan_generation = plan_generation + 1, plan_records = 0, plan_offset = 0, plan_complete = FALSE,
           duplicates_skipped = 0, plan_changed = 0, plan_sync = $6, external_files = $7
         WHERE batch_id = $1 RETURNING *`,
        [start.batchId, ...input, ...sync],
      );
      return { created: false, batch: toBatch(updated.rows[0]), upToDate: false, existed };
    });
  }

  async planDocuments(
    batchId: string,
    generation: number,
    docs: PlannedDocument[],
    cursor: api.PlanCursorWrite,
    skipped: SkippedFile[] = [],
  ): Promise<api.PlanProgress> {
    return transaction(this.pool, async (client) => {
      // The batch row is locked first: plan writes of one batch queue behind each other, and the
      // fence below is checked against what the last of them committed.
      const { rows } = await client.query<PlanFenceRow>(
        "SELECT plan_generation, plan_records, plan_lock_run FROM batches WHERE batch_id = $1 FOR UPDATE",
        [batchId],
      );
      const fence = planFence(rows[0], generation, cursor);
      if (fence === "written") return { inserted: 0, unchanged: 0, changed: 0, duplicates: 0 };
      const progress = await writePlanSlice(client, batchId, generation, docs, Date.now());
      if (skipped.length > 0) {
        await client.query(
          `INSERT INTO skipped_files (batch_id, path, kind, plan_generation)
           SELECT $1, f.path, f.kind, $4 FROM unnest($2::text[], $3::text[]) AS f(path, kind)
           ON CONFLICT (batch_id, path) DO UPDATE SET kind = excluded.kind, plan_generation = excluded.plan_generation`,
          [batchId, skipped.map((f) => f.path), skipped.map((f) => f.kind), generation],
        );
      }
      await client.query(
        `UPDATE batches SET plan_records = $3, plan_offset = $4, duplicates_skipped = duplicates_skipped + $5,
           plan_changed = plan_changed + $6
         WHERE batch_id = $1 AND plan_generation = $2`,
        [batchId, generation, cursor.records, cursor.offset, progress.duplicates, progress.changed],
      );
      return progress;
    });
  }

  async finishPlan(batchId: string, generation: number, lockRun?: number): Promise<number> {
    return transaction(this.pool, async (client) => {
      const { rows } = await client.query<{ plan_sync: string }>(
        `UPDATE batches SET plan_complete = TRUE
         WHERE batch_id = $1 AND plan_generation = $2 AND ($3::int IS NULL OR plan_lock_run = $3)
         RETURNING plan_sync`,
        [batchId, generation, lockRun ?? null],
      );
      if (lockRun !== undefined && rows.length === 0) throw planLockLost(batchId);
      await client.query("DELETE FROM skipped_files WHERE batch_id = $1 AND plan_generation < $2", [
        batchId,
        generation,
      ]);
      if (syncMode(rows[0]?.plan_sync) !== "full") return 0;
      return removeDocuments(client, batchId, generation, Date.now());
    });
  }

  async knownDocuments(
    batchId: string,
    ids: { source: string; docId: string }[],
  ): Promise<api.KnownDocument[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query<KnownRow>(
      `SELECT d.source, d.doc_id, d.state, d.idem_key, d.content_hash, d.file_sig, d.load_error IS NULL AS ok
       FROM documents d JOIN unnest($2::text[], $3::text[]) AS v(doc_id, source)
         ON d.doc_id = v.doc_id AND d.source = v.source
       WHERE d.batch_id = $1`,
      [batchId, ids.map((i) => i.docId), ids.map((i) => i.source)],
    );
    return rows.map(toKnown);
  }

  async retireBatch(batchId: string, now: number): Promise<number> {
    return transaction(this.pool, async (client) => {
      await client.query("UPDATE batches SET cancelled_at = $2 WHERE batch_id = $1", [batchId, now]);
      return removeDocuments(client, batchId, null, now);
    });
  }

  async purgeBatch(batchId: string): Promise<boolean> {
    return transaction(this.pool, (client) => purgeBatch(client, batchId));
  }

  /**
   * A session advisory lock, held on a connection of its own for as long as planning lasts: if the
   * planner dies, its connection closes, the lock is released, and a waiting worker takes over from
   * the plan checkpoint. `deadRuns` is not needed here. The holder's run is written to the batch as
   * well: the lock itself cannot fence writes made on other connections (the planning thread's),
   * and it is gone when its connection drops, so every plan write checks `plan_lock_run` instead.
   */
  async tryPlanLock(
    batchId: string,
    run: api.RunHandle,
    _ttlMs: number,
    _deadRuns: number[],
  ): Promise<api.PlanLock | null> {
    const client = await checkout(this.pool);
    const key = advisoryKey(this.schema, "plan", batchId);
    try {
      const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS ok", key);
      if (!rows[0]?.ok) {
        checkin(client);
        return null;
      }
      await client.query("UPDATE batches SET plan_lock_run = $2 WHERE batch_id = $1", [batchId, run.run]);
    } catch (err) {
      checkin(client, err);
      throw err;
    }
    return {
      run: run.run,
      // The advisory lock needs no renewal; a run that only plans (`submit`) shows it is alive
      // this way, as it commits nothing.
      renew: async () => {
        await this.pool.query(`UPDATE runs SET alive_at = ${NOW_MS} WHERE batch_id = $1 AND run = $2`, [
          batchId,
          run.run,
        ]);
      },
      release: async () => {
        let failure: unknown;
        try {
          await client.query(
            "UPDATE batches SET plan_lock_run = NULL WHERE batch_id = $1 AND plan_lock_run = $2",
            [batchId, run.run],
          );
          await client.query("SELECT pg_advisory_unlock($1, $2)", key);
        } catch (err) {
          // The connection is gone, and the advisory lock with it; another planner may take over.
          failure = err;
        } finally {
          checkin(client, failure);
        }
      },
    };
  }

  async startRun(start: api.RunStart): Promise<api.RunHandle> {
    return runs.startRun(this.pool, this.schema, start);
  }

  async markRunResumed(run: api.RunHandle, resumed: boolean, skipped: number): Promise<void> {
    await this.pool.query(
      "UPDATE runs SET resumed = $3, skipped_done = $4 WHERE batch_id = $1 AND run = $2",
      [run.batchId, run.run, resumed, skipped],
    );
  }

  async endRun(run: api.RunHandle, reason: string, now: number): Promise<void> {
    await runs.endRun(this.pool, run, reason, now);
  }

  async listRuns(batchId: string): Promise<api.RunInfo[]> {
    return runs.listRuns(this.pool, batchId);
  }

  async recoverInFlight(run: api.RunHandle, deadRuns: number[]): Promise<number> {
    return runs.recoverInFlight(this.pool, run, deadRuns, (client, events) =>
      this.addEventsWith(client, run.batchId, events),
    );
  }

  async releaseUnheld(run: api.RunHandle, held: number[]): Promise<number> {
    return runs.releaseUnheld(this.pool, run, held);
  }

  async renewLeases(
    run: api.RunHandle,
    docs: api.ClaimedDocument[],
    leaseMs: number,
    now: number,
  ): Promise<number[]> {
    return runs.renewLeases(this.pool, run, docs, leaseMs, now);
  }

  async commit(request: api.CommitRequest): Promise<api.CommitResult> {
    // Expired leases are looked for when this run runs short of pending work, and otherwise about
    // once a second: a lease lasts seconds, and the query is a round trip on the hot path.
    const key = `${request.run.batchId}\u0000${request.run.run}`;
    const last = this.expiredLookups.get(key);
    const lookForExpired =
      request.claim > 0 && (last === undefined || last.short || request.now - last.at >= 1_000);
    const vectorIndex = this.vectorIndex;
    if (vectorIndex) {
      const completed = request.outcomes.filter((o) => o.kind === "completed");
      await vectorIndex.ensureIndexed(
        this.pool,
        new Set(vectorsOf(completed).map((v) => v.embedding.length)),
      );
    }
    const result = await transaction(this.pool, (client) =>
      commitFlush(client, request, lookForExpired, vectorIndex),
    );
    if (request.claim > 0) {
      this.expiredLookups.set(key, {
        at: lookForExpired ? request.now : (last?.at ?? request.now),
        short: result.claimed.length < request.claim,
      });
    }
    return result;
  }

  readonly contentFile = null;

  connectionSpec(): api.StoreConnectionSpec {
    return { kind: "postgres", url: this.url };
  }

  async loadContent(row: number): Promise<string | null> {
    const { rows } = await this.pool.query<{ content: string }>(
      "SELECT content FROM contents WHERE row = $1",
      [row],
    );
    return rows[0]?.content ?? null;
  }

  async lookupVectors(layer: string, hashes: string[]): Promise<Map<string, Float32Array>> {
    return cache.lookupVectors(this.pool, layer, hashes);
  }

  async storeVectors(layer: string, entries: CachedVector[], now: number): Promise<number> {
    return cache.storeVectors(this.pool, layer, entries, now);
  }

  async loadOutputChunks(row: number): Promise<OutputChunks | null> {
    return cache.loadOutputChunks(this.pool, row);
  }

  async collectGarbage(request: GarbageRequest): Promise<GarbageResult> {
    return cache.collectGarbage(this.pool, request);
  }

  async loadStaged(doc: api.ClaimedDocument): Promise<api.StagedChunks | null> {
    const { rows } = await this.pool.query<StagedRow>(
      `SELECT ${STAGED_COLUMNS} FROM staged_chunks WHERE row = $1 ORDER BY chunk_index`,
      [doc.row],
    );
    return toStaged(rows, doc);
  }

  async nextClaimableAt(run: api.RunHandle): Promise<number | null> {
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

  async listSkipped(batchId: string, limit?: number): Promise<SkippedFile[]> {
    const { rows } = await this.pool.query<SkippedFile>(
      "SELECT path, kind FROM skipped_files WHERE batch_id = $1 ORDER BY path LIMIT $2",
      [batchId, limit ?? null],
    );
    return rows;
  }

  async listDocuments(batchId: string, query: api.DocumentQuery): Promise<api.DocumentSummary[]> {
    return read.listDocuments(this.pool, batchId, query);
  }

  async documentFacts(batchId: string, origin: number): Promise<api.DocumentFacts> {
    return read.documentFacts(this.pool, batchId, origin);
  }

  async failureCounts(batchId: string): Promise<api.FailureCount[]> {
    return read.failureCounts(this.pool, batchId);
  }

  async events(batchId: string, types?: string[]): Promise<api.StoreEvent[]> {
    return read.events(this.pool, batchId, types);
  }

  async addEvents(batchId: string, events: api.StoreEvent[]): Promise<void> {
    await this.addEventsWith(this.pool, batchId, events);
  }

  private async addEventsWith(
    db: pg.Pool | pg.PoolClient,
    batchId: string,
    events: api.StoreEvent[],
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

  exportChunks(batchId: string, options: { withEmbeddings?: boolean } = {}): AsyncIterable<api.ExportRow> {
    return exportChunks(this.pool, batchId, options.withEmbeddings ?? false);
  }

  async requeue(batchId: string, query: api.RequeueQuery, now: number): Promise<number> {
    const filter = requeueFilter(batchId, query, read.FILTER);
    const updatedAt = filter.bind(now);
    const { rowCount } = await this.pool.query(
      `UPDATE documents SET state = 'pending', not_before = 0, stage_attempts = 0, failed_stage = NULL,
         breaker_wait_since = NULL, requeued = TRUE, updated_at = ${updatedAt}
       WHERE ${filter.where}`,
      filter.params,
    );
    return rowCount ?? 0;
  }

  async attachSinks(batchId: string, uris: string[], now: number): Promise<void> {
    await outbox.attachSinks(this.pool, batchId, uris, now);
  }

  async sinkCursors(batchId: string): Promise<SinkCursor[]> {
    return outbox.sinkCursors(this.pool, batchId);
  }

  async claimSink(
    batchId: string,
    uri: string,
    owner: SinkOwner,
    leaseMs: number,
    deadOwners: string[],
  ): Promise<SinkLease | null> {
    return outbox.claimSink(this.pool, batchId, uri, owner, leaseMs, deadOwners);
  }

  async readChanges(batchId: string, afterSeq: number, limit: number): Promise<ChangePage> {
    return outbox.readChanges(this.pool, batchId, afterSeq, limit);
  }

  async ackSink(lease: SinkLease, throughSeq: number, leaseMs: number): Promise<boolean> {
    return outbox.ackSink(this.pool, lease, throughSeq, leaseMs);
  }

  async recordSinkError(lease: SinkLease, error: ErrorInfo): Promise<void> {
    await outbox.recordSinkError(this.pool, lease, error);
  }

  async releaseSink(lease: SinkLease): Promise<void> {
    await outbox.releaseSink(this.pool, lease);
  }

  async detachSink(batchId: string, uri: string): Promise<boolean> {
    const { rowCount } = await this.pool.query("DELETE FROM sink_cursors WHERE batch_id = $1 AND uri = $2", [
      batchId,
      uri,
    ]);
    return (rowCount ?? 0) > 0;
  }

  async search(batchId: string, vector: Float32Array, k: number): Promise<SearchResult> {
    return searchChunks(this.pool, this.vectorIndex, batchId, vector, k);
  }

  async setCancelled(batchId: string, cancelled: boolean, now: number): Promise<void> {
    await this.pool.query("UPDATE batches SET cancelled_at = $2 WHERE batch_id = $1", [
      batchId,
      cancelled ? now : null,
    ]);
  }

  async reloadCandidates(batchId: string, query: api.RequeueQuery): Promise<api.ReloadCandidate[]> {
    const filter = reloadFilter(batchId, query, read.FILTER);
    const { rows } = await this.pool.query<ReloadRow>(
      `SELECT ${RELOAD_COLUMNS} FROM documents WHERE ${filter.where}`,
      filter.params,
    );
    return rows.map(toReloadCandidate);
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
