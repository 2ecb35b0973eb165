/**
 * Exponential backoff with jitter: `min(maxDelay, base * 2^attempt) + jitter`, jitter uniform in
 * `[0, jitterMs)`. The random source is injected so tests are exact.
 */

export interface BackoffOptions {
  /** Delay before the first retry, in ms. @default 200 */
  baseDelayMs: number;
  /** Upper bound of the exponential part, in ms. @default 30_000 */
  maxDelayMs: number;
  /** Upper bound (exclusive) of the random part, in ms. @default baseDelayMs */
  jitterMs?: number;
}

export type RandomSource = () => number;

/**
 * The delay before retry number `attempt + 1` (attempt 0 = the first retry).
 * A `retryAfterMs` hint from the service is honoured when it asks for longer.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: RandomSource = Math.random,
  retryAfterMs?: number,
): number {
  const exponent = Math.min(Math.max(0, attempt), 52);
  const exponential = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** exponent);
  const jitterMs = options.jitterMs ?? options.baseDelayMs;
  const delay = exponential + Math.floor(random() * jitterMs);
  return retryAfterMs !== undefined && retryAfterMs > delay ? retryAfterMs : delay;
}

/** The bounds `backoffDelay` promises, without a Retry-After hint. */
export function backoffBounds(attempt: number, options: BackoffOptions): { min: number; max: number } {
  const exponent = Math.min(Math.max(0, attempt), 52);
  const exponential = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** exponent);
  const jitterMs = options.jitterMs ?? options.baseDelayMs;
  return { min: exponential, max: exponential + Math.max(0, Math.ceil(jitterMs) - 1) };
}

/** A small deterministic PRNG (mulberry32) for seeded fault injection and jitter. */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
