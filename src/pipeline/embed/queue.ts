import { atEndOfTurn } from "../../core/end-of-turn.js";
import { failureKind, toDocbatchError } from "../../core/errors.js";
import type { Interruptible } from "../../core/interrupt.js";
import type { Embedder } from "./embedder.js";

interface Submission {
  texts: string[];
  signal: Interruptible;
  resolve: (vectors: Float32Array[]) => void;
  reject: (err: unknown) => void;
  done: boolean;
  /** Removed from `signal` once the submission settles, so none pile up on a document's signal. */
  onAbort: () => void;
  /** Sent in a request of its own: a shared request it was in was refused for good. */
  alone: boolean;
  /** The request it is in flight in, if any. */
  request: Request | null;
}

/**
 * A request in flight, with the standard AbortSignal the embedder gets (documents carry a lighter
 * signal of their own): cancelled once every document whose texts it holds is abandoned.
 */
interface Request {
  controller: AbortController;
  /** Members not abandoned yet. */
  left: number;
}

/**
 * The rejection of a document whose texts shared a request that failed, when the failure was
 * counted against another document of that request (the one whose texts led it). One failed
 * request is one failed attempt, as the service counts it; the other documents try again after a
 * backoff without spending an attempt.
 */
export class SharedRequestFailed extends Error {
  constructor(readonly failure: unknown) {
    super("a shared embedding request failed");
  }
}

/** Submissions looked at to fill a request (the waiting list can hold a thousand). */
const FIRST_FIT_SCAN = 256;

/**
 * The embedding requests of a run. At most `maxInFlight` requests are in flight. Submissions are
 * sent at the end of the turn of the event loop that made them, the texts of several documents in
 * one request (up to `batchSize`): the documents a group commit claims reach their embedding in
 * the same turn, and share full requests instead of leaving one by one while slots are free
 * (10,000 one-sentence documents: 313 requests instead of 724, 6% less wall clock). Texts
 * submitted while every slot is busy wait, and a slot freed by an answer sends them the same way,
 * at the end of the turn that read the answer.
 *
 * A shared request that fails is one failed attempt: the first document of the request gets the
 * error, the others a `SharedRequestFailed`. A shared request the service refuses for good (a
 * 4xx) is split: each of its documents is sent alone, so only the one at fault is refused.
 */
export class EmbedQueue {
  private readonly waiting: Submission[] = [];
  private inFlight = 0;
  /** Sends what waits once this turn of the event loop has submitted all it will. */
  private readonly schedule = atEndOfTurn(() => this.dispatch());

  constructor(
    private readonly embedder: Embedder,
    private readonly batchSize: number,
    private readonly maxInFlight: number,
    /**
     * Runs before requests are sent: the run writes the answers it holds to its embedding cache
     * (RunEmbedCache.flush). With it, a slot freed by an answer is filled at the end of the turn
     * that read the answer, once its documents have remembered it; so when a request leaves, the
     * answers read before it are written, and a crash costs at most the texts of `maxInFlight`
     * requests. Without it (nothing to write: the built-in embedder), the slot is filled at once.
     */
    private readonly beforeSend?: () => void,
  ) {}

  /** Requests in flight now (for progress and benchmarks). */
  get active(): number {
    return this.inFlight;
  }

  embed(texts: string[], signal: Interruptible): Promise<Float32Array[]> {
    if (texts.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      signal.throwIfAborted();
      // An abandoned document stops waiting at once; a request it shares goes on for the others.
      const submission: Submission = {
        texts,
        signal,
        resolve,
        reject,
        done: false,
        alone: false,
        request: null,
        // The one listener a submission puts on its document's signal: it leaves the waiting
        // list, or counts down the request it is in.
        onAbort: () => {
          const i = this.waiting.indexOf(submission);
          if (i >= 0) this.waiting.splice(i, 1);
          const request = submission.request;
          if (request !== null && --request.left === 0) request.controller.abort(signal.reason);
          this.settle(submission, () => reject(signal.reason));
        },
      };
      signal.addEventListener("abort", submission.onAbort, { once: true });
      this.waiting.push(submission);
      this.schedule();
    });
  }

  private dispatch(): void {
    if (this.inFlight >= this.maxInFlight || this.waiting.length === 0) return;
    this.beforeSend?.();
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) this.send(this.nextRequest());
  }

  /**
   * The oldest submission and, first fit, the next ones that fit beside it (a large one further on
   * does not stop smaller ones behind it from filling the request; it leads the next request).
   */
  private nextRequest(): Submission[] {
    const head = this.waiting.shift()!;
    const members: Submission[] = [head];
    let size = head.texts.length;
    if (head.alone) return members;
    const scan = Math.min(this.waiting.length, FIRST_FIT_SCAN);
    for (let i = 0, taken = 0; i < scan && size < this.batchSize; i++) {
      const next = this.waiting[i - taken]!;
      if (next.alone || size + next.texts.length > this.batchSize) continue;
      this.waiting.splice(i - taken, 1);
      taken += 1;
      members.push(next);
      size += next.texts.length;
    }
    return members;
  }

  private send(members: Submission[]): void {
    this.inFlight += 1;
    const texts = members.length === 1 ? members[0]!.texts : members.flatMap((m) => m.texts);
    const request: Request = { controller: new AbortController(), left: members.length };
    for (const m of members) m.request = request;
    this.embedder
      .embed(texts, request.controller.signal)
      .then(
        (vectors) => {
          let from = 0;
          for (const m of members) {
            const part = vectors.slice(from, from + m.texts.length);
            from += m.texts.length;
            this.settle(m, () => m.resolve(part));
          }
        },
        (err: unknown) => this.failed(members, err),
      )
      .finally(() => {
        for (const m of members) m.request = null;
        this.inFlight -= 1;
        // With answers to write first (see beforeSend), at the end of this turn: the documents
        // remember the answers just read in it, and they are written before more is sent.
        if (this.beforeSend) this.schedule();
        else this.dispatch();
      });
  }

  private failed(members: Submission[], err: unknown): void {
    const open = members.filter((m) => !m.done);
    if (open.length > 1 && failureKind(toDocbatchError(err).code) === "permanent") {
      for (const m of open.reverse()) {
        m.alone = true;
        this.waiting.unshift(m);
      }
      return;
    }
    open.forEach((m, i) => {
      this.settle(m, () => m.reject(i === 0 ? err : new SharedRequestFailed(err)));
    });
  }

  private settle(submission: Submission, fn: () => void): void {
    if (submission.done) return;
    submission.done = true;
    submission.signal.removeEventListener("abort", submission.onAbort);
    fn();
  }
}
