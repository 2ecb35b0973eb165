import { DocbatchError } from "../core/errors.js";
import { Interrupt, type Interruptible } from "../core/interrupt.js";
import type {
  ClaimedDocument,
  EmbedCounts,
  Outcome,
  RunHandle,
  StagedProgress,
  Store,
} from "../store/store.js";
import { Interrupted } from "./process-document.js";

export interface EngineOptions {
  /** Documents processed at once. @default 8 */
  concurrency: number;
  /**
   * Documents claimed ahead of free slots, so that claims and commits of many documents share one
   * transaction. They count as claimed (processing) in the store. @default max(concurrency, 32)
   */
  prefetch: number;
  /**
   * Documents claimed ahead at most when documents finish fast (see `claimAhead`): enough for the
   * longest group delay at the rate of the recent commits, between `prefetch` and this.
   * @default prefetch (a fixed claim-ahead)
   */
  maxPrefetch?: number;
  /** How long a claim is held without a heartbeat, in ms. @default 30_000 */
  leaseMs: number;
  /** How often leases are renewed, in ms. @default leaseMs / 3 */
  heartbeatMs: number;
  /** Shortest wait of a finished document for its group commit, in ms. @default 2 */
  groupDelayMs: number;
  /** Longest wait of a finished document for its group commit when commits are expensive, in ms. @default 50 */
  maxGroupDelayMs: number;
  /** Outcomes that force a commit at once. @default 256 */
  groupMax: number;
  /** Idle wait before asking the store for work again, in ms (jittered). @default 250 */
  pollMs: number;
  /** Per-document time limit, in ms; 0 for none. @default 0 */
  docTimeoutMs: number;
  /** End the run when more than this share of settled documents failed. */
  maxFailRate?: number;
  /**
   * True while the plan is still being written (by this process or another): the run does not
   * finish when it runs out of work.
   */
  planning?: () => boolean;
  /** True while this process writes the plan: new documents arrive any moment, so look often. */
  planWriting?: () => boolean;
  /** Claims leave contents of this size and more in the store, for the CPU threads to read. */
  deferContentFrom?: number;
  /** Texts embedded and found cached since the last commit, added to the run's counters by it. */
  embedCounts?: () => EmbedCounts;
  /**
   * Texts that documents waiting only on the embeddings service may hold while their slots go to
   * other documents (see Slot). 0: a document keeps its slot until it finishes. @default 0
   */
  waitingRoomTexts?: number;
}

/** A running document's place among the `concurrency` documents at work. */
export interface Slot {
  /**
   * Gives the slot to the next document, for this one to wait for the vectors of `texts` texts:
   * at once while the waiting room has space for them, else once it has (the document holds its
   * slot meanwhile, and should send nothing before). Keeps the slot, at once, when there is no
   * waiting room or the texts would never fit; settles at once when `signal` aborts.
   */
  park(texts: number, signal: Interruptible): Promise<void>;
}

export interface EngineStats {
  claimed: number;
  completed: number;
  degraded: number;
  failed: number;
  retriesScheduled: number;
  waiting: number;
  fenced: number;
  inFlight: number;
  firstClaimAt: number | null;
}

export interface EngineHooks {
  onSettled?(outcome: Outcome, accepted: boolean): void;
  onClaimed?(docs: ClaimedDocument[]): void;
  /** Claims of a commit whose answer was lost, put back to pending. */
  onReleased?(count: number): void;
}

export type StopReason = "finished" | "interrupted" | "fail-budget";

type Processor = (doc: ClaimedDocument, signal: Interruptible, slot: Slot) => Promise<Outcome>;

interface Running {
  doc: ClaimedDocument;
  interrupt: Interrupt;
}

/**
 * Pumps documents from a store through the pipeline. Up to `concurrency` documents run at once;
 * each finished document waits a few ms so that its commit, the commits of its neighbours and the
 * claim of the next documents happen in one store transaction. Documents waiting out a backoff are
 * back in the store, not in a slot, so healthy documents keep flowing past sick ones.
 *
 * A document that has nothing left to do but wait for its vectors may give its slot to the next one
 * (up to `waitingRoomTexts` texts waiting so): with a slow endpoint, documents of one chunk then
 * fill whole requests instead of holding every slot while a few texts are on their way.
 */
