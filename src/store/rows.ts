import type { DocumentFormat, JsonObject, StateCounts, SyncMode } from "../core/types.js";
import { decodeError, decodeObject, decodeStage, decodeVector } from "./codec.js";
import type {
  BatchInfo,
  ClaimedDocument,
  DocumentSummary,
  KnownDocument,
  PlanStart,
  ReloadCandidate,
  RunInfo,
  StagedChunks,
} from "./store.js";

/**
 * Rows of the stores' tables as the Store interface speaks of them, shared by both stores: they
 * select the same columns, and only flags differ (booleans in Postgres, 0 or 1 in SQLite).
 */
type Flag = boolean | number;

const isSet = (flag: Flag): boolean => flag === true || flag === 1;

export interface BatchRow {
  batch_id: string;
  created_at: number;
  layer: string;
  settings: string;
  input_ref: string;
  fingerprint: string | null;
  plan_generation: number;
  plan_records: number;
  plan_offset: number;
  plan_complete: Flag;
  plan_lock_run?: number | null;
  duplicates_skipped: number;
  cancelled_at: number | null;
  plan_sync?: string;
  plan_changed?: number;
  external_files?: Flag;
}

export function toBatch(row: BatchRow): BatchInfo {
  return {
    batchId: row.batch_id,
    createdAt: row.created_at,
    layer: row.layer,
    settings: decodeObject(row.settings),
    inputRef: row.input_ref,
    fingerprint: row.fingerprint,
    planGeneration: row.plan_generation,
    planRecords: row.plan_records,
    planOffset: row.plan_offset,
    planComplete: isSet(row.plan_complete),
    planLockRun: row.plan_lock_run ?? null,
    duplicatesSkipped: row.duplicates_skipped,
    cancelledAt: row.cancelled_at,
    planSync: row.plan_sync === "full" ? "full" : "accumulate",
    planChanged: row.plan_changed ?? 0,
    externalFiles: row.external_files !== undefined && isSet(row.external_files),
  };
}

/** A document as `Store.knownDocuments` reads it, in either store. */
export interface KnownRow {
  source: string;
  doc_id: string;
  state: string;
  idem_key: string;
  content_hash: string;
  file_sig: string | null;
  ok: Flag;
}

export function toKnown(row: KnownRow): KnownDocument {
  return {
    source: row.source,
    docId: row.doc_id,
    state: row.state,
    idempotencyKey: row.idem_key,
    contentHash: row.content_hash,
    fileSig: row.file_sig,
    hasContent: isSet(row.ok),
  };
}

/** What a batch's counts are made of, as each store reads them. */
export interface CountRows {
  /** Documents per state. */
  states: { state: string; n: number }[];
  batch: { duplicates_skipped: number; plan_changed: number } | undefined;
  /** The batch's latest run, whose plan found the unchanged documents. */
  latestRun: { skipped_done: number } | undefined;
  skippedFiles: number;
}

/** A batch's counts; deleted documents are no longer part of its total. */
export function toStateCounts(rows: CountRows): StateCounts {
  const counts: StateCounts = {
    total: 0,
    done: 0,
    degraded: 0,
    failed: 0,
    pending: 0,
    processing: 0,
    duplicates_skipped: rows.batch?.duplicates_skipped ?? 0,
    unchanged_skipped: rows.latestRun?.skipped_done ?? 0,
    changed: rows.batch?.plan_changed ?? 0,
    deleted: 0,
    skipped_unsupported: rows.skippedFiles,
  };
  for (const { state, n } of rows.states) {
    counts[state as "done"] = n;
    if (state !== "deleted") counts.total += n;
  }
  return counts;
}

/**
 * The batch columns a plan start writes, in the order both stores' statements list them: what
 * the plan reads (layer, settings, input_ref, fingerprint), and how it syncs (plan_sync, and
 * external_files as a flag the store keeps).
 */
export function planStartValues<F>(
  start: PlanStart,
  flag: (set: boolean) => F,
): { input: [string, string, string, string | null]; sync: [SyncMode, F] } {
  return {
    input: [start.layer, JSON.stringify(start.settings), start.inputRef, start.fingerprint],
    sync: [start.sync ?? "accumulate", flag(start.externalFiles ?? false)],
  };
}

/** Whether completing a plan started with this mode deletes what its input no longer holds. */
export function syncMode(value: unknown): SyncMode {
  return value === "full" ? "full" : "accumulate";
}

export interface RunRow {
  run: number;
  worker_id: string;
  host: string;
  pid: number;
  command: string;
  process_started_at: number;
  started_at: number;
  first_claim_at: number | null;
  last_seen_at: number;
  /** Computed by the store's query: its clock now, minus the run's last sign of life. */
  silent_ms: number;
  locality: string | null;
  pid_start: number | null;
  ended_at: number | null;
  exit_reason: string | null;
  resumed: Flag;
  processed: number;
  skipped_done: number;
  recovered_in_flight: number;
  fenced_commits: number;
  texts_embedded: number | null;
  cache_hits: number | null;
}

export function toRun(row: RunRow): RunInfo {
  return {
    run: row.run,
    workerId: row.worker_id,
    host: row.host,
    pid: row.pid,
    command: row.command,
    processStartedAt: row.process_started_at,
    startedAt: row.started_at,
    firstClaimAt: row.first_claim_at,
    lastSeenAt: row.last_seen_at,
    silentMs: Math.max(0, row.silent_ms),
    locality: row.locality,
    pidStart: row.pid_start,
    endedAt: row.ended_at,
    exitReason: row.exit_reason,
    resumed: isSet(row.resumed),
    processed: row.processed,
    skippedDone: row.skipped_done,
    recoveredInFlight: row.recovered_in_flight,
    fencedCommits: row.fenced_commits,
    textsEmbedded: Number(row.texts_embedded ?? 0),
    cacheHits: Number(row.cache_hits ?? 0),
  };
}

