import type {
  Chunk,
  DocumentFormat,
  ErrorInfo,
  JsonObject,
  PlannedDocument,
  SkippedFile,
  StageName,
  StageTimings,
  StateCounts,
  SyncMode,
} from "../core/types.js";
import type { EmbedCacheStore } from "./embed-cache.js";
import type { IndexStore } from "./index-store.js";

/**
 * The only contract between docbatch and its datastore. The runner asks the store for what it
 * means (plan, claim, commit, release) and each store decides how to make that atomic; no
 * transaction or connection type leaks out of a store.
 *
 * Every store promises, and `test/store/conformance.ts` checks for each of them:
 * - a planned chunk of documents and the new plan offset commit together;
 * - a document's chunks and its `done`/`degraded` state commit together, replacing any earlier
 *   chunks of that document, so a reader never sees half a document or two versions of it;
 * - a commit whose fence token is no longer the document's current one is rejected and counted;
 * - a claim takes each document at most once per lease, and an expired lease can be claimed again.
 */

export interface BatchInfo {
  batchId: string;
  createdAt: number;
  /** The layer string every key of the current plan was built with. */
  layer: string;
  /** Pipeline options that shape the output; workers and retries process with these. */
  settings: JsonObject;
  /** What the batch was planned from (a path, or "http"). */
  inputRef: string;
  fingerprint: string | null;
  planGeneration: number;
  /** Input records planned so far in the current generation. */
  planRecords: number;
  /** Byte offset of the next unplanned record (streamed inputs), else the record index. */
  planOffset: number;
  planComplete: boolean;
  /**
   * The run that holds (or last held) the planning lock; null when nobody took it or its holder
   * released it. A holder that died leaves it set.
   */
  planLockRun: number | null;
  duplicatesSkipped: number;
  /** Set while the batch is cancelled: no process should work on it. */
  cancelledAt: number | null;
  /** `full`: completing the current plan deletes the documents its input no longer holds. */
  planSync: SyncMode;
  /** Documents of the current plan whose content changed. */
  planChanged: number;
  /** The input names files its fingerprint does not cover: a complete plan is checked by stat again. */
  externalFiles: boolean;
}

export interface PlanStart {
  batchId: string;
  layer: string;
  settings: JsonObject;
  inputRef: string;
  fingerprint: string | null;
  /**
   * Only this input may plan the batch: when it exists with another `inputRef`, nothing changes
   * and `BATCH_CONFLICT` is thrown. Racing submissions of one batch id decide here, in the same
   * transaction as the creation, which of them owns the batch. @default false (a changed input
   * starts a new plan generation)
   */
  exclusive?: boolean;
  /**
   * `full`: completing this plan deletes the batch's documents that the input no longer holds.
   * An incomplete plan of the same input takes the mode of the latest start. @default "accumulate"
   */
  sync?: SyncMode;
  /**
   * The input names files that its fingerprint does not cover (`path` documents of a JSON or JSONL
   * input): a complete plan of the same fingerprint is planned again, each file checked by its stat.
   * @default false
   */
  externalFiles?: boolean;
  /** Start a new plan generation even when the plan is up to date (`--rehash`). @default false */
  replan?: boolean;
}

/** What the store holds of one document, for a planner deciding whether to read its file again. */
export interface KnownDocument {
  source: string;
  docId: string;
  state: string;
  idempotencyKey: string;
  contentHash: string;
  fileSig: string | null;
  /** True when the stored content is there (it was loaded without error). */
  hasContent: boolean;
}

export interface PlanCursor {
  /** True when this call created the batch. */
  created: boolean;
  batch: BatchInfo;
  /** True when the existing plan matches the input: nothing to plan. */
  upToDate: boolean;
  /** True when the batch held documents before this call. */
  existed: boolean;
}

