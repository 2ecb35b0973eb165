import { randomUUID } from "node:crypto";
import type { CommitRequest, CommitResult, RunHandle, RunStart, Store } from "../store/store.js";
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
type Method = { [K in keyof Store]: Store[K] extends (...args: never) => unknown ? K : never }[keyof Store];
/** A Store method's parameters and result, as the interface declares them: this class passes them on. */
type Args<K extends Method> = Parameters<Store[K]>;
type Result<K extends Method> = ReturnType<Store[K]>;

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

  getBatch(...args: Args<"getBatch">): Result<"getBatch"> {
    return this.retry.run("getBatch", () => this.store.getBatch(...args));
  }

  listBatches(): Result<"listBatches"> {
    return this.retry.run("listBatches", () => this.store.listBatches());
  }

  beginPlan(...args: Args<"beginPlan">): Result<"beginPlan"> {
    return this.retry.run("beginPlan", () => this.store.beginPlan(...args));
  }

  planDocuments(...args: Args<"planDocuments">): Result<"planDocuments"> {
    return this.retry.run("planDocuments", () => this.store.planDocuments(...args));
  }

  /** Safe twice: a retry after a commit finds the plan complete and nothing more to delete. */
  finishPlan(...args: Args<"finishPlan">): Result<"finishPlan"> {
    return this.retry.run("finishPlan", () => this.store.finishPlan(...args));
  }

  knownDocuments(...args: Args<"knownDocuments">): Result<"knownDocuments"> {
    return this.retry.run("knownDocuments", () => this.store.knownDocuments(...args));
  }

  /** Safe twice: documents already deleted are not deleted again. */
  retireBatch(...args: Args<"retireBatch">): Result<"retireBatch"> {
    return this.retry.run("retireBatch", () => this.store.retireBatch(...args));
  }

  /** Safe twice: a second call finds nothing to remove. */
  purgeBatch(...args: Args<"purgeBatch">): Result<"purgeBatch"> {
    return this.retry.run("purgeBatch", () => this.store.purgeBatch(...args));
  }

  tryPlanLock(...args: Args<"tryPlanLock">): Result<"tryPlanLock"> {
    return this.retry.run("tryPlanLock", () => this.store.tryPlanLock(...args));
  }

  startRun(start: RunStart): Promise<RunHandle> {
    const token = start.token ?? randomUUID();
    return this.retry.run("startRun", () => this.store.startRun({ ...start, token }));
  }

  markRunResumed(...args: Args<"markRunResumed">): Result<"markRunResumed"> {
    return this.retry.run("markRunResumed", () => this.store.markRunResumed(...args));
  }

  endRun(...args: Args<"endRun">): Result<"endRun"> {
    return this.retry.run("endRun", () => this.store.endRun(...args));
  }

  listRuns(...args: Args<"listRuns">): Result<"listRuns"> {
    return this.retry.run("listRuns", () => this.store.listRuns(...args));
  }

  recoverInFlight(...args: Args<"recoverInFlight">): Result<"recoverInFlight"> {
    return this.retry.run("recoverInFlight", () => this.store.recoverInFlight(...args));
  }

  releaseUnheld(...args: Args<"releaseUnheld">): Result<"releaseUnheld"> {
    return this.retry.run("releaseUnheld", () => this.store.releaseUnheld(...args));
  }

  renewLeases(...args: Args<"renewLeases">): Result<"renewLeases"> {
    return this.store.renewLeases(...args);
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

  loadStaged(...args: Args<"loadStaged">): Result<"loadStaged"> {
    return this.retry.run("loadStaged", () => this.store.loadStaged(...args));
  }

  loadContent(...args: Args<"loadContent">): Result<"loadContent"> {
    return this.retry.run("loadContent", () => this.store.loadContent(...args));
  }

  get contentFile(): string | null {
    return this.store.contentFile;
  }

  connectionSpec(): Result<"connectionSpec"> {
    return this.store.connectionSpec();
  }

  nextClaimableAt(...args: Args<"nextClaimableAt">): Result<"nextClaimableAt"> {
    return this.retry.run("nextClaimableAt", () => this.store.nextClaimableAt(...args));
  }

  counts(...args: Args<"counts">): Result<"counts"> {
    return this.retry.run("counts", () => this.store.counts(...args));
  }

  listSkipped(...args: Args<"listSkipped">): Result<"listSkipped"> {
    return this.retry.run("listSkipped", () => this.store.listSkipped(...args));
  }

  listDocuments(...args: Args<"listDocuments">): Result<"listDocuments"> {
    return this.retry.run("listDocuments", () => this.store.listDocuments(...args));
  }

  documentFacts(...args: Args<"documentFacts">): Result<"documentFacts"> {
    return this.retry.run("documentFacts", () => this.store.documentFacts(...args));
  }

  failureCounts(...args: Args<"failureCounts">): Result<"failureCounts"> {
    return this.retry.run("failureCounts", () => this.store.failureCounts(...args));
  }

  events(...args: Args<"events">): Result<"events"> {
    return this.retry.run("events", () => this.store.events(...args));
  }

  addEvents(...args: Args<"addEvents">): Result<"addEvents"> {
    return this.retry.run("addEvents", () => this.store.addEvents(...args), "once");
  }

  exportChunks(...args: Args<"exportChunks">): Result<"exportChunks"> {
    return this.store.exportChunks(...args);
  }

  requeue(...args: Args<"requeue">): Result<"requeue"> {
    return this.store.requeue(...args);
  }

  setCancelled(...args: Args<"setCancelled">): Result<"setCancelled"> {
    return this.retry.run("setCancelled", () => this.store.setCancelled(...args));
  }

  reloadCandidates(...args: Args<"reloadCandidates">): Result<"reloadCandidates"> {
    return this.store.reloadCandidates(...args);
  }

  reloadDocument(...args: Args<"reloadDocument">): Result<"reloadDocument"> {
    return this.store.reloadDocument(...args);
  }

  attachSinks(...args: Args<"attachSinks">): Result<"attachSinks"> {
    return this.retry.run("attachSinks", () => this.store.attachSinks(...args));
  }

  sinkCursors(...args: Args<"sinkCursors">): Result<"sinkCursors"> {
    return this.retry.run("sinkCursors", () => this.store.sinkCursors(...args));
  }

  /** A claim retried after an unknown outcome finds the lease already ours. */
  claimSink(...args: Args<"claimSink">): Result<"claimSink"> {
    return this.retry.run("claimSink", () => this.store.claimSink(...args));
  }

  readChanges(...args: Args<"readChanges">): Result<"readChanges"> {
    return this.retry.run("readChanges", () => this.store.readChanges(...args));
  }

  /** Sets the cursor to a position (fenced by the lease): the same ack twice is one ack. */
  ackSink(...args: Args<"ackSink">): Result<"ackSink"> {
    return this.retry.run("ackSink", () => this.store.ackSink(...args));
  }

  recordSinkError(...args: Args<"recordSinkError">): Result<"recordSinkError"> {
    return this.retry.run("recordSinkError", () => this.store.recordSinkError(...args));
  }

  releaseSink(...args: Args<"releaseSink">): Result<"releaseSink"> {
    return this.retry.run("releaseSink", () => this.store.releaseSink(...args));
  }

  detachSink(...args: Args<"detachSink">): Result<"detachSink"> {
    return this.store.detachSink(...args);
  }

  lookupVectors(...args: Args<"lookupVectors">): Result<"lookupVectors"> {
    return this.retry.run("lookupVectors", () => this.store.lookupVectors(...args));
  }

  storeVectors(...args: Args<"storeVectors">): Result<"storeVectors"> {
    return this.retry.run("storeVectors", () => this.store.storeVectors(...args));
  }

  loadOutputChunks(...args: Args<"loadOutputChunks">): Result<"loadOutputChunks"> {
    return this.retry.run("loadOutputChunks", () => this.store.loadOutputChunks(...args));
  }

  /** Deletes by what it finds: run twice, the second finds nothing more to delete. */
  collectGarbage(...args: Args<"collectGarbage">): Result<"collectGarbage"> {
    return this.retry.run("collectGarbage", () => this.store.collectGarbage(...args));
  }

  search(...args: Args<"search">): Result<"search"> {
    return this.retry.run("search", () => this.store.search(...args));
  }
}
