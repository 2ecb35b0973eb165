import { type BackoffOptions, backoffDelay, type RandomSource } from "./backoff.js";
import { failureKind } from "./errors.js";

export interface RetryPolicy extends BackoffOptions {
  /** Attempts per document and stage before the fallback path. @default 3 */
  maxAttempts: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 30_000 };

export type Decision = { action: "retry"; delayMs: number } | { action: "fallback" } | { action: "fail" };

/**
 * What to do after a failed attempt: the only place that turns an error code and an attempt count
 * into retry, fallback or fail.
 *
 * @param stageAttempts failed attempts of this stage, this one included (1 after the first failure)
 */
export function decide(
  code: string,
  stageAttempts: number,
  policy: RetryPolicy,
  random: RandomSource,
  retryAfterMs?: number,
): Decision {
  const kind = failureKind(code);
  if (kind === "fatal") return { action: "fail" };
  if (kind === "permanent" || stageAttempts >= policy.maxAttempts) return { action: "fallback" };
  return { action: "retry", delayMs: backoffDelay(stageAttempts - 1, policy, random, retryAfterMs) };
}
