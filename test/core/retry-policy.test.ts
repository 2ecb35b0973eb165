import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffBounds, backoffDelay, seededRandom } from "../../src/core/backoff.js";
import { failureKind } from "../../src/core/errors.js";
import { DEFAULT_RETRY_POLICY, decide, type RetryPolicy } from "../../src/core/retry-policy.js";

const FATAL = ["NOT_FOUND", "DOC_TOO_LARGE", "UNREADABLE"] as const;
const PERMANENT = ["MALFORMED_CONTENT", "EMBED_REJECTED", "CIRCUIT_OPEN"] as const;
const RETRYABLE = [
  "PARSE_ERROR",
  "EMBED_TIMEOUT",
  "EMBED_RATE_LIMITED",
  "EMBED_UNAVAILABLE",
  "EMBED_BAD_RESPONSE",
  "DOC_TIMEOUT",
  "INTERNAL",
] as const;

const POLICY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 };
const zero = () => 0;

/** A random source that fails the test when drawn: decisions without a delay must not consume jitter. */
const untouchable = () => {
  throw new Error("the random source was drawn");
};

describe("decide", () => {
  it("by default retries twice, 200 then 400 ms apart, and takes the fallback on the third failure", () => {
    const decisions = [1, 2, 3].map((n) => decide("EMBED_UNAVAILABLE", n, DEFAULT_RETRY_POLICY, zero));
    expect(decisions).toEqual([
      { action: "retry", delayMs: 200 },
      { action: "retry", delayMs: 400 },
      { action: "fallback" },
    ]);
  });

  it("by default waits at most 30 s between attempts, plus under 200 ms of jitter, however many there are", () => {
    const many = { ...DEFAULT_RETRY_POLICY, maxAttempts: 50 };
    const delays = (random: () => number) =>
      Array.from({ length: 49 }, (_, i) => decide("EMBED_TIMEOUT", i + 1, many, random)).map((d) =>
        d.action === "retry" ? d.delayMs : Number.NaN,
      );
    expect(Math.max(...delays(zero))).toBe(30_000);
    expect(Math.max(...delays(() => 0.999_999))).toBe(30_199);
  });

  it("classifies the codes as the error table says", () => {
    for (const code of FATAL) expect(failureKind(code), code).toBe("fatal");
    for (const code of PERMANENT) expect(failureKind(code), code).toBe("permanent");
    for (const code of RETRYABLE) expect(failureKind(code), code).toBe("retryable");
  });

  it("fails fatal codes at once, whatever the attempt count", () => {
    for (const code of FATAL) {
      for (const attempts of [1, 2, 3, 10]) {
        expect(decide(code, attempts, POLICY, untouchable), `${code} #${attempts}`).toEqual({
          action: "fail",
        });
      }
    }
  });

  it("takes the fallback for permanent codes at once", () => {
    for (const code of PERMANENT) {
      for (const attempts of [1, 2, 3, 10]) {
        expect(decide(code, attempts, POLICY, untouchable, 5_000), `${code} #${attempts}`).toEqual({
          action: "fallback",
        });
      }
    }
  });

  it("retries retryable codes until stageAttempts reaches maxAttempts, then takes the fallback", () => {
    for (const code of RETRYABLE) {
      expect(decide(code, 1, POLICY, zero), code).toEqual({ action: "retry", delayMs: 100 });
      expect(decide(code, 2, POLICY, zero), code).toEqual({ action: "retry", delayMs: 200 });
      expect(decide(code, 3, POLICY, untouchable), code).toEqual({ action: "fallback" });
      expect(decide(code, 4, POLICY, untouchable), code).toEqual({ action: "fallback" });
    }
  });

  it("falls back on the first failure when maxAttempts is 1", () => {
    expect(decide("EMBED_TIMEOUT", 1, { ...POLICY, maxAttempts: 1 }, untouchable)).toEqual({
      action: "fallback",
    });
  });

  it("delays by backoffDelay(stageAttempts - 1) with the same random source", () => {
    const policy: RetryPolicy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 2_000, jitterMs: 40 };
    const decisions = seededRandom(9);
    const reference = seededRandom(9);
    for (let attempts = 1; attempts < 10; attempts++) {
      const decision = decide("EMBED_UNAVAILABLE", attempts, policy, decisions);
      expect(decision).toEqual({ action: "retry", delayMs: backoffDelay(attempts - 1, policy, reference) });
    }
    const exact = [1, 2, 3, 4, 5, 6].map((n) => decide("PARSE_ERROR", n, { ...policy, jitterMs: 0 }, zero));
    expect(exact.map((d) => (d.action === "retry" ? d.delayMs : -1))).toEqual([
      100, 200, 400, 800, 1_600, 2_000,
    ]);
  });

  it("honours a Retry-After hint when it asks for longer than the backoff", () => {
    expect(decide("EMBED_RATE_LIMITED", 1, POLICY, zero, 2_000)).toEqual({ action: "retry", delayMs: 2_000 });
    expect(decide("EMBED_UNAVAILABLE", 2, POLICY, zero, 150)).toEqual({ action: "retry", delayMs: 200 });
    expect(decide("EMBED_UNAVAILABLE", 2, POLICY, () => 0.5, 230)).toEqual({ action: "retry", delayMs: 250 });
    // The hint does not buy an extra attempt.
    expect(decide("EMBED_RATE_LIMITED", 3, POLICY, untouchable, 2_000)).toEqual({ action: "fallback" });
  });

  it("treats unknown codes as INTERNAL (retryable)", () => {
    for (const code of ["SOMETHING_NEW", "", "embed_timeout"]) {
      expect(failureKind(code)).toBe("retryable");
      for (const attempts of [1, 2, 3, 4]) {
        expect(decide(code, attempts, POLICY, zero), `${code} #${attempts}`).toEqual(
          decide("INTERNAL", attempts, POLICY, zero),
        );
      }
    }
  });

  it("property: the action depends only on the kind and the attempt count; delays stay in bounds", () => {
    const codes = [...FATAL, ...PERMANENT, ...RETRYABLE, "UNKNOWN_CODE"];
    fc.assert(
      fc.property(
        fc.constantFrom(...codes),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.option(fc.integer({ min: 0, max: 120_000 }), { nil: undefined }),
        (code, attempts, maxAttempts, baseDelayMs, maxDelayMs, draw, retryAfterMs) => {
          const policy = { maxAttempts, baseDelayMs, maxDelayMs };
          const decision = decide(code, attempts, policy, () => draw, retryAfterMs);
          const kind = failureKind(code);
          if (kind === "fatal") expect(decision).toEqual({ action: "fail" });
          else if (kind === "permanent" || attempts >= maxAttempts)
            expect(decision).toEqual({ action: "fallback" });
          else {
            expect(decision.action).toBe("retry");
            const delayMs = decision.action === "retry" ? decision.delayMs : Number.NaN;
            const bounds = backoffBounds(attempts - 1, policy);
            expect(delayMs).toBeGreaterThanOrEqual(Math.max(bounds.min, retryAfterMs ?? 0));
            expect(delayMs).toBeLessThanOrEqual(Math.max(bounds.max, retryAfterMs ?? 0));
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
