import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type BackoffOptions, backoffBounds, backoffDelay, seededRandom } from "../../src/core/backoff.js";

/** The values the properties draw from: base and maximum delays in ms, and the random draw. */
const baseDelays = fc.integer({ min: 0, max: 10_000 });
const maxDelays = fc.integer({ min: 0, max: 600_000 });
const draws = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

/** The largest double below 1, the most a random source may return. */
const ALMOST_ONE = 1 - 2 ** -53;

const always = (value: number) => () => value;

describe("backoffDelay", () => {
  const options: BackoffOptions = { baseDelayMs: 200, maxDelayMs: 30_000, jitterMs: 50 };

  it("waits exactly the base delay before the first retry when the jitter draws 0", () => {
    expect(backoffDelay(0, options, always(0))).toBe(200);
  });

  it("doubles the exponential part with every attempt", () => {
    const delays = [0, 1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffDelay(attempt, options, always(0)));
    expect(delays).toEqual([200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600]);
  });

  it("caps the exponential part at maxDelayMs", () => {
    expect(backoffDelay(8, options, always(0))).toBe(30_000);
    expect(backoffDelay(9, options, always(0))).toBe(30_000);
    expect(backoffDelay(52, options, always(0))).toBe(30_000);
    expect(backoffDelay(10_000, options, always(0))).toBe(30_000);
    expect(backoffDelay(8, options, always(ALMOST_ONE))).toBe(30_049);
  });

  it("stays finite for huge attempt numbers", () => {
    const delay = backoffDelay(Number.MAX_SAFE_INTEGER, { baseDelayMs: 1, maxDelayMs: 1e300 }, always(0));
    expect(Number.isFinite(delay)).toBe(true);
    expect(delay).toBe(2 ** 52);
  });

  it("treats a negative attempt as the first retry", () => {
    expect(backoffDelay(-3, options, always(0))).toBe(200);
  });

  it("adds jitter in [0, jitterMs): exactly nothing for 0, below jitterMs for the largest draw", () => {
    expect(backoffDelay(2, options, always(0))).toBe(800);
    expect(backoffDelay(2, options, always(0.5))).toBe(825);
    expect(backoffDelay(2, options, always(0.999_999))).toBe(849);
    expect(backoffDelay(2, options, always(ALMOST_ONE))).toBe(849);
    expect(backoffDelay(2, options, always(ALMOST_ONE))).toBeLessThan(800 + 50);
  });

  it("uses baseDelayMs as the jitter range by default", () => {
    const noJitterOption = { baseDelayMs: 200, maxDelayMs: 30_000 };
    expect(backoffDelay(0, noJitterOption, always(0))).toBe(200);
    expect(backoffDelay(0, noJitterOption, always(0.5))).toBe(300);
    expect(backoffDelay(0, noJitterOption, always(ALMOST_ONE))).toBe(399);
    expect(backoffDelay(3, noJitterOption, always(ALMOST_ONE))).toBe(1_799);
  });

  it("adds no jitter when jitterMs is 0", () => {
    expect(backoffDelay(1, { ...options, jitterMs: 0 }, always(ALMOST_ONE))).toBe(400);
  });

  it("draws the random source once per delay", () => {
    let calls = 0;
    backoffDelay(3, options, () => {
      calls += 1;
      return 0.25;
    });
    expect(calls).toBe(1);
  });

  it("honours Retry-After only when it asks for longer", () => {
    expect(backoffDelay(0, options, always(0), 5_000)).toBe(5_000);
    expect(backoffDelay(0, options, always(0), 201)).toBe(201);
    expect(backoffDelay(0, options, always(0), 200)).toBe(200);
    expect(backoffDelay(0, options, always(0), 100)).toBe(200);
    expect(backoffDelay(0, options, always(0), 0)).toBe(200);
    expect(backoffDelay(0, options, always(0.5), 210)).toBe(225);
    // Retry-After is not capped by maxDelayMs: the service knows best.
    expect(backoffDelay(20, options, always(0), 60_000)).toBe(60_000);
  });
});

