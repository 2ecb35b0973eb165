import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { batchConflict, DocbatchError } from "../../core/errors.js";
import type { ErrorInfo, PlannedDocument, SkippedFile, StateCounts } from "../../core/types.js";
import { encodeError } from "../codec.js";
import { reloadFilter, requeueFilter } from "../document-filter.js";
import type { CachedVector, GarbageRequest, GarbageResult, OutputChunks } from "../embed-cache.js";
import type { ChangePage, SearchResult, SinkCursor, SinkLease, SinkOwner } from "../index-store.js";
import { type PlanFenceRow, planFence, planLockLost } from "../plan-fence.js";
import { planDecision } from "../plan-start.js";
import {
  type BatchRow,
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
import { SqliteCommitter } from "./commit.js";
import { SqliteEmbedCache } from "./embed-cache.js";
import { SqliteOutbox } from "./outbox.js";
import { SqlitePlanWriter } from "./plan.js";
import * as read from "./read.js";
import { SqliteRemover } from "./remove.js";
import * as runs from "./runs.js";
import { migrate } from "./schema.js";
import { searchChunks } from "./search.js";
import { markIndexStale, SqliteVectorIndex } from "./vector-index.js";
import { writeTurn } from "./write-turn.js";

export interface SqliteStoreOptions {
  /** Path of the database file; its folder is created. `:memory:` for tests. */
  file: string;
  /**
   * `full` syncs the WAL on every commit: a committed document survives a power loss. `normal`
   * survives a crash of the process but may lose the last commits on power loss (they are then
   * processed again; nothing is duplicated). @default "full"
   */
  durability?: "full" | "normal";
  /** Open an existing store without writing (for watching a store another process writes). @default false */
  readonly?: boolean;
  /** Page cache of this connection in MB (the OS caches the file as well). @default 16 */
  cacheMb?: number;
  /**
   * Keep the sqlite-vec search index with the chunks. Without it (or where sqlite-vec cannot be
   * loaded) search scans the vectors exactly, and the next process with the index rebuilds it.
   * @default true
   */
  vectorIndex?: boolean;
}

/** How long a statement waits for a lock another connection holds before it fails (SQLITE_BUSY). */
const BUSY_TIMEOUT_MS = 15_000;

/**
 * The embedded default store: one SQLite file in WAL mode. better-sqlite3 is synchronous, which
 * suits a store whose every call is a short transaction on a local file; the methods are async only
 * to share the Store interface with Postgres.
 */
export class SqliteStore implements api.Store {
  readonly kind = "sqlite" as const;
  private dbValue: Database.Database | null = null;
  private committer: SqliteCommitter | null = null;
  private planWriter: SqlitePlanWriter | null = null;
  private outbox: SqliteOutbox | null = null;
  private vectorIndex: SqliteVectorIndex | null = null;
  private embedCache: SqliteEmbedCache | null = null;
  private remover: SqliteRemover | null = null;

  constructor(private readonly options: SqliteStoreOptions) {}

  private get db(): Database.Database {
    if (!this.dbValue) throw new DocbatchError("INTERNAL", "the SQLite store is not open");
    return this.dbValue;
  }

  async open(): Promise<void> {
    const { file } = this.options;
    try {
      if (this.options.readonly) {
        this.dbValue = new Database(file, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
        this.outbox = new SqliteOutbox(this.dbValue);
        this.embedCache = new SqliteEmbedCache(this.dbValue, "FULL");
        const stale = this.dbValue.prepare("SELECT stale FROM search_index_state").pluck().get() === 1;
        this.vectorIndex = stale ? null : SqliteVectorIndex.load(this.dbValue);
        return;
      }
      if (file !== ":memory:") fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
      // Chunks with their vectors are a few KB each: larger pages hold them with less overhead.
      // (Only a new, empty file takes a page size; an existing store keeps its own.)
      db.pragma("page_size = 16384");
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${this.options.durability === "normal" ? "NORMAL" : "FULL"}`);
      db.pragma(`cache_size = -${Math.round((this.options.cacheMb ?? 16) * 1000)}`);
      db.pragma("temp_store = MEMORY");
      this.dbValue = db;
      migrate(db);
    } catch (err) {
      if (err instanceof DocbatchError) throw err;
      throw new DocbatchError(
        "STORE_UNAVAILABLE",
        `Cannot open the SQLite store ${file}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    // The search index is kept by every connection that writes chunks; one that cannot load
    // sqlite-vec marks it stale, and the next one that can rebuilds it.
    this.vectorIndex = this.options.vectorIndex === false ? null : SqliteVectorIndex.load(this.db);
    if (this.vectorIndex) this.vectorIndex.rebuildIfStale();
    else markIndexStale(this.db);
    this.outbox = new SqliteOutbox(this.db);
    this.committer = new SqliteCommitter(this.db, this.vectorIndex);
    this.planWriter = new SqlitePlanWriter(this.db);
    this.embedCache = new SqliteEmbedCache(this.db, this.options.durability === "normal" ? "NORMAL" : "FULL");
    this.remover = new SqliteRemover(this.db, this.vectorIndex, this.outbox);
  }

  async close(): Promise<void> {
    this.dbValue?.close();
    this.dbValue = null;
  }

  async getBatch(batchId: string): Promise<api.BatchInfo | null> {
    const row = this.db.prepare("SELECT * FROM batches WHERE batch_id = ?").get(batchId) as
      | BatchRow
      | undefined;
    return row ? toBatch(row) : null;
  }

  async listBatches(): Promise<api.BatchInfo[]> {
    const rows = this.db.prepare("SELECT * FROM batches ORDER BY created_at, batch_id").all() as BatchRow[];
    return rows.map(toBatch);
  }

  async beginPlan(start: api.PlanStart): Promise<api.PlanCursor> {
    const now = Date.now();
    const { input, sync } = planStartValues(start, (set) => (set ? 1 : 0));
    return this.db
      .transaction((): api.PlanCursor => {
        const row = this.db.prepare("SELECT * FROM batches WHERE batch_id = ?").get(start.batchId) as
          | BatchRow
          | undefined;
        if (!row) {
          this.db
            .prepare(
              `INSERT INTO batches (batch_id, created_at, layer, settings, input_ref, fingerprint, plan_generation,
                 plan_sync, external_files)
               VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)`,
            )
            .run(start.batchId, now, ...input, ...sync);
          return {
            created: true,
            batch: toBatch(this.batchRow(start.batchId)),
            upToDate: false,
            existed: false,
          };
        }
        if (start.exclusive && row.input_ref !== start.inputRef) throw batchConflict(start.batchId);
        const existed =
          this.db.prepare("SELECT 1 FROM documents WHERE batch_id = ? LIMIT 1").get(start.batchId) !==
          undefined;
        const { keep, upToDate } = planDecision(row, start, existed);
        if (keep) {
          // The plan still being written deletes (or not) as its latest start says.
          if (row.plan_complete !== 1) {
            this.db
              .prepare("UPDATE batches SET plan_sync = ?, external_files = ? WHERE batch_id = ?")
              .run(...sync, start.batchId);
          }
          return { created: false, batch: toBatch(this.batchRow(start.batchId)), upToDate, existed };
        }
        this.db
          .prepare(
            `UPDATE batches SET layer = ?, settings = ?, input_ref = ?, fingerprint = ?,
               plan_generation = plan_generation + 1, plan_records = 0, plan_offset = 0, plan_complete = 0,
               duplicates_skipped = 0, plan_changed = 0, plan_sync = ?, external_files = ?
             WHERE batch_id = ?`,
          )
          .run(...input, ...sync, start.batchId);
        return { created: false, batch: toBatch(this.batchRow(start.batchId)), upToDate: false, existed };
      })
      .immediate();
  }

  private batchRow(batchId: string): BatchRow {
    return this.db.prepare("SELECT * FROM batches WHERE batch_id = ?").get(batchId) as BatchRow;
  }

  async planDocuments(
    batchId: string,
    generation: number,
    docs: PlannedDocument[],
    cursor: api.PlanCursorWrite,
    skipped: SkippedFile[] = [],
  ): Promise<api.PlanProgress> {
    const now = Date.now();
    return writeTurn(
      this.db,
      (): api.PlanProgress => {
        const row = this.db
          .prepare("SELECT plan_generation, plan_records, plan_lock_run FROM batches WHERE batch_id = ?")
          .get(batchId) as PlanFenceRow | undefined;
        if (planFence(row, generation, cursor) === "written") {
          return { inserted: 0, unchanged: 0, changed: 0, duplicates: 0 };
        }
        const progress = this.planWriter!.write(batchId, generation, docs, now);
        this.planWriter!.skip(batchId, generation, skipped);
        this.db
          .prepare(
            `UPDATE batches SET plan_records = ?, plan_offset = ?, duplicates_skipped = duplicates_skipped + ?,
               plan_changed = plan_changed + ?
             WHERE batch_id = ? AND plan_generation = ?`,
          )
          .run(cursor.records, cursor.offset, progress.duplicates, progress.changed, batchId, generation);
        return progress;
      },
      BUSY_TIMEOUT_MS,
    );
  }

  async finishPlan(batchId: string, generation: number, lockRun?: number): Promise<number> {
    return this.db
      .transaction((): number => {
        const { changes } = this.db
          .prepare(
            `UPDATE batches SET plan_complete = 1
             WHERE batch_id = @batchId AND plan_generation = @generation AND (@lockRun IS NULL OR plan_lock_run = @lockRun)`,
          )
          .run({ batchId, generation, lockRun: lockRun ?? null });
        if (lockRun !== undefined && changes === 0) throw planLockLost(batchId);
        this.db
          .prepare("DELETE FROM skipped_files WHERE batch_id = ? AND plan_generation < ?")
          .run(batchId, generation);
        const sync = this.db.prepare("SELECT plan_sync FROM batches WHERE batch_id = ?").pluck().get(batchId);
        if (syncMode(sync) !== "full") return 0;
        return this.remover!.remove(batchId, generation, Date.now());
      })
      .immediate();
  }

  async knownDocuments(
    batchId: string,
    ids: { source: string; docId: string }[],
  ): Promise<api.KnownDocument[]> {
    const find = this.db.prepare(
      `SELECT source, doc_id, state, idem_key, content_hash, file_sig, load_error IS NULL AS ok
       FROM documents WHERE batch_id = ? AND doc_id = ? AND source = ?`,
    );
    const known: api.KnownDocument[] = [];
    for (const id of ids) {
      const row = find.get(batchId, id.docId, id.source) as KnownRow | undefined;
      if (row) known.push(toKnown(row));
    }
    return known;
  }

  async retireBatch(batchId: string, now: number): Promise<number> {
    return this.db
      .transaction((): number => {
        this.db.prepare("UPDATE batches SET cancelled_at = ? WHERE batch_id = ?").run(now, batchId);
        return this.remover!.remove(batchId, null, now);
      })
      .immediate();
  }

  async purgeBatch(batchId: string): Promise<boolean> {
    return this.db.transaction((): boolean => this.remover!.purge(batchId)).immediate();
  }

  async tryPlanLock(
    batchId: string,
    run: api.RunHandle,
    ttlMs: number,
    deadRuns: number[],
  ): Promise<api.PlanLock | null> {
    const take = this.db.prepare(
      `UPDATE batches SET plan_lock_run = @run, plan_lock_expires_at = @expires
       WHERE batch_id = @batchId AND (plan_lock_run IS NULL OR plan_lock_run = @run
         OR plan_lock_expires_at < @now OR plan_lock_run IN (SELECT value FROM json_each(@dead)))`,
    );
    const now = Date.now();
    const params = { run: run.run, batchId, now, expires: now + ttlMs, dead: JSON.stringify(deadRuns) };
    if (take.run(params).changes === 0) return null;
    return {
      run: run.run,
      renew: async (ms: number) => {
        const extend = this.db.prepare(
          "UPDATE batches SET plan_lock_expires_at = ? WHERE batch_id = ? AND plan_lock_run = ?",
        );
        // A run that only plans (`submit`) shows it is alive this way: it commits nothing.
        const alive = this.db.prepare(
          `UPDATE runs SET alive_at = ${runs.NOW_MS} WHERE batch_id = ? AND run = ?`,
        );
        await writeTurn(
          this.db,
          () => {
            extend.run(Date.now() + ms, batchId, run.run);
            alive.run(batchId, run.run);
          },
          BUSY_TIMEOUT_MS,
        );
      },
      release: async () => {
        this.db
          .prepare(
            "UPDATE batches SET plan_lock_run = NULL, plan_lock_expires_at = NULL WHERE batch_id = ? AND plan_lock_run = ?",
          )
          .run(batchId, run.run);
      },
    };
  }

  async startRun(start: api.RunStart): Promise<api.RunHandle> {
    return runs.startRun(this.db, start);
  }

  async markRunResumed(run: api.RunHandle, resumed: boolean, skipped: number): Promise<void> {
    this.db
      .prepare("UPDATE runs SET resumed = ?, skipped_done = ? WHERE batch_id = ? AND run = ?")
      .run(resumed ? 1 : 0, skipped, run.batchId, run.run);
  }

  async endRun(run: api.RunHandle, reason: string, now: number): Promise<void> {
    runs.endRun(this.db, run, reason, now);
  }

  async listRuns(batchId: string): Promise<api.RunInfo[]> {
    return runs.listRuns(this.db, batchId);
  }

  async recoverInFlight(run: api.RunHandle, deadRuns: number[]): Promise<number> {
    if (deadRuns.length === 0) return 0;
    return this.db
      .transaction(() => {
        const dead = JSON.stringify(deadRuns);
        const holders = this.db
          .prepare(
            `SELECT lease_run, COUNT(*) AS n FROM documents WHERE batch_id = ? AND state = 'processing'
               AND lease_run IN (SELECT value FROM json_each(?)) GROUP BY lease_run`,
          )
          .all(run.batchId, dead) as { lease_run: number; n: number }[];
        const event = this.db.prepare(
          "INSERT INTO events (batch_id, run, at, type, data) VALUES (?, ?, ?, 'reclaim', ?)",
        );
        for (const h of holders) {
          event.run(
            run.batchId,
            run.run,
            Date.now(),
            JSON.stringify({ from_run: h.lease_run, documents: h.n, via: "dead-run" }),
          );
        }
        const { changes } = this.db
          .prepare(
            `UPDATE documents SET state = 'pending', lease_run = NULL, lease_expires_at = NULL, not_before = 0,
               fence = fence + 1
             WHERE batch_id = ? AND state = 'processing' AND lease_run IN (SELECT value FROM json_each(?))`,
          )
          .run(run.batchId, dead);
        this.db
          .prepare(
            `UPDATE runs SET exit_reason = 'crashed' WHERE batch_id = ? AND ended_at IS NULL
               AND exit_reason IS NULL AND run IN (SELECT value FROM json_each(?))`,
          )
          .run(run.batchId, dead);
        this.db
          .prepare(
            "UPDATE runs SET recovered_in_flight = recovered_in_flight + ? WHERE batch_id = ? AND run = ?",
          )
          .run(changes, run.batchId, run.run);
        return changes;
      })
      .immediate();
  }

  async releaseUnheld(run: api.RunHandle, held: number[]): Promise<number> {
    return runs.releaseUnheld(this.db, run, held);
  }

  async renewLeases(
    run: api.RunHandle,
    docs: api.ClaimedDocument[],
    leaseMs: number,
    now: number,
  ): Promise<number[]> {
    return runs.renewLeases(this.db, run, docs, leaseMs, now, BUSY_TIMEOUT_MS);
  }

  async commit(request: api.CommitRequest): Promise<api.CommitResult> {
    return this.committer!.transaction(request, BUSY_TIMEOUT_MS);
  }

  connectionSpec(): api.StoreConnectionSpec | null {
    const file = this.contentFile;
    return file ? { kind: "sqlite", file, durability: this.options.durability ?? "full" } : null;
  }

  get contentFile(): string | null {
    return this.options.file === ":memory:" ? null : path.resolve(this.options.file);
  }

  async loadContent(row: number): Promise<string | null> {
    return (
      (this.db.prepare("SELECT content FROM contents WHERE row = ?").pluck().get(row) as
        | string
        | undefined) ?? null
    );
  }

  async loadStaged(doc: api.ClaimedDocument): Promise<api.StagedChunks | null> {
    const rows = this.db
      .prepare(`SELECT ${STAGED_COLUMNS} FROM staged_chunks WHERE row = ? ORDER BY chunk_index`)
      .all(doc.row) as StagedRow[];
    return toStaged(rows, doc);
  }

  async nextClaimableAt(run: api.RunHandle): Promise<number | null> {
    const row = this.db
      .prepare(
        `SELECT MIN(t) AS t FROM (
           SELECT MIN(not_before) AS t FROM documents WHERE batch_id = @batchId AND state = 'pending'
           UNION ALL
           SELECT MIN(lease_expires_at) FROM documents
             WHERE batch_id = @batchId AND state = 'processing' AND lease_run <> @run)`,
      )
      .get({ batchId: run.batchId, run: run.run }) as { t: number | null };
    return row.t;
  }

  async counts(batchId: string): Promise<StateCounts> {
    return read.counts(this.db, batchId);
  }

  async listSkipped(batchId: string, limit?: number): Promise<SkippedFile[]> {
    return this.db
      .prepare("SELECT path, kind FROM skipped_files WHERE batch_id = ? ORDER BY path LIMIT ?")
      .all(batchId, limit ?? -1) as SkippedFile[];
  }

  async listDocuments(batchId: string, query: api.DocumentQuery): Promise<api.DocumentSummary[]> {
    return read.listDocuments(this.db, batchId, query);
  }

  async documentFacts(batchId: string, origin: number): Promise<api.DocumentFacts> {
    const file = this.contentFile;
    return read.documentFacts(
      this.db,
      batchId,
      origin,
      file ? { file, threads: Math.min(4, os.availableParallelism()) } : undefined,
    );
  }

  async failureCounts(batchId: string): Promise<api.FailureCount[]> {
    return read.failureCounts(this.db, batchId);
  }

  async events(batchId: string, types?: string[]): Promise<api.StoreEvent[]> {
    return read.events(this.db, batchId, types);
  }

  async addEvents(batchId: string, events: api.StoreEvent[]): Promise<void> {
    const insert = this.db.prepare(
      "INSERT INTO events (batch_id, run, at, type, data) VALUES (?, ?, ?, ?, ?)",
    );
    this.db.transaction(() => {
      for (const e of events) insert.run(batchId, e.run, e.at, e.type, JSON.stringify(e.data));
    })();
  }

  /**
   * Reads in one read transaction on a connection of its own: the export is a single snapshot
   * (a document replaced meanwhile appears old or new, never half of each), and the runner keeps
   * writing on the main connection while a long export streams.
   */
  async *exportChunks(
    batchId: string,
    options: { withEmbeddings?: boolean } = {},
  ): AsyncIterable<api.ExportRow> {
    const memory = this.options.file === ":memory:";
    const reader = memory
      ? this.db
      : new Database(this.options.file, { readonly: true, timeout: BUSY_TIMEOUT_MS });
    reader.exec("BEGIN");
    try {
      yield* read.exportChunks(reader, batchId, options.withEmbeddings ?? false);
    } finally {
      reader.exec("COMMIT");
      if (!memory) reader.close();
    }
  }

  async reloadCandidates(batchId: string, query: api.RequeueQuery): Promise<api.ReloadCandidate[]> {
    const filter = reloadFilter(batchId, query, read.FILTER);
    const rows = this.db
      .prepare(`SELECT ${RELOAD_COLUMNS} FROM documents WHERE ${filter.where}`)
      .all(read.bound(filter)) as ReloadRow[];
    return rows.map(toReloadCandidate);
  }

  async reloadDocument(
    row: number,
    doc: Pick<PlannedDocument, "content" | "loadError" | "contentHash" | "idempotencyKey">,
  ): Promise<void> {
    this.db
      .transaction(() => {
        const { changes } = this.db
          .prepare(
            `UPDATE documents SET load_error = ?, content_hash = ?, idem_key = ?, size = ?, completions = 0,
               fence = fence + 1
             WHERE row = ? AND state IN ('failed', 'pending')`,
          )
          .run(
            encodeError(doc.loadError),
            doc.contentHash,
            doc.idempotencyKey,
            doc.content === null ? null : Buffer.byteLength(doc.content),
            row,
          );
        if (changes === 0) return;
        if (doc.content === null) this.db.prepare("DELETE FROM contents WHERE row = ?").run(row);
        else
          this.db
            .prepare("INSERT OR REPLACE INTO contents (row, content) VALUES (?, ?)")
            .run(row, doc.content);
      })
      .immediate();
  }

  async requeue(batchId: string, query: api.RequeueQuery, now: number): Promise<number> {
    const filter = requeueFilter(batchId, query, read.FILTER);
    const updatedAt = filter.bind(now);
    const { changes } = this.db
      .prepare(
        `UPDATE documents SET state = 'pending', not_before = 0, stage_attempts = 0, failed_stage = NULL,
           breaker_wait_since = NULL, requeued = 1, updated_at = ${updatedAt}
         WHERE ${filter.where}`,
      )
      .run(read.bound(filter));
    return changes;
  }

  async attachSinks(batchId: string, uris: string[], now: number): Promise<void> {
    this.outbox!.attach(batchId, uris, now);
  }

  async sinkCursors(batchId: string): Promise<SinkCursor[]> {
    return this.outbox!.cursors(batchId);
  }

  async claimSink(
    batchId: string,
    uri: string,
    owner: SinkOwner,
    leaseMs: number,
    deadOwners: string[],
  ): Promise<SinkLease | null> {
    return this.outbox!.claim(batchId, uri, owner, leaseMs, deadOwners, Date.now());
  }

  async readChanges(batchId: string, afterSeq: number, limit: number): Promise<ChangePage> {
    return this.outbox!.readChanges(batchId, afterSeq, limit);
  }

  async ackSink(lease: SinkLease, throughSeq: number, leaseMs: number): Promise<boolean> {
    return this.outbox!.ack(lease, throughSeq, leaseMs, Date.now());
  }

  async recordSinkError(lease: SinkLease, error: ErrorInfo): Promise<void> {
    this.outbox!.error(lease, error, Date.now());
  }

  async releaseSink(lease: SinkLease): Promise<void> {
    this.outbox!.release(lease);
  }

  async detachSink(batchId: string, uri: string): Promise<boolean> {
    return (
      this.db.prepare("DELETE FROM sink_cursors WHERE batch_id = ? AND uri = ?").run(batchId, uri).changes > 0
    );
  }

  async lookupVectors(layer: string, hashes: string[]): Promise<Map<string, Float32Array>> {
    return this.embedCache!.lookupVectors(layer, hashes);
  }

  async storeVectors(layer: string, entries: CachedVector[], now: number): Promise<number> {
    return this.embedCache!.storeVectors(layer, entries, now, BUSY_TIMEOUT_MS);
  }

  async loadOutputChunks(row: number): Promise<OutputChunks | null> {
    return this.embedCache!.loadOutputChunks(row);
  }

  async collectGarbage(request: GarbageRequest): Promise<GarbageResult> {
    return this.embedCache!.collectGarbage(request);
  }

  async search(batchId: string, vector: Float32Array, k: number): Promise<SearchResult> {
    return searchChunks(this.db, this.vectorIndex, batchId, vector, k);
  }

  async setCancelled(batchId: string, cancelled: boolean, now: number): Promise<void> {
    this.db
      .prepare("UPDATE batches SET cancelled_at = ? WHERE batch_id = ?")
      .run(cancelled ? now : null, batchId);
  }
}