export interface PlanCursorWrite {
  /** Input records planned once this slice is written. */
  records: number;
  /** Where the next unplanned record starts. */
  offset: number;
  /** Input records planned before this slice: the write is refused if the checkpoint moved. */
  from?: number;
  /** The run holding the planning lock: the write is refused once another run took it. */
  lockRun?: number;
}

export interface PlanProgress {
  inserted: number;
  unchanged: number;
  changed: number;
  duplicates: number;
}

export interface PlanLock {
  /** The run holding the lock: plan writes carry it, and are refused once another run took the lock. */
  readonly run: number;
  /** Extends the lock while planning continues. */
  renew(ttlMs: number): Promise<void>;
  release(): Promise<void>;
}

export interface RunStart {
  batchId: string;
  workerId: string;
  host: string;
  pid: number;
  command: string;
  /** When the process started (ms since epoch), for resume time. */
  processStartedAt: number;
  /**
   * Where `pid` means this process: processes with the same locality see each other's pids (one
   * kernel boot and one pid namespace), so a run there is known dead as soon as its process is
   * gone. Null when unknown: such a run is dead only when its lease-length silence says so.
   */
  locality?: string | null;
  /** When the process started, as the kernel counts it: a reused pid is told from the run's own. */
  pidStart?: number | null;
  /**
   * Unique per call: a second `startRun` with the same token (a retry after a lost connection)
   * returns the run the first one created instead of creating another.
   */
  token?: string;
}

export interface RunHandle {
  batchId: string;
  run: number;
  workerId: string;
}

export interface RunInfo {
  run: number;
  workerId: string;
  host: string;
  pid: number;
  command: string;
  processStartedAt: number;
  startedAt: number;
  firstClaimAt: number | null;
  lastSeenAt: number;
  /**
   * How long the run has been silent (no commit, heartbeat or start), by the store's clock (the
   * database's, for a shared store): the workers' own clocks may disagree.
   */
  silentMs: number;
  locality: string | null;
  pidStart: number | null;
  endedAt: number | null;
  exitReason: string | null;
  resumed: boolean;
  processed: number;
  skippedDone: number;
  recoveredInFlight: number;
  fencedCommits: number;
  /** Chunk texts this run sent to the embedder, and found in the embedding cache instead. */
  textsEmbedded: number;
  cacheHits: number;
}

/** A document taken by a worker, with everything needed to process it: its plan, and its state. */
export interface ClaimedDocument
  extends Pick<
    PlannedDocument,
    "seq" | "source" | "docId" | "format" | "metadata" | "content" | "loadError" | "idempotencyKey"
  > {
  row: number;
  /**
   * True when the claim left the content in the store (`CommitRequest.withContent` false): read it
   * with `Store.loadContent`, or let a worker thread read it from `Store.contentFile`.
   */
  contentDeferred?: boolean;
  /** The content's size in bytes (null when unknown or absent). */
  size: number | null;
  /** For a file: its modification time (ms since the epoch) when it was read. */
  fileMtime: number | null;
  fence: number;
  /** Failed attempts so far, across stages and runs. */
  attempts: number;
  /** Failed attempts of `failedStage` since it last succeeded. */
  stageAttempts: number;
  failedStage: StageName | null;
  /** Since when the document waits for the embeddings breaker, if it does. */
  breakerWaitSince: number | null;
  /**
   * True when chunks are staged for this document: by an earlier execution (read at claim), or by
   * this one (the store sets it when it stages progress), so completing it deletes them.
   */
  hasStaged: boolean;
  executions: number;
  /** True when committed output of an earlier key or execution exists (it must be replaced). */
  hadOutput: boolean;
  /** True when this claim took over the expired lease of another worker. */
  reclaimed: boolean;
  /** The document's content hash (see core/keys.ts). */
  contentHash?: string;
  /**
   * The prepared-text key (`preparedTextKey`) of the committed output, when that output is the
   * pipeline's normal chunks (not the fallback path's): equal to the document's own, its chunk
   * texts can be embedded again without parsing.
   */
  outputPrep?: string | null;
}