export class Engine {
  private readonly queue: ClaimedDocument[] = [];
  private readonly running = new Map<number, Running>();
  /** Running documents that gave their slot up while waiting for vectors, with their texts. */
  private readonly parked = new Map<number, number>();
  private parkedTexts = 0;
  /** Documents waiting for space in the waiting room, in order. */
  private readonly admissions: { row: number; texts: number; admit: () => void }[] = [];
  private outbox: { outcome: Outcome; readyAt: number }[] = [];
  private progress: StagedProgress[] = [];
  private claimAgainAt = 0;
  private lastFlushAt = 0;
  private lastFlushCost = 0;
  /** Documents settled per ms over the recent commits (a moving average). */
  private settleRate = 0;
  private stopping: StopReason | null = null;
  private wakeUp: (() => void) | null = null;
  private readonly stats: EngineStats = {
    claimed: 0,
    completed: 0,
    degraded: 0,
    failed: 0,
    retriesScheduled: 0,
    waiting: 0,
    fenced: 0,
    inFlight: 0,
    firstClaimAt: null,
  };
  private waitingRows = new Set<number>();
  /** Commits of this run so far: each request carries its number (see CommitRequest.id). */
  private commits = 0;
  /** The heartbeat in flight, if any: one at a time, and the run waits for it before it ends. */
  private beat: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly handle: RunHandle,
    private readonly processor: Processor,
    private readonly options: EngineOptions,
    private readonly hooks: EngineHooks = {},
    private readonly clock: () => number = Date.now,
  ) {}

  get snapshot(): EngineStats {
    return { ...this.stats, waiting: this.waitingRows.size, inFlight: this.running.size };
  }

  /** Queues progress of a running document for the next commit. */
  saveProgress(progress: StagedProgress): void {
    this.progress.push(progress);
    this.wake();
  }

  /** Stops claiming; running documents get `graceMs` to finish, then are handed back. */
  stop(reason: StopReason, graceMs: number): void {
    if (this.stopping) return;
    this.stopping = reason;
    this.wake();
    const timer = setTimeout(() => {
      for (const r of this.running.values()) r.interrupt.abort(new Interrupted("shutdown"));
    }, graceMs);
    timer.unref();
  }

  /** Renews the leases of held documents now (after the store was away), unless a renewal runs. */
  heartbeatNow(): void {
    this.beat ??= this.heartbeat().finally(() => {
      this.beat = null;
    });
  }

  async run(): Promise<StopReason> {
    const heartbeat = setInterval(() => this.heartbeatNow(), this.options.heartbeatMs);
    heartbeat.unref();
    try {
      for (;;) {
        this.startQueued();
        if (this.stopping) this.releaseQueued();
        const want = this.claimWanted();
        if (this.shouldFlush(want)) {
          await this.flush(want);
          // Documents, commits and claims can chain as microtasks forever (the local embedder
          // and SQLite never wait for I/O); yield so timers, signals and heartbeats get their turn.
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        if (this.idle()) {
          if (this.stopping) return this.stopping;
          const next = await this.store.nextClaimableAt(this.handle);
          if (next === null && !this.options.planning?.()) return "finished";
          const wait =
            next === null ? this.pollMs() : Math.min(Math.max(0, next - this.clock()), this.pollMs());
          await this.sleep(wait);
          this.claimAgainAt = 0;
          continue;
        }
        const pending = this.outbox.length > 0 || this.progress.length > 0;
        const now = this.clock();
        const claimIn = this.claimAgainAt > now ? this.claimAgainAt - now : this.options.pollMs;
        await this.sleep(
          Math.max(
            1,
            Math.min(pending ? this.lastFlushAt + this.groupDelay() - now : this.options.pollMs, claimIn),
          ),
        );
      }
    } finally {
      clearInterval(heartbeat);
      await this.beat;
    }
  }

  private idle(): boolean {
    return (
      this.running.size === 0 &&
      this.queue.length === 0 &&
      this.outbox.length === 0 &&
      this.progress.length === 0
    );
  }

  /** Running documents that hold a slot. */
  private get working(): number {
    return this.running.size - this.parked.size;
  }

  private claimWanted(): number {
    if (this.stopping || this.clock() < this.claimAgainAt) return 0;
    const target = this.options.concurrency + this.claimAhead() + this.parked.size;
    return Math.max(0, target - this.running.size - this.queue.length);
  }

  /**
   * Documents claimed ahead of free slots. A commit happens when the claimed documents run out, so
   * documents that finish in well under a millisecond (one-line records against a fast endpoint)
   * would commit every `prefetch` documents, each commit a sync of the store: 69 commits for
   * 10,000 of them. Claiming what the run settles in the longest group delay lets the delay space
   * the commits instead (28 commits, 7% less time). Slow documents keep `prefetch`: what one
   * process holds ahead, which another process sharing the batch cannot take, stays a few tens of
   * milliseconds of work.
   */
  private claimAhead(): number {
    const { prefetch, maxPrefetch = prefetch, maxGroupDelayMs } = this.options;
    return Math.min(maxPrefetch, Math.max(prefetch, Math.ceil(this.settleRate * maxGroupDelayMs)));
  }

  private shouldFlush(want: number): boolean {
    const pending = this.outbox.length + this.progress.length;
    if (pending >= this.options.groupMax) return true;
    // Out of work to start: claim now (with whatever is finished).
    if (want > 0 && this.queue.length === 0 && this.working < this.options.concurrency) return true;
    if (pending === 0) return false;
    if (this.running.size === 0 && this.queue.length === 0) return true;
    return this.clock() - this.lastFlushAt >= this.groupDelay();
  }

  /**
   * How long finished documents may wait for their group commit. A commit costs a roughly fixed
   * amount (page writes, a sync) plus a little per document, so commits are spaced by a multiple
   * of what the last one cost: cheap commits go almost at once (an I/O-bound pipeline loses
   * almost nothing to a crash), expensive ones gather more documents (a CPU-bound pipeline spends
   * at most about a tenth of its time committing). Staged progress of a large document stands for
   * embedding requests already paid for, and a crash would send them again: it goes at the
   * shortest delay (it comes from documents that wait on the embeddings service, where commits
   * are cheap by comparison).
   */
  private groupDelay(): number {
    if (this.progress.length > 0) return this.options.groupDelayMs;
    return Math.min(
      this.options.maxGroupDelayMs,
      Math.max(this.options.groupDelayMs, 8 * this.lastFlushCost),
    );
  }

  private startQueued(): void {
    while (!this.stopping && this.working < this.options.concurrency && this.queue.length > 0) {
      const doc = this.queue.shift()!;
      const interrupt = new Interrupt();
      this.running.set(doc.row, { doc, interrupt });
      const timer =
        this.options.docTimeoutMs > 0
          ? setTimeout(
              () =>
                interrupt.abort(
                  new DocbatchError(
                    "DOC_TIMEOUT",
                    `processing took longer than ${this.options.docTimeoutMs} ms`,
                  ),
                ),
              this.options.docTimeoutMs,
            )
          : null;
      this.processor(doc, interrupt, this.slotOf(doc.row))
        .catch((err: unknown): Outcome => {
          const message = err instanceof Error ? err.message : String(err);
          return {
            kind: "retry",
            doc,
            error: { code: "INTERNAL", message },
            stage: doc.failedStage ?? "parse",
            stageAttempts: doc.stageAttempts + 1,
            notBefore: this.clock() + 1_000,
          };
        })
        .then((outcome) => {
          if (timer) clearTimeout(timer);
          this.running.delete(doc.row);
          this.unpark(doc.row);
          this.outbox.push({ outcome, readyAt: this.clock() });
          this.wake();
        });
    }
  }

  private slotOf(row: number): Slot {
    return {
      park: (texts, signal) => {
        const room = this.options.waitingRoomTexts ?? 0;
        if (this.parked.has(row) || texts > room || signal.aborted) return Promise.resolve();
        // Room now and no one ahead: in at once, without a listener or a promise of its own.
        if (this.admissions.length === 0 && this.parkedTexts + texts <= room) {
          this.enter(row, texts);
          return Promise.resolve();
        }
        return new Promise<void>((resolve) => {
          const admission = {
            row,
            texts,
            admit: () => {
              signal.removeEventListener("abort", onAbort);
              resolve();
            },
          };
          const onAbort = () => {
            const i = this.admissions.indexOf(admission);
            if (i >= 0) this.admissions.splice(i, 1);
            resolve();
          };
          signal.addEventListener("abort", onAbort, { once: true });
          this.admissions.push(admission);
          this.admit();
        });
      },
    };
  }

  /** Lets waiting documents into the waiting room, in order, while it has space. */
  private admit(): void {
    const room = this.options.waitingRoomTexts ?? 0;
    while (this.admissions.length > 0 && this.parkedTexts + this.admissions[0]!.texts <= room) {
      const { row, texts, admit } = this.admissions.shift()!;
      admit();
      this.enter(row, texts);
    }
  }

  /** A document enters the waiting room: its slot goes to the next one. */
  private enter(row: number, texts: number): void {
    this.parked.set(row, texts);
    this.parkedTexts += texts;
    // After the admitted document went on: it sends its texts before the next one starts.
    queueMicrotask(() => this.wake());
  }

  private unpark(row: number): void {
    const texts = this.parked.get(row);
    if (texts === undefined) return;
    this.parked.delete(row);
    this.parkedTexts -= texts;
    this.admit();
  }

  /** Documents claimed but not started go back to pending untouched when the run stops. */
  private releaseQueued(): void {
    for (const doc of this.queue.splice(0)) {
      const stage = doc.failedStage ?? "parse";
      this.outbox.push({
        outcome: { kind: "retry", doc, error: null, stage, stageAttempts: doc.stageAttempts, notBefore: 0 },
        readyAt: this.clock(),
      });
    }
  }

  private async flush(want: number): Promise<void> {
    const batch = this.outbox;
    this.outbox = [];
    const progress = this.progress;
    this.progress = [];
    const now = this.clock();
    const since = now - this.lastFlushAt;
    if (batch.length > 0 && since > 0 && this.lastFlushAt > 0) {
      this.settleRate =
        this.settleRate === 0 ? batch.length / since : (this.settleRate + batch.length / since) / 2;
    }
    this.lastFlushAt = now;
    const outcomes = batch.map(({ outcome, readyAt }) => {
      if (outcome.kind === "completed") outcome.timings.write = now - readyAt;
      return outcome;
    });
    this.commits += 1;
    const result = await this.store.commit({
      run: this.handle,
      outcomes,
      progress,
      claim: want,
      ...(this.options.deferContentFrom !== undefined
        ? { deferContentFrom: this.options.deferContentFrom }
        : {}),
      leaseMs: this.options.leaseMs,
      now,
      id: this.commits,
      ...(this.options.embedCounts ? { embedCounts: this.options.embedCounts() } : {}),
    });
    this.lastFlushCost = this.clock() - now;
    if (result.replayed) await this.releaseUnheld(result.claimed);
    outcomes.forEach((outcome, i) => {
      this.settled(outcome, result.accepted[i] ?? false);
    });
    if (result.claimed.length > 0) {
      this.stats.firstClaimAt ??= now;
      this.stats.claimed += result.claimed.length;
      for (const doc of result.claimed) this.waitingRows.delete(doc.row);
      this.queue.push(...result.claimed);
      this.hooks.onClaimed?.(result.claimed);
    }
    if (result.claimed.length < want) this.claimAgainAt = now + this.pollMs();
    this.checkFailBudget();
  }

  /**
   * After a commit was replayed, the lost attempt may have claimed documents this run never heard
   * of: they are leased to it, so no other run takes them before the lease ends. Everything the
   * run does hold is known here (the flush loop runs one commit at a time), so the rest goes back.
   */
  private async releaseUnheld(claimed: ClaimedDocument[]): Promise<void> {
    const held = [
      ...this.running.keys(),
      ...this.queue.map((d) => d.row),
      ...this.outbox.map((o) => o.outcome.doc.row),
      ...claimed.map((d) => d.row),
    ];
    const released = await this.store.releaseUnheld(this.handle, held);
    if (released > 0) this.hooks.onReleased?.(released);
  }

  private settled(outcome: Outcome, accepted: boolean): void {
    if (!accepted) this.stats.fenced += 1;
    else if (outcome.kind === "completed") {
      if (outcome.degraded) this.stats.degraded += 1;
      else this.stats.completed += 1;
    } else if (outcome.kind === "failed") this.stats.failed += 1;
    else if (outcome.error || outcome.breakerWaitSince || outcome.notBefore > 0) {
      this.stats.retriesScheduled += outcome.error ? 1 : 0;
      this.waitingRows.add(outcome.doc.row);
      this.claimAgainAt = Math.min(this.claimAgainAt, outcome.notBefore);
    }
    this.hooks.onSettled?.(outcome, accepted);
  }

  private checkFailBudget(): void {
    const rate = this.options.maxFailRate;
    if (rate === undefined) return;
    const settled = this.stats.completed + this.stats.degraded + this.stats.failed;
    if (settled >= 20 && this.stats.failed / settled > rate) this.stop("fail-budget", 0);
  }

  private async heartbeat(): Promise<void> {
    const held = [...this.queue, ...[...this.running.values()].map((r) => r.doc)];
    if (held.length === 0) return;
    try {
      const lost = await this.store.renewLeases(this.handle, held, this.options.leaseMs, this.clock());
      for (const row of lost) this.running.get(row)?.interrupt.abort(new Interrupted("lease lost"));
    } catch {
      // A missed heartbeat is retried at the next tick; the lease covers several ticks.
    }
  }

  /** Idle polling: jittered, and brief while this process is still planning new documents. */
  private pollMs(): number {
    const writing = this.options.planWriting ?? this.options.planning;
    return writing?.() ? 10 : this.jittered(this.options.pollMs);
  }

  private jittered(ms: number): number {
    return Math.round(ms * (0.75 + Math.random() * 0.5));
  }

  private wake(): void {
    const resolve = this.wakeUp;
    this.wakeUp = null;
    resolve?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = null;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
