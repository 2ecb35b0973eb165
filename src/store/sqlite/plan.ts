import type Database from "better-sqlite3";
import { canonicalJson } from "../../core/keys.js";
import type { PlannedDocument, SkippedFile } from "../../core/types.js";
import { encodeError } from "../codec.js";
import { decideDocument, emptyProgress, type KnownIdentity } from "../plan-slice.js";
import type { PlanProgress } from "../store.js";

/**
 * Writes one slice of the plan. Each document is looked up by identity first, because what to do
 * depends on what the store already holds (`decideDocument`). A document whose file was not read (`contentKept`: its stat is unchanged) keeps its stored content.
 * The slice and the new plan offset commit in the caller's transaction.
 */
export class SqlitePlanWriter {
  private readonly find: Database.Statement;
  private readonly insert: Database.Statement;
  private readonly touch: Database.Statement;
  private readonly replace: Database.Statement;
  private readonly dropStaged: Database.Statement;
  private readonly putContent: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.find = db.prepare(
      "SELECT row, idem_key, plan_generation, state FROM documents WHERE batch_id = ? AND doc_id = ? AND source = ?",
    );
    this.insert = db.prepare(
      `INSERT INTO documents (batch_id, seq, source, doc_id, format, metadata, load_error,
         content_hash, idem_key, plan_generation, updated_at, path, size, file_mtime, file_sig)
       VALUES (@batchId, @seq, @source, @docId, @format, @metadata, @loadError,
         @contentHash, @key, @generation, @now, @path, @size, @fileMtime, @fileSig)`,
    );
    this.touch = db.prepare("UPDATE documents SET plan_generation = ?, file_sig = ? WHERE row = ?");
    this.replace = db.prepare(
      `UPDATE documents SET seq = @seq, format = @format, metadata = @metadata,
         load_error = @loadError, content_hash = @contentHash, idem_key = @key, plan_generation = @generation,
         path = @path, size = CASE WHEN @kept = 1 THEN size ELSE @size END, file_mtime = @fileMtime, file_sig = @fileSig,
         state = 'pending', not_before = 0, attempts = 0, stage_attempts = 0, failed_stage = NULL,
         last_error = NULL, degraded_reason = NULL, breaker_wait_since = NULL, completions = 0, requeued = 0,
         lease_run = NULL, lease_expires_at = NULL, fence = fence + 1, has_staged = 0, updated_at = @now
       WHERE row = @row`,
    );
    this.dropStaged = db.prepare("DELETE FROM staged_chunks WHERE row = ?");
    this.putContent = db.prepare("INSERT OR REPLACE INTO contents (row, content) VALUES (?, ?)");
  }

  write(batchId: string, generation: number, docs: PlannedDocument[], now: number): PlanProgress {
    const progress = emptyProgress();
    for (const doc of docs) {
      const found = this.find.get(batchId, doc.docId, doc.source) as
        | (KnownIdentity & { row: number })
        | undefined;
      const decision = decideDocument(found, doc, generation, progress);
      if (decision === "insert") {
        const { lastInsertRowid } = this.insert.run(this.values(batchId, generation, doc, now));
        if (doc.content !== null) this.putContent.run(lastInsertRowid, doc.content);
      } else if (decision === "unchanged") {
        this.touch.run(generation, doc.fileSig ?? null, found!.row);
      } else if (decision === "replace") {
        this.replace.run({ ...this.values(batchId, generation, doc, now), row: found!.row });
        if (!doc.contentKept) this.setContent(found!.row, doc.content);
        this.dropStaged.run(found!.row);
      }
    }
    return progress;
  }

  private values(batchId: string, generation: number, doc: PlannedDocument, now: number) {
    return {
      batchId,
      seq: doc.seq,
      source: doc.source,
      docId: doc.docId,
      format: doc.format,
      metadata: canonicalJson(doc.metadata),
      loadError: encodeError(doc.loadError),
      contentHash: doc.contentHash,
      key: doc.idempotencyKey,
      generation,
      now,
      path: doc.path ?? null,
      size: doc.content === null ? null : Buffer.byteLength(doc.content),
      fileMtime: doc.fileMtime == null ? null : Math.floor(doc.fileMtime),
      fileSig: doc.fileSig ?? null,
      kept: doc.contentKept ? 1 : 0,
    };
  }

  /** Records files skipped as not documents; a file skipped again keeps one row. */
  skip(batchId: string, generation: number, files: SkippedFile[]): void {
    if (files.length === 0) return;
    const put = this.db.prepare(
      `INSERT INTO skipped_files (batch_id, path, kind, plan_generation) VALUES (?, ?, ?, ?)
       ON CONFLICT (batch_id, path) DO UPDATE SET kind = excluded.kind, plan_generation = excluded.plan_generation`,
    );
    for (const file of files) put.run(batchId, file.path, file.kind, generation);
  }

  private setContent(row: number | bigint, content: string | null): void {
    if (content === null) this.db.prepare("DELETE FROM contents WHERE row = ?").run(row);
    else this.putContent.run(row, content);
  }
}