export type { StageTimings };

/** What became of one execution of a claimed document. */
export type Outcome =
  | {
      kind: "completed";
      doc: ClaimedDocument;
      /** `degraded` carries the reason the fallback path was taken. */
      degraded: ErrorInfo | null;
      chunks: Chunk[];
      startedAt: number;
      timings: StageTimings;
      /** The failed attempts after which fallback paths were taken, recorded with the commit. */
      failures?: { stage: StageName; error: ErrorInfo }[];
      /** The prepared-text key of these chunks; null (or absent) for the fallback path's chunks. */
      prep?: string | null;
    }
  | {
      kind: "retry";
      doc: ClaimedDocument;
      /** The failure, or null when the document only waits (breaker open, shutdown). */
      error: ErrorInfo | null;
      stage: StageName;
      /** Failed attempts of `stage` including this one (unchanged when the document only waits). */
      stageAttempts: number;
      notBefore: number;
      /** When the document started waiting for the breaker, if it waits for it. */
      breakerWaitSince?: number | null;
    }
  | { kind: "failed"; doc: ClaimedDocument; error: ErrorInfo; stage: StageName; startedAt: number };

/** Chunks and vectors of a large document, saved before the document completes. */
export interface StagedProgress {
  doc: ClaimedDocument;
  /** Set the first time: the texts of every chunk, in order, and whether they are fallback chunks. */
  texts?: { values: string[]; metadata: JsonObject[]; fallback: ErrorInfo | null };
  vectors: { index: number; embedding: Float32Array }[];
}

export interface StagedChunks {
  texts: string[];
  metadata: JsonObject[];
  fallback: ErrorInfo | null;
  vectors: (Float32Array | null)[];
}

export interface CommitRequest {
  run: RunHandle;
  outcomes: Outcome[];
  progress: StagedProgress[];
  /** Claim up to this many documents in the same transaction. */
  claim: number;
  /**
   * Leave the contents of claimed documents of at least this many bytes in the store (see
   * `contentDeferred`); smaller ones come with the claim. @default never
   */
  deferContentFrom?: number;
  leaseMs: number;
  now: number;
  /**
   * This run's commit number, increasing. The store records the last one with the run, so that a
   * replay can tell whether the first attempt committed.
   */
  id?: number;
  /**
   * Set when an earlier attempt of this same request may have committed (its connection was lost
   * before the answer). If it did, the outcomes it accepted are reported accepted again without
   * being written twice, and the run's counters are not added to again; if it did not, this is an
   * ordinary commit. Claims of the lost attempt are the caller's to release (`releaseUnheld`).
   */
  replay?: boolean;
  /**
   * Chunk texts sent to the embedder and found in the embedding cache since the run's last
   * commit, added to the run's counters (not again on a replay).
   */
  embedCounts?: EmbedCounts;
}

export interface EmbedCounts {
  embedded: number;
  hits: number;
}

export interface CommitResult {
  /** Per outcome: false when its fence token was stale (the commit was rejected). */
  accepted: boolean[];
  claimed: ClaimedDocument[];
  /** True when this result came from a replay (see `CommitRequest.replay`). */
  replayed?: boolean;
}

export interface DocumentSummary {
  row: number;
  source: string;
  docId: string;
  state: string;
  attempts: number;
  lastError: ErrorInfo | null;
  degradedReason: ErrorInfo | null;
  chunkCount: number | null;
  updatedAt: number | null;
}

export interface DocumentQuery {
  states?: string[];
  /** Only documents whose last error or degraded reason has this code. */
  reason?: string;
  limit?: number;
  /** Keyset paging: documents after this row id. */
  afterRow?: number;
}

/**
 * What the report needs from every document of a batch, gathered by the store in a few scans
 * into typed arrays: a million documents cost a few megabytes, not a million objects.
 */
