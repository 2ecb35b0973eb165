import { randomUUID } from "node:crypto";
import type { ErrorInfo, PlannedDocument, SkippedFile, StateCounts } from "../core/types.js";
import type { CachedVector, GarbageRequest, GarbageResult, OutputChunks } from "../store/embed-cache.js";
import type { ChangePage, SearchResult, SinkCursor, SinkLease, SinkOwner } from "../store/index-store.js";
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
  KnownDocument,
  PlanCursor,
  PlanCursorWrite,
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
} from "../store/store.js";
import type { StoreRetry } from "./store-retry.js";

/**
 * A store whose calls ride out transient failures (see StoreRetry): what a run uses, so that a
 * restart of the database or a busy SQLite file costs a pause, not the run.
 *
 * Every call retried after an unknown outcome is safe to run twice: reads; writes that set a
 * value (`endRun`, `markRunResumed`, `finishPlan`); writes fenced by a token the store checks
 * (`planDocuments` by the plan checkpoint and lock, `commit` by document fences and the run's
 * last commit number, `startRun` by its token; `storeVectors` keeps an entry already stored). Only `addEvents`, which appends, is retried only
 * when the failure certainly happened before it took effect. `renewLeases` is not retried here:
 * a heartbeat that fails is sent again at the next tick, and leases outlast several ticks.
 */
export class ResilientStore implements Store {
  readonly kind: Store["kind"];

  constructor(
    private readonly store: Store,
    private readonly retry: StoreRetry,
  ) {
    this.kind = store.kind;
  }

  open(): Promise<void> {
    return this.retry.run("open", () => this.store.open());
  }

  close(): Promise<void> {
    return this.store.close();
  }

  getBatch(batchId: string): Promise<BatchInfo | null> {
    return this.retry.run("getBatch", () => this.store.getBatch(batchId));
  }

  listBatches(): Promise<BatchInfo[]> {
    return this.retry.run("listBatches", () => this.store.listBatches());
  }

  beginPlan(start: PlanStart): Promise<PlanCursor> {
    return this.retry.run("beginPlan", () => this.store.beginPlan(start));
  }

  planDocuments(
    batchId: string,
    generation: number,
    docs: PlannedDocument[],
    cursor: PlanCursorWrite,
    skipped?: SkippedFile[],
  ): Promise<PlanProgress> {
    return this.retry.run("planDocuments", () =>
      this.store.planDocuments(batchId, generation, docs, cursor, skipped),
    );
  }

  /** Safe twice: a retry after a commit finds the plan complete and nothing more to delete. */
  finishPlan(batchId: string, generation: number, lockRun?: number): Promise<number> {
    return this.retry.run("finishPlan", () => this.store.finishPlan(batchId, generation, lockRun));
  }

  knownDocuments(batchId: string, ids: { source: string; docId: string }[]): Promise<KnownDocument[]> {
    return this.retry.run("knownDocuments", () => this.store.knownDocuments(batchId, ids));
  }

  /** Safe twice: documents already deleted are not deleted again. */
  retireBatch(batchId: string, now: number): Promise<number> {
    return this.retry.run("retireBatch", () => this.store.retireBatch(batchId, now));
  }

  /** Safe twice: a second call finds nothing to remove. */
  purgeBatch(batchId: string): Promise<boolean> {
    return this.retry.run("purgeBatch", () => this.store.purgeBatch(batchId));
  }

  tryPlanLock(batchId: string, run: RunHandle, ttlMs: number, deadRuns: number[]): Promise<PlanLock | null> {
    return this.retry.run("tryPlanLock", () => this.store.tryPlanLock(batchId, run, ttlMs, deadRuns));
  }

  startRun(start: RunStart): Promise<RunHandle> {
    const token = start.token ?? randomUUID();
    return this.retry.run("startRun", () => this.store.startRun({ ...start, token }));
  }

  markRunResumed(run: RunHandle, resumed: boolean, skipped: number): Promise<void> {
    return this.retry.run("markRunResumed", () => this.store.markRunResumed(run, resumed, skipped));
  }

  endRun(run: RunHandle, reason: string, now: number): Promise<void> {
    return this.retry.run("endRun", () => this.store.endRun(run, reason, now));
  }

  listRuns(batchId: string): Promise<RunInfo[]> {
    return this.retry.run("listRuns", () => this.store.listRuns(batchId));
  }

  recoverInFlight(run: RunHandle, deadRuns: number[]): Promise<number> {
    return this.retry.run("recoverInFlight", () => this.store.recoverInFlight(run, deadRuns));
  }

  releaseUnheld(run: RunHandle, held: number[]): Promise<number> {
    return this.retry.run("releaseUnheld", () => this.store.releaseUnheld(run, held));
  }

  renewLeases(run: RunHandle, docs: ClaimedDocument[], leaseMs: number, now: number): Promise<number[]> {
    return this.store.renewLeases(run, docs, leaseMs, now);
  }

  /**
   * A commit sent again after its connection was lost is a replay: the store then reports what
   * the first attempt accepted instead of writing it twice (see CommitRequest.replay), and the
   * caller releases the claims that attempt made (`replayed`).
   */
  async commit(request: CommitRequest): Promise<CommitResult> {
    let replayed = false;
    const result = await this.retry.run("commit", (replay) => {
      replayed = replay;
      return this.store.commit(replay ? { ...request, replay: true } : request);
    });
    return replayed ? { ...result, replayed: true } : result;
  }