/** The columns of a document's summary (DOCUMENT_SUMMARY_COLUMNS). */
export interface DocumentSummaryRow {
  row: number;
  source: string;
  doc_id: string;
  state: string;
  attempts: number;
  last_error: string | null;
  degraded_reason: string | null;
  out_chunk_count: number | null;
  updated_at: number | null;
}

export const DOCUMENT_SUMMARY_COLUMNS =
  "row, source, doc_id, state, attempts, last_error, degraded_reason, out_chunk_count, updated_at";

export function toDocumentSummary(r: DocumentSummaryRow): DocumentSummary {
  return {
    row: r.row,
    source: r.source,
    docId: r.doc_id,
    state: r.state,
    attempts: r.attempts,
    lastError: decodeError(r.last_error),
    degradedReason: decodeError(r.degraded_reason),
    chunkCount: r.out_chunk_count,
    updatedAt: r.updated_at,
  };
}

/** A claimed document's row, as both stores select it. */
export interface ClaimRow {
  row: number;
  seq: number;
  source: string;
  doc_id: string;
  format: string;
  metadata: string;
  load_error: string | null;
  idem_key: string;
  fence: number;
  attempts: number;
  stage_attempts: number;
  failed_stage: string | null;
  breaker_wait_since: number | null;
  has_staged: Flag;
  executions: number;
  out_key: string | null;
  size: number | null;
  file_mtime: number | string | null;
  content_hash?: string;
  out_prep?: string | null;
}

export function toClaimed(row: ClaimRow, reclaimed: boolean): ClaimedDocument {
  return {
    row: row.row,
    seq: row.seq,
    source: row.source,
    docId: row.doc_id,
    format: row.format as DocumentFormat,
    metadata: decodeObject(row.metadata),
    content: null,
    loadError: decodeError(row.load_error),
    idempotencyKey: row.idem_key,
    fence: row.fence,
    attempts: row.attempts,
    stageAttempts: row.stage_attempts,
    failedStage: decodeStage(row.failed_stage),
    breakerWaitSince: row.breaker_wait_since,
    hasStaged: isSet(row.has_staged),
    executions: row.executions,
    hadOutput: row.out_key !== null,
    size: row.size,
    fileMtime: row.file_mtime === null ? null : Number(row.file_mtime),
    reclaimed,
    ...(row.content_hash !== undefined ? { contentHash: row.content_hash } : {}),
    outputPrep: row.out_prep ?? null,
  };
}

/** The columns of a document whose file could not be read when planned (`Store.reloadCandidates`). */
export const RELOAD_COLUMNS = "row, source, doc_id, format, metadata, path, load_error";

export interface ReloadRow {
  row: number;
  source: string;
  doc_id: string;
  format: string;
  metadata: string;
  path: string;
  load_error: string;
}

export function toReloadCandidate(r: ReloadRow): ReloadCandidate {
  return {
    row: r.row,
    source: r.source,
    docId: r.doc_id,
    format: r.format as DocumentFormat,
    metadata: decodeObject(r.metadata),
    path: r.path,
    loadError: decodeError(r.load_error)!,
  };
}

/** The columns of a staged chunk (`Store.loadStaged`). */
export const STAGED_COLUMNS = "chunk_index, idem_key, fallback, text, embedding, metadata";

export interface StagedRow {
  chunk_index: number;
  idem_key: string;
  fallback: string | null;
  text: string;
  embedding: Uint8Array | null;
  metadata: string | null;
}

/**
 * A large document's progress, when it belongs to the claimed version (same key) and no chunk is
 * missing; else null, and the document is processed from the start.
 */
export function toStaged(rows: StagedRow[], doc: ClaimedDocument): StagedChunks | null {
  if (rows.length === 0 || rows.some((r, i) => r.idem_key !== doc.idempotencyKey || r.chunk_index !== i))
    return null;
  return {
    texts: rows.map((r) => r.text),
    metadata: rows.map((r) => decodeObject(r.metadata)),
    fallback: decodeError(rows[0]!.fallback),
    vectors: rows.map((r) => decodeVector(r.embedding)),
  };
}

/**
 * A chunk's exported metadata: what the pipeline knows of it, with the document's own metadata
 * beside it; on a clash the document's value wins (user metadata is never overwritten).
 */
export function exportMetadata(documentMetadata: string | null, chunkMetadata: string | null): JsonObject {
  const own = decodeObject(documentMetadata);
  if (chunkMetadata === null) return own;
  return { ...decodeObject(chunkMetadata), ...own };
}

/** Tables of rows owned by a batch's documents (keyed by document row), removed with the batch. */
export const DOCUMENT_OWNED_TABLES = ["chunks", "staged_chunks", "contents"] as const;

/** Tables of rows owned by a batch (keyed by batch id), removed with it; `batches` goes last. */
export const BATCH_OWNED_TABLES = [
  "documents",
  "outbox",
  "outbox_heads",
  "sink_cursors",
  "failures",
  "events",
  "runs",
  "skipped_files",
] as const;

/** A plan generation above every real one: "not reached by the plan" then means every document. */
export const EVERY_GENERATION = 2_147_483_647;
