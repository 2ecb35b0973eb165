import { backoffDelay, type RandomSource } from "../core/backoff.js";
import { DocbatchError } from "../core/errors.js";
import { classifyStoreError, describeStoreError } from "../store/transient.js";
import type { Logger } from "./logger.js";

/** An outage of the store as the progress display and the logs tell it. */
export interface StoreOutage {
  /** When the first call of this outage failed (ms since epoch). */
  since: number;
  /** The latest failure, short (code and first line). */
  error: string;
}

export interface StoreRetryOptions {
  /**
   * How long one store call keeps being retried through transient failures (a restarting
   * database, a lost connection, a busy SQLite file), in ms; 0 never retries. Past it the run
   * stops with STORE_UNAVAILABLE, resumable. @default 60_000
   */
  budgetMs: number;
  logger: Logger;
  /** Told when an outage begins or its error changes, and with null when the store answers again. */
  onChange?: (outage: StoreOutage | null) => void;
  clock?: () => number;
  random?: RandomSource;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Whether a call may be sent again after a failure whose outcome is unknown (the connection was
 * lost while it ran): `fenced` calls are idempotent or guarded so that a second execution changes
 * nothing the first one did; `once` calls are retried only when they certainly had no effect.
 */
export type RetryMode = "fenced" | "once";

/** Delays between attempts: short at first (a dropped connection reconnects at once), then 2 s. */
const BACKOFF = { baseDelayMs: 100, maxDelayMs: 2_000, jitterMs: 100 };

/**
 * Rides out transient store failures for every call of a run, with one shared view of the outage:
 * the first failure logs `store.unavailable` and tells `onChange`; the first success after it logs
 * `store.recovered` with how long it lasted. Each call has its own deadline, `budgetMs` after its
 * first failure.
 */
export class StoreRetry {
  private outage: StoreOutage | null = null;
  private readonly listeners = new Set<(outage: StoreOutage | null) => void>();
  private readonly clock: () => number;
  private readonly random: RandomSource;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: StoreRetryOptions) {
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  get budgetMs(): number {
    return this.options.budgetMs;
  }

  /** Adds a listener of outages (see `onChange`); returns its removal. */
  subscribe(listener: (outage: StoreOutage | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The outage going on now, if any. */
  get current(): StoreOutage | null {
    return this.outage;
  }

  /**
   * Runs `call` until it succeeds, fails for good, or `budgetMs` passed since its first failure.
   * `call` learns whether an earlier attempt may have taken effect (`replay`), so a fenced call can
   * tell a second execution from a first.
   */
  async run<T>(what: string, call: (replay: boolean) => Promise<T>, mode: RetryMode = "fenced"): Promise<T> {
    let firstFailure: number | null = null;
    let replay = false;
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await call(replay);
        if (firstFailure !== null) this.recovered();
        return result;
      } catch (err) {
        const failure = classifyStoreError(err);
        if (failure === "fatal" || (failure === "unknown" && mode === "once")) throw err;
        if (failure === "unknown") replay = true;
        const now = this.clock();
        firstFailure ??= now;
        this.failed(what, err, now);
        const left = this.options.budgetMs - (now - firstFailure);
        if (left <= 0) throw this.givenUp(what, err, now - firstFailure);
        await this.sleep(Math.min(left, backoffDelay(attempt, BACKOFF, this.random)));
      }
    }
  }

  private failed(what: string, err: unknown, now: number): void {
    const error = describeStoreError(err);
    const starting = this.outage === null;
    if (starting) this.outage = { since: now, error };
    else if (this.outage!.error === error) return;
    else this.outage = { since: this.outage!.since, error };
    if (starting) {
      this.options.logger.warn(
        { event: "store.unavailable", call: what, error, retryForMs: this.options.budgetMs },
        "store unavailable, retrying",
      );
    }
    this.notify({ ...this.outage! });
  }

  private notify(outage: StoreOutage | null): void {
    this.options.onChange?.(outage);
    for (const listener of this.listeners) listener(outage);
  }

  private recovered(): void {
    const outage = this.outage;
    if (!outage) return;
    this.outage = null;
    this.options.logger.info(
      { event: "store.recovered", outageMs: this.clock() - outage.since, error: outage.error },
      "store reachable again",
    );
    this.notify(null);
  }

  private givenUp(what: string, err: unknown, failingMs: number): DocbatchError {
    const seconds = Math.round(failingMs / 1000);
    return new DocbatchError(
      "STORE_UNAVAILABLE",
      `The store stayed unreachable for ${seconds} s (${what}: ${describeStoreError(err)}). ` +
        "Everything committed before is kept; run the same command again to resume.",
      { cause: err },
    );
  }
}