  loadStaged(doc: ClaimedDocument): Promise<StagedChunks | null> {
    return this.retry.run("loadStaged", () => this.store.loadStaged(doc));
  }

  loadContent(row: number): Promise<string | null> {
    return this.retry.run("loadContent", () => this.store.loadContent(row));
  }

  get contentFile(): string | null {
    return this.store.contentFile;
  }

  connectionSpec(): StoreConnectionSpec | null {
    return this.store.connectionSpec();
  }

  nextClaimableAt(run: RunHandle): Promise<number | null> {
    return this.retry.run("nextClaimableAt", () => this.store.nextClaimableAt(run));
  }

  counts(batchId: string): Promise<StateCounts> {
    return this.retry.run("counts", () => this.store.counts(batchId));
  }

  listSkipped(batchId: string, limit?: number): Promise<SkippedFile[]> {
    return this.retry.run("listSkipped", () => this.store.listSkipped(batchId, limit));
  }

  listDocuments(batchId: string, query: DocumentQuery): Promise<DocumentSummary[]> {
    return this.retry.run("listDocuments", () => this.store.listDocuments(batchId, query));
  }

  documentFacts(batchId: string, origin: number): Promise<DocumentFacts> {
    return this.retry.run("documentFacts", () => this.store.documentFacts(batchId, origin));
  }

  failureCounts(batchId: string): Promise<FailureCount[]> {
    return this.retry.run("failureCounts", () => this.store.failureCounts(batchId));
  }

  events(batchId: string, types?: string[]): Promise<StoreEvent[]> {
    return this.retry.run("events", () => this.store.events(batchId, types));
  }

  addEvents(batchId: string, events: StoreEvent[]): Promise<void> {
    return this.retry.run("addEvents", () => this.store.addEvents(batchId, events), "once");
  }

  exportChunks(batchId: string, options?: { withEmbeddings?: boolean }): AsyncIterable<ExportRow> {
    return this.store.exportChunks(batchId, options);
  }

  requeue(batchId: string, query: RequeueQuery, now: number): Promise<number> {
    return this.store.requeue(batchId, query, now);
  }

  setCancelled(batchId: string, cancelled: boolean, now: number): Promise<void> {
    return this.retry.run("setCancelled", () => this.store.setCancelled(batchId, cancelled, now));
  }

  reloadCandidates(batchId: string, query: RequeueQuery): Promise<ReloadCandidate[]> {
    return this.store.reloadCandidates(batchId, query);
  }

  reloadDocument(
    row: number,
    doc: Pick<PlannedDocument, "content" | "loadError" | "contentHash" | "idempotencyKey">,
  ): Promise<void> {
    return this.store.reloadDocument(row, doc);
  }

  attachSinks(batchId: string, uris: string[], now: number): Promise<void> {
    return this.retry.run("attachSinks", () => this.store.attachSinks(batchId, uris, now));
  }

  sinkCursors(batchId: string): Promise<SinkCursor[]> {
    return this.retry.run("sinkCursors", () => this.store.sinkCursors(batchId));
  }

  /** A claim retried after an unknown outcome finds the lease already ours. */
  claimSink(
    batchId: string,
    uri: string,
    owner: SinkOwner,
    leaseMs: number,
    deadOwners: string[],
  ): Promise<SinkLease | null> {
    return this.retry.run("claimSink", () => this.store.claimSink(batchId, uri, owner, leaseMs, deadOwners));
  }

  readChanges(batchId: string, afterSeq: number, limit: number): Promise<ChangePage> {
    return this.retry.run("readChanges", () => this.store.readChanges(batchId, afterSeq, limit));
  }

  /** Sets the cursor to a position (fenced by the lease): the same ack twice is one ack. */
  ackSink(lease: SinkLease, throughSeq: number, leaseMs: number): Promise<boolean> {
    return this.retry.run("ackSink", () => this.store.ackSink(lease, throughSeq, leaseMs));
  }

  recordSinkError(lease: SinkLease, error: ErrorInfo): Promise<void> {
    return this.retry.run("recordSinkError", () => this.store.recordSinkError(lease, error));
  }

  releaseSink(lease: SinkLease): Promise<void> {
    return this.retry.run("releaseSink", () => this.store.releaseSink(lease));
  }

  detachSink(batchId: string, uri: string): Promise<boolean> {
    return this.store.detachSink(batchId, uri);
  }

  lookupVectors(layer: string, hashes: string[]): Promise<Map<string, Float32Array>> {
    return this.retry.run("lookupVectors", () => this.store.lookupVectors(layer, hashes));
  }

  storeVectors(layer: string, entries: CachedVector[], now: number): Promise<number> {
    return this.retry.run("storeVectors", () => this.store.storeVectors(layer, entries, now));
  }

  loadOutputChunks(row: number): Promise<OutputChunks | null> {
    return this.retry.run("loadOutputChunks", () => this.store.loadOutputChunks(row));
  }

  /** Deletes by what it finds: run twice, the second finds nothing more to delete. */
  collectGarbage(request: GarbageRequest): Promise<GarbageResult> {
    return this.retry.run("collectGarbage", () => this.store.collectGarbage(request));
  }

  search(batchId: string, vector: Float32Array, k: number): Promise<SearchResult> {
    return this.retry.run("search", () => this.store.search(batchId, vector, k));
  }
}
