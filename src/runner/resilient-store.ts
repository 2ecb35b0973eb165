import { randomUUID } from "node:crypto";
import type { CommitRequest, CommitResult, RunHandle, RunStart, Store } from "../store/store.js";
import type { RetryMode, StoreRetry } from "./store-retry.js";

type Method = { [K in keyof Store]: Store[K] extends (...args: never) => unknown ? K : never }[keyof Store];
/** The calls passed on as HANDLING says; `startRun` and `commit` have code of their own. */
type Passed = Exclude<Method, "startRun" | "commit">;

/**
 * How each call rides out an outage: retried through it (`fenced` or `once`, see RetryMode), or
 * passed on as it is (`direct`). A new Store method must be given its line here.
 *
 * Every call retried after an unknown outcome is safe to run twice: reads; writes that set a
 * value (`endRun`, `markRunResumed`, `finishPlan`); writes fenced by a token the store checks
 * (`planDocuments` by the plan checkpoint and lock, `commit` by document fences and the run's
 * last commit number, `startRun` by its token; `storeVectors` keeps an entry already stored).
 * Only `addEvents`, which appends, is retried only when the failure certainly happened before it
 * took effect. `renewLeases` is not retried here: a heartbeat that fails is sent again at the next
 * tick, and leases outlast several ticks.
 */
const HANDLING: Record<Passed, RetryMode | "direct"> = {
  open: "fenced",
  close: "direct",
  getBatch: "fenced",
  listBatches: "fenced",
  beginPlan: "fenced",
  planDocuments: "fenced",
  // A retry after a commit finds the plan complete and nothing more to delete.
  finishPlan: "fenced",
  knownDocuments: "fenced",
  // Documents already deleted are not deleted again.
  retireBatch: "fenced",
  // A second call finds nothing to remove.
  purgeBatch: "fenced",
  tryPlanLock: "fenced",
  markRunResumed: "fenced",
  endRun: "fenced",
  listRuns: "fenced",
  recoverInFlight: "fenced",
  releaseUnheld: "fenced",
  renewLeases: "direct",
  loadStaged: "fenced",
  loadContent: "fenced",
  connectionSpec: "direct",
  nextClaimableAt: "fenced",
  counts: "fenced",
  listSkipped: "fenced",
  listDocuments: "fenced",
  documentFacts: "fenced",
  failureCounts: "fenced",
  events: "fenced",
  addEvents: "once",
  exportChunks: "direct",
  requeue: "direct",
  setCancelled: "fenced",
  reloadCandidates: "direct",
  reloadDocument: "direct",
  attachSinks: "fenced",
  sinkCursors: "fenced",
  // A claim retried after an unknown outcome finds the lease already ours.
  claimSink: "fenced",
  readChanges: "fenced",
  // Sets the cursor to a position (fenced by the lease): the same ack twice is one ack.
  ackSink: "fenced",
  recordSinkError: "fenced",
  releaseSink: "fenced",
  detachSink: "direct",
  lookupVectors: "fenced",
  storeVectors: "fenced",
  loadOutputChunks: "fenced",
  // Deletes by what it finds: run twice, the second finds nothing more to delete.
  collectGarbage: "fenced",
  search: "fenced",
};

/** Holds the store and the retry; its prototype gets one method per line of HANDLING, below. */
class PassingStore {
  constructor(
    protected readonly store: Store,
    protected readonly retry: StoreRetry,
  ) {}
}

for (const [name, handling] of Object.entries(HANDLING) as [Passed, RetryMode | "direct"][]) {
  // Writable and configurable, as a method written in the class would be.
  Object.defineProperty(PassingStore.prototype, name, {
    writable: true,
    configurable: true,
    value(this: PassingStore, ...args: unknown[]) {
      const call = () =>
        (this.store[name] as (...args: unknown[]) => Promise<unknown>).apply(this.store, args);
      return handling === "direct" ? call() : this.retry.run(name, call, handling);
    },
  });
}

/** PassingStore as the loop above made it: with every Store method of HANDLING. */
const Passing = PassingStore as new (store: Store, retry: StoreRetry) => PassingStore & Pick<Store, Passed>;

/**
 * A store whose calls ride out transient failures (see StoreRetry): what a run uses, so that a
 * restart of the database or a busy SQLite file costs a pause, not the run. How each call is
 * handled is HANDLING's; the calls below add to what they pass on.
 */
export class ResilientStore extends Passing implements Store {
  readonly kind: Store["kind"];

  constructor(store: Store, retry: StoreRetry) {
    super(store, retry);
    this.kind = store.kind;
  }

  get contentFile(): string | null {
    return this.store.contentFile;
  }

  /** Retried with the same token, which makes a retry find the run its first attempt started. */
  startRun(start: RunStart): Promise<RunHandle> {
    const token = start.token ?? randomUUID();
    return this.retry.run("startRun", () => this.store.startRun({ ...start, token }));
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
}