export interface DocumentFacts {
  /** Attempts beyond the first, summed. */
  retries: number;
  /** Documents whose completed processing ran again. */
  reexecuted: number;
  executions: number;
  degradedByReason: Record<string, number>;
  /** Start of processing → commit of every settled document (done, degraded, failed). */
  durations: Float64Array;
  /** Per stage, over the completed documents that went through it. */
  stages: Record<"parse" | "clean" | "chunk" | "embed" | "write", Float64Array>;
  /** Completed documents as (commit ms since `origin`) × 65536 + run, for the timeline. */
  commits: Float64Array;
}

export interface FailureCount {
  code: string;
  count: number;
  exampleDocId: string;
  exampleMessage: string;
}

export interface StoreEvent {
  run: number | null;
  at: number;
  type: string;
  data: JsonObject;
}

export interface ExportRow {
  doc_id: string;
  source: string;
  chunk_index: number;
  chunk_count: number;
  text: string;
  idempotency_key: string;
  degraded: boolean;
  embedding_dim: number | null;
  metadata: JsonObject;
  embedding?: number[] | null;
}

/** A document whose content could not be read when it was planned, and where it came from. */
export interface ReloadCandidate {
  row: number;
  source: string;
  docId: string;
  format: DocumentFormat;
  metadata: JsonObject;
  path: string;
  loadError: ErrorInfo;
}

export interface RequeueQuery {
  failed: boolean;
  degraded: boolean;
  reason?: string;
  /** Only this document (normalized id), of any source unless `source` is given. */
  docId?: string;
  source?: string;
}

export type StoreConnectionSpec =
  | { kind: "sqlite"; file: string; durability: "full" | "normal" }
  | { kind: "postgres"; url: string };

export interface Store extends IndexStore, EmbedCacheStore {
  readonly kind: "sqlite" | "postgres";
  /** Applies migrations; safe to call from many processes at once. */
  open(): Promise<void>;
  close(): Promise<void>;

  getBatch(batchId: string): Promise<BatchInfo | null>;
  listBatches(): Promise<BatchInfo[]>;
  /** Creates the batch or starts a new plan generation when the fingerprint changed. */
  beginPlan(start: PlanStart): Promise<PlanCursor>;
  /**
   * Writes planned documents and the files skipped as not documents, and advances the plan
   * checkpoint, atomically. With `from` (records
   * planned before this slice) and `lockRun` (the planning lock's run), the write is fenced: it
   * happens only while the checkpoint is still at `from` and that run holds the lock. A slice the
   * checkpoint has already passed (a retry of a write that committed) writes nothing; a planner
   * that lost the lock, or whose checkpoint moved elsewhere, gets PLAN_LOCK_LOST. The checkpoint
   * never goes backwards.
   */
  planDocuments(
    batchId: string,
    generation: number,
    docs: PlannedDocument[],
    cursor: PlanCursorWrite,
    skipped?: SkippedFile[],
  ): Promise<PlanProgress>;
  /**
   * Marks the plan complete; skipped files of earlier plan generations are forgotten with it. With
   * `lockRun`, only while that run holds the lock (else PLAN_LOCK_LOST). When the batch's plan was
   * started with `sync: "full"`, every document the plan did not reach ends `deleted` in the same
   * transaction: its chunks leave the export and the search index, and its outbox gets the deletes
   * for every sink. Returns how many documents were deleted.
   */
  finishPlan(batchId: string, generation: number, lockRun?: number): Promise<number>;
  /** The stored documents of these identities (absent ones are left out), in no particular order. */
  knownDocuments(batchId: string, ids: { source: string; docId: string }[]): Promise<KnownDocument[]>;
  /**
   * The first step of deleting a batch: cancels it (no process works on it any more) and ends every
   * document `deleted` as `finishPlan` does, so that the outbox carries the deletes of all its
   * chunks. Returns how many documents were deleted. Calling it again deletes nothing more.
   */
  retireBatch(batchId: string, now: number): Promise<number>;
  /**
   * The last step: removes every row the batch owns (documents, chunks, search index rows, outbox,
   * sink cursors, events, failures, runs, skipped files, the batch). False when there was no batch.
   */
  purgeBatch(batchId: string): Promise<boolean>;
  /**
   * Takes the planning lock of a batch; null when another live process holds it. A lock held by
   * one of `deadRuns` (processes known to be gone) is taken over.
   */
  tryPlanLock(batchId: string, run: RunHandle, ttlMs: number, deadRuns: number[]): Promise<PlanLock | null>;