describe("backoffBounds", () => {
  it("gives the exponential part as min and exponential + jitterMs - 1 as max", () => {
    expect(backoffBounds(0, { baseDelayMs: 200, maxDelayMs: 30_000, jitterMs: 50 })).toEqual({
      min: 200,
      max: 249,
    });
    expect(backoffBounds(3, { baseDelayMs: 200, maxDelayMs: 30_000 })).toEqual({ min: 1_600, max: 1_799 });
    expect(backoffBounds(30, { baseDelayMs: 200, maxDelayMs: 30_000, jitterMs: 10 })).toEqual({
      min: 30_000,
      max: 30_009,
    });
  });

  it("collapses to one value without jitter", () => {
    expect(backoffBounds(2, { baseDelayMs: 100, maxDelayMs: 1_000, jitterMs: 0 })).toEqual({
      min: 400,
      max: 400,
    });
    expect(backoffBounds(2, { baseDelayMs: 0, maxDelayMs: 1_000 })).toEqual({ min: 0, max: 0 });
  });

  it("matches the smallest and largest delays backoffDelay produces", () => {
    const options = { baseDelayMs: 150, maxDelayMs: 5_000, jitterMs: 70 };
    for (let attempt = 0; attempt < 10; attempt++) {
      const bounds = backoffBounds(attempt, options);
      expect(backoffDelay(attempt, options, always(0))).toBe(bounds.min);
      expect(backoffDelay(attempt, options, always(ALMOST_ONE))).toBe(bounds.max);
    }
  });

  it("property: every delay lies within the bounds and never exceeds maxDelayMs + jitterMs", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        baseDelays,
        maxDelays,
        fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined }),
        draws,
        (attempt, baseDelayMs, maxDelayMs, jitterMs, draw) => {
          const options: BackoffOptions = { baseDelayMs, maxDelayMs, jitterMs };
          const delay = backoffDelay(attempt, options, always(draw));
          const bounds = backoffBounds(attempt, options);
          const jitter = jitterMs ?? baseDelayMs;
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(bounds.min);
          expect(delay).toBeLessThanOrEqual(bounds.max);
          expect(bounds.min).toBeLessThanOrEqual(maxDelayMs);
          expect(delay).toBeLessThanOrEqual(maxDelayMs + jitter);
          if (jitter > 0) expect(delay).toBeLessThan(maxDelayMs + jitter);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("property: for a fixed draw the delay never decreases with the attempt", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 59 }),
        baseDelays,
        maxDelays,
        draws,
        (attempt, baseDelayMs, maxDelayMs, draw) => {
          const options = { baseDelayMs, maxDelayMs };
          expect(backoffDelay(attempt + 1, options, always(draw))).toBeGreaterThanOrEqual(
            backoffDelay(attempt, options, always(draw)),
          );
        },
      ),
    );
  });

  it("property: a Retry-After hint gives exactly max(hint, backoff)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 600_000 }),
        draws,
        (attempt, retryAfterMs, draw) => {
          const options = { baseDelayMs: 200, maxDelayMs: 30_000 };
          const plain = backoffDelay(attempt, options, always(draw));
          expect(backoffDelay(attempt, options, always(draw), retryAfterMs)).toBe(
            Math.max(plain, retryAfterMs),
          );
        },
      ),
    );
  });
});

describe("seededRandom", () => {
  const take = (random: () => number, n: number) => Array.from({ length: n }, () => random());

  it("is deterministic for a seed", () => {
    expect(take(seededRandom(42), 100)).toEqual(take(seededRandom(42), 100));
  });

  it("keeps the mulberry32 sequence stable (seeded fault runs stay reproducible)", () => {
    expect(take(seededRandom(1), 3)).toEqual([0.6270739405881613, 0.002735721180215478, 0.5274470399599522]);
  });

  it("differs across seeds", () => {
    const sequences = [0, 1, 2, 3, 42, 2 ** 31, 2 ** 32 - 1].map((seed) => take(seededRandom(seed), 20));
    const distinct = new Set(sequences.map((values) => values.join(",")));
    expect(distinct.size).toBe(sequences.length);
  });

  it("reduces the seed to 32 bits", () => {
    expect(take(seededRandom(2 ** 32 + 5), 10)).toEqual(take(seededRandom(5), 10));
    expect(take(seededRandom(-1), 10)).toEqual(take(seededRandom(2 ** 32 - 1), 10));
  });

  it("returns values in [0, 1), spread evenly", () => {
    const values = take(seededRandom(7), 20_000);
    const buckets = new Array<number>(10).fill(0);
    for (const value of values) {
      const bucket = Math.floor(value * 10);
      buckets[bucket] = (buckets[bucket] ?? 0) + 1;
    }
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    for (const count of buckets) expect(Math.abs(count - 2_000)).toBeLessThan(200);
  });

  it("property: drives backoffDelay within its bounds", () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 0, max: 20 }), (seed, attempt) => {
        const options = { baseDelayMs: 100, maxDelayMs: 10_000, jitterMs: 33 };
        const random = seededRandom(seed);
        const bounds = backoffBounds(attempt, options);
        for (let i = 0; i < 20; i++) {
          const delay = backoffDelay(attempt, options, random);
          expect(delay).toBeGreaterThanOrEqual(bounds.min);
          expect(delay).toBeLessThanOrEqual(bounds.max);
        }
      }),
    );
  });
});
