/**
 * A circuit breaker around a dependency (the embeddings service).
 *
 * closed: requests flow; `failureThreshold` consecutive failures open it.
 * open: nothing is sent until the cool-down ends; then one caller is let through as a probe.
 * half-open: exactly one probe is in flight; its success closes the breaker, its failure opens it
 * again with a doubled cool-down (bounded by `maxOpenMs`).
 *
 * The clock is passed in on every call, so the breaker is a pure state machine that tests drive
 * without sleeping.
 */

export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. @default 5 */
  failureThreshold: number;
  /** First cool-down before a probe, in ms. @default 1_000 */
  openMs: number;
  /** Longest cool-down after repeated failed probes, in ms. @default 15_000 */
  maxOpenMs: number;
}

export const DEFAULT_BREAKER_OPTIONS: BreakerOptions = {
  failureThreshold: 5,
  openMs: 1_000,
  maxOpenMs: 15_000,
};

export type BreakerPermit = { allowed: true; probe: boolean } | { allowed: false; retryAt: number };

export interface BreakerTransition {
  from: BreakerState;
  to: BreakerState;
  at: number;
  consecutiveFailures: number;
}

export class CircuitBreaker {
  private stateValue: BreakerState = "closed";
  private failures = 0;
  private cooldownMs: number;
  private openUntil = 0;
  private probeInFlight = false;
  /** How many times the breaker opened (closed → open or half-open → open). */
  openings = 0;

  constructor(
    private readonly options: BreakerOptions = DEFAULT_BREAKER_OPTIONS,
    private readonly onTransition: (t: BreakerTransition) => void = () => {},
  ) {
    if (!Number.isInteger(options.failureThreshold) || options.failureThreshold < 1) {
      throw new RangeError(
        `Expected \`failureThreshold\` to be an integer from 1 and up, got \`${options.failureThreshold}\``,
      );
    }
    this.cooldownMs = options.openMs;
  }

  get state(): BreakerState {
    return this.stateValue;
  }

  /** When the next probe may be sent (meaningful while open). */
  get nextProbeAt(): number {
    return this.openUntil;
  }

  /** Asks to send one request at time `now`. A granted probe must be followed by onSuccess/onFailure. */
  acquire(now: number): BreakerPermit {
    if (this.stateValue === "closed") return { allowed: true, probe: false };
    if (this.stateValue === "open" && now >= this.openUntil) {
      this.move("half-open", now);
    }
    if (this.stateValue === "half-open" && !this.probeInFlight) {
      this.probeInFlight = true;
      return { allowed: true, probe: true };
    }
    return { allowed: false, retryAt: Math.max(this.openUntil, now + 1) };
  }

  /**
   * The result of a request granted at `acquire`. While the breaker is not closed only the probe's
   * own result counts: a late answer to a request sent before it opened says nothing new.
   */
  onSuccess(now: number, probe = false): void {
    if (this.stateValue === "closed") {
      this.failures = 0;
      return;
    }
    if (!probe) return;
    this.failures = 0;
    this.probeInFlight = false;
    this.cooldownMs = this.options.openMs;
    this.move("closed", now);
  }

  onFailure(now: number, probe = false): void {
    if (this.stateValue === "closed") {
      this.failures += 1;
      if (this.failures >= this.options.failureThreshold) this.open(now);
      return;
    }
    if (!probe) return;
    this.failures += 1;
    this.probeInFlight = false;
    this.cooldownMs = Math.min(this.options.maxOpenMs, this.cooldownMs * 2);
    this.open(now);
  }

  /** A granted probe that was never sent (e.g. the document was aborted) gives its turn back. */
  cancelProbe(): void {
    this.probeInFlight = false;
  }

  private open(now: number): void {
    this.openUntil = now + this.cooldownMs;
    this.openings += 1;
    this.move("open", now);
  }

  private move(to: BreakerState, now: number): void {
    const from = this.stateValue;
    if (from === to) return;
    this.stateValue = to;
    this.onTransition({ from, to, at: now, consecutiveFailures: this.failures });
  }
}