  startRun(start: RunStart): Promise<RunHandle>;
  /** Records that this run found `skipped` documents already complete and whether it resumed. */
  markRunResumed(run: RunHandle, resumed: boolean, skipped: number): Promise<void>;
  endRun(run: RunHandle, reason: string, now: number): Promise<void>;
  listRuns(batchId: string): Promise<RunInfo[]>;
  /** Puts `processing` documents of the given (dead) runs back to pending; returns how many. */
  recoverInFlight(run: RunHandle, deadRuns: number[]): Promise<number>;
  /**
   * Puts back to pending the documents leased to `run` that it does not hold (`held` rows): claims
   * of a commit whose answer was lost, which the run never learnt about. Returns how many.
   */
  releaseUnheld(run: RunHandle, held: number[]): Promise<number>;
  /** Renews the leases of documents still held; returns rows whose lease was lost. */
  renewLeases(run: RunHandle, docs: ClaimedDocument[], leaseMs: number, now: number): Promise<number[]>;

  /** Commits outcomes and staged progress, then claims more work: one transaction. */
  commit(request: CommitRequest): Promise<CommitResult>;
  loadStaged(doc: ClaimedDocument): Promise<StagedChunks | null>;
  /** A document's content, for a claim made without contents. */
  loadContent(row: number): Promise<string | null>;
  /**
   * A file other threads of this process can read contents from directly (`contents` table by
   * `row`), or null. Lets the CPU threads fetch what they parse without the main thread copying it.
   */
  readonly contentFile: string | null;
  /**
   * How another thread of this process opens its own connection to this store (the planning
   * thread), or null when it cannot (an in-memory database).
   */
  connectionSpec(): StoreConnectionSpec | null;
  /**
   * The earliest time a document of the batch may become claimable by `run`: a pending document's
   * backoff, or the lease expiry of a document another run is processing. Null when neither exists.
   */
  nextClaimableAt(run: RunHandle): Promise<number | null>;

  counts(batchId: string): Promise<StateCounts>;
  /** Files skipped as not documents by the batch's latest plan, by path. */
  listSkipped(batchId: string, limit?: number): Promise<SkippedFile[]>;
  listDocuments(batchId: string, query: DocumentQuery): Promise<DocumentSummary[]>;
  documentFacts(batchId: string, origin: number): Promise<DocumentFacts>;
  failureCounts(batchId: string): Promise<FailureCount[]>;
  events(batchId: string, types?: string[]): Promise<StoreEvent[]>;
  addEvents(batchId: string, events: StoreEvent[]): Promise<void>;
  exportChunks(batchId: string, options?: { withEmbeddings?: boolean }): AsyncIterable<ExportRow>;
  requeue(batchId: string, query: RequeueQuery, now: number): Promise<number>;
  setCancelled(batchId: string, cancelled: boolean, now: number): Promise<void>;
  /** Failed or pending documents matching the query whose `path` could not be read when planned. */
  reloadCandidates(batchId: string, query: RequeueQuery): Promise<ReloadCandidate[]>;
  /** Records the content read again for a candidate (a new key), or its new load error. */
  reloadDocument(
    row: number,
    doc: Pick<PlannedDocument, "content" | "loadError" | "contentHash" | "idempotencyKey">,
  ): Promise<void>;
}
