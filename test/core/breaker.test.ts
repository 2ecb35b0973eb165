import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BreakerOptions,
  type BreakerState,
  type BreakerTransition,
  CircuitBreaker,
  DEFAULT_BREAKER_OPTIONS,
} from "../../src/core/breaker.js";

const OPTIONS: BreakerOptions = { failureThreshold: 3, openMs: 1_000, maxOpenMs: 5_000 };

function recorded(options: BreakerOptions = OPTIONS): {
  breaker: CircuitBreaker;
  transitions: BreakerTransition[];
} {
  const transitions: BreakerTransition[] = [];
  const breaker = new CircuitBreaker(options, (t) => transitions.push(t));
  return { breaker, transitions };
}

/** Fails `n` requests at `at`, each acquired first (the breaker must be closed). */
function failClosed(breaker: CircuitBreaker, n: number, at: number): void {
  for (let i = 0; i < n; i++) {
    expect(breaker.acquire(at)).toEqual({ allowed: true, probe: false });
    breaker.onFailure(at);
  }
}

const GRANTED = { allowed: true, probe: false };
const PROBE = { allowed: true, probe: true };

describe("CircuitBreaker", () => {
  it("starts closed with the default options", () => {
    const breaker = new CircuitBreaker();
    expect(breaker.state).toBe("closed");
    expect(breaker.openings).toBe(0);
    expect(breaker.acquire(0)).toEqual(GRANTED);
    expect(DEFAULT_BREAKER_OPTIONS).toEqual({ failureThreshold: 5, openMs: 1_000, maxOpenMs: 15_000 });
    failClosed(breaker, 4, 10);
    expect(breaker.state).toBe("closed");
    breaker.onFailure(10);
    expect(breaker.state).toBe("open");
    expect(breaker.nextProbeAt).toBe(1_010);
  });

  it("stays closed below the threshold and keeps letting requests through", () => {
    const { breaker, transitions } = recorded();
    failClosed(breaker, 2, 100);
    expect(breaker.state).toBe("closed");
    expect(breaker.acquire(101)).toEqual(GRANTED);
    expect(breaker.openings).toBe(0);
    expect(transitions).toEqual([]);
  });

  it("opens at exactly failureThreshold consecutive failures", () => {
    const { breaker, transitions } = recorded();
    failClosed(breaker, 2, 100);
    breaker.acquire(150);
    breaker.onFailure(150);
    expect(breaker.state).toBe("open");
    expect(breaker.nextProbeAt).toBe(1_150);
    expect(breaker.openings).toBe(1);
    expect(transitions).toEqual([{ from: "closed", to: "open", at: 150, consecutiveFailures: 3 }]);
  });

  it("opens on the first failure with a threshold of 1", () => {
    const { breaker } = recorded({ ...OPTIONS, failureThreshold: 1 });
    breaker.onFailure(7);
    expect(breaker.state).toBe("open");
    expect(breaker.nextProbeAt).toBe(1_007);
  });

  it("resets the consecutive failure count on a success", () => {
    const { breaker } = recorded();
    failClosed(breaker, 2, 0);
    breaker.onSuccess(1);
    failClosed(breaker, 2, 2);
    expect(breaker.state).toBe("closed");
    breaker.onSuccess(3);
    failClosed(breaker, 2, 4);
    expect(breaker.state).toBe("closed");
    breaker.onFailure(5);
    expect(breaker.state).toBe("open");
  });

  it("refuses every request while open before nextProbeAt, telling when to come back", () => {
    const { breaker } = recorded();
    failClosed(breaker, 3, 0);
    expect(breaker.nextProbeAt).toBe(1_000);
    for (const now of [0, 1, 500, 998, 999]) {
      expect(breaker.acquire(now)).toEqual({ allowed: false, retryAt: 1_000 });
      expect(breaker.state).toBe("open");
    }
  });

  it("grants exactly one probe at the end of the cool-down and refuses the others while it is in flight", () => {
    const { breaker, transitions } = recorded();
    failClosed(breaker, 3, 0);
    expect(breaker.acquire(1_000)).toEqual(PROBE);
    expect(breaker.state).toBe("half-open");
    for (const now of [1_000, 1_001, 1_500, 50_000]) {
      const permit = breaker.acquire(now);
      expect(permit).toEqual({ allowed: false, retryAt: now + 1 });
    }
    expect(breaker.state).toBe("half-open");
    expect(transitions.map((t) => [t.from, t.to, t.at])).toEqual([
      ["closed", "open", 0],
      ["open", "half-open", 1_000],
    ]);
  });

  it("grants the probe to a caller that arrives long after the cool-down", () => {
    const { breaker } = recorded();
    failClosed(breaker, 3, 0);
    expect(breaker.acquire(987_654)).toEqual(PROBE);
    expect(breaker.acquire(987_654)).toEqual({ allowed: false, retryAt: 987_655 });
  });

  it("closes on a successful probe and starts counting failures from zero", () => {
    const { breaker, transitions } = recorded();
    failClosed(breaker, 3, 0);
    breaker.acquire(1_000);
    breaker.onSuccess(1_040, true);
    expect(breaker.state).toBe("closed");
    expect(breaker.acquire(1_041)).toEqual(GRANTED);
    expect(transitions.at(-1)).toEqual({
      from: "half-open",
      to: "closed",
      at: 1_040,
      consecutiveFailures: 0,
    });
    failClosed(breaker, 2, 1_050);
    expect(breaker.state).toBe("closed");
    breaker.onFailure(1_060);
    expect(breaker.state).toBe("open");
    // The cool-down is back to openMs after a close.
    expect(breaker.nextProbeAt).toBe(2_060);
  });

  it("reopens on a failed probe with a doubled cool-down, capped at maxOpenMs", () => {
    const { breaker } = recorded();
    failClosed(breaker, 3, 0);
    let now = 0;
    const cooldowns: number[] = [breaker.nextProbeAt - now];
    for (let i = 0; i < 5; i++) {
      now = breaker.nextProbeAt;
      expect(breaker.acquire(now)).toEqual(PROBE);
      now += 10;
      breaker.onFailure(now, true);
      expect(breaker.state).toBe("open");
      expect(breaker.acquire(breaker.nextProbeAt - 1)).toEqual({
        allowed: false,
        retryAt: breaker.nextProbeAt,
      });
      cooldowns.push(breaker.nextProbeAt - now);
    }
    expect(cooldowns).toEqual([1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
    expect(breaker.openings).toBe(6);
    // A successful probe resets the cool-down to openMs.
    now = breaker.nextProbeAt;
    breaker.acquire(now);
    breaker.onSuccess(now, true);
    failClosed(breaker, 3, now + 1);
    expect(breaker.nextProbeAt - (now + 1)).toBe(1_000);
  });

  it("gives the probe turn back on cancelProbe without changing state", () => {
    const { breaker, transitions } = recorded();
    failClosed(breaker, 3, 0);
    expect(breaker.acquire(1_000)).toEqual(PROBE);
    expect(breaker.acquire(1_001).allowed).toBe(false);
    const before = transitions.length;
    breaker.cancelProbe();
    expect(breaker.state).toBe("half-open");
    expect(transitions.length).toBe(before);
    expect(breaker.acquire(1_002)).toEqual(PROBE);
    expect(breaker.acquire(1_003).allowed).toBe(false);
  });

  it("counts every opening, from closed and from half-open", () => {
    const { breaker } = recorded({ ...OPTIONS, failureThreshold: 1 });
    breaker.onFailure(0); // closed -> open
    breaker.acquire(1_000);
    breaker.onFailure(1_000, true); // half-open -> open
    breaker.acquire(3_000);
    breaker.onSuccess(3_000, true); // closed
    breaker.onFailure(3_001); // closed -> open
    expect(breaker.openings).toBe(3);
  });

  it("reports every state change in order, with its time and failure count", () => {
    const { breaker, transitions } = recorded({ failureThreshold: 2, openMs: 100, maxOpenMs: 150 });
    breaker.onFailure(1);
    breaker.onFailure(2); // open until 102
    breaker.acquire(50); // refused: no transition
    breaker.acquire(102); // half-open
    breaker.onFailure(110, true); // open until 260 (200 capped at 150)
    breaker.acquire(260); // half-open
    breaker.onSuccess(270, true); // closed
    breaker.onSuccess(280); // no transition
    breaker.onFailure(290);
    breaker.onFailure(300); // open until 400
    expect(transitions).toEqual([
      { from: "closed", to: "open", at: 2, consecutiveFailures: 2 },
      { from: "open", to: "half-open", at: 102, consecutiveFailures: 2 },
      { from: "half-open", to: "open", at: 110, consecutiveFailures: 3 },
      { from: "open", to: "half-open", at: 260, consecutiveFailures: 3 },
      { from: "half-open", to: "closed", at: 270, consecutiveFailures: 0 },
      { from: "closed", to: "open", at: 300, consecutiveFailures: 2 },
    ]);
    expect(breaker.nextProbeAt).toBe(400);
  });

  it("validates failureThreshold and shows the bad value", () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => new CircuitBreaker({ ...OPTIONS, failureThreshold: bad })).toThrow(RangeError);
      expect(() => new CircuitBreaker({ ...OPTIONS, failureThreshold: bad })).toThrow(
        `Expected \`failureThreshold\` to be an integer from 1 and up, got \`${bad}\``,
      );
    }
    expect(() => new CircuitBreaker({ ...OPTIONS, failureThreshold: 1 })).not.toThrow();
  });

  // With concurrent documents, a late failure of a request let through while the breaker was closed
  // must not end the probe phase: only the probe's own result does.
  it("a late failure of a request granted while closed does not let a second probe through", () => {
    const { breaker } = recorded({ failureThreshold: 2, openMs: 1_000, maxOpenMs: 10_000 });
    for (let i = 0; i < 3; i++) expect(breaker.acquire(0)).toEqual(GRANTED); // requests a, b, c
    breaker.onFailure(10); // a
    breaker.onFailure(10); // b: open until 1010
    expect(breaker.acquire(1_010)).toEqual(PROBE); // the probe p is in flight
    breaker.onFailure(1_020); // c fails late: it was never the probe
    // p has not answered yet, so nobody else may probe.
    for (const now of [1_021, 3_020, 20_000]) expect(breaker.acquire(now).allowed).toBe(false);
  });
});

// -- Model-based properties -------------------------------------------------------------------------

const optionsArb = fc
  .record({
    failureThreshold: fc.integer({ min: 1, max: 5 }),
    openMs: fc.integer({ min: 1, max: 5_000 }),
    extraMs: fc.integer({ min: 0, max: 20_000 }),
  })
  .map(({ failureThreshold, openMs, extraMs }) => ({
    failureThreshold,
    openMs,
    maxOpenMs: openMs + extraMs,
  }));

/** A reference model of the documented state machine, for one caller at a time. */
class ModelBreaker {
  state: BreakerState = "closed";
  failures = 0;
  cooldown: number;
  openUntil = 0;
  openings = 0;

  constructor(private readonly options: BreakerOptions) {
    this.cooldown = options.openMs;
  }

  acquire(now: number): { allowed: boolean; probe?: boolean } {
    if (this.state === "closed") return { allowed: true, probe: false };
    if (this.state === "open" && now >= this.openUntil) this.state = "half-open";
    if (this.state === "half-open") return { allowed: true, probe: true };
    return { allowed: false };
  }

  success(): void {
    this.failures = 0;
    if (this.state !== "closed") {
      this.state = "closed";
      this.cooldown = this.options.openMs;
    }
  }

  failure(now: number): void {
    this.failures += 1;
    if (this.state === "half-open") {
      this.cooldown = Math.min(this.options.maxOpenMs, this.cooldown * 2);
      this.open(now);
    } else if (this.state === "closed" && this.failures >= this.options.failureThreshold) {
      this.open(now);
    }
  }

  private open(now: number): void {
    this.state = "open";
    this.openUntil = now + this.cooldown;
    this.openings += 1;
  }
}

function checkTransitions(transitions: BreakerTransition[], openings: number): void {
  let state: BreakerState = "closed";
  let at = Number.NEGATIVE_INFINITY;
  for (const t of transitions) {
    expect(t.from).toBe(state);
    expect(t.to).not.toBe(t.from);
    expect(t.at).toBeGreaterThanOrEqual(at);
    state = t.to;
    at = t.at;
  }
  expect(transitions.filter((t) => t.to === "open").length).toBe(openings);
}

describe("CircuitBreaker properties", () => {
  it("one caller at a time: follows the reference model exactly", () => {
    const step = fc.record({
      wait: fc.integer({ min: 0, max: 4_000 }),
      latency: fc.integer({ min: 0, max: 2_000 }),
      outcome: fc.constantFrom("success", "failure", "failure", "cancel"),
    });
    fc.assert(
      fc.property(optionsArb, fc.array(step, { maxLength: 80, size: "max" }), (options, steps) => {
        const { breaker, transitions } = recorded(options);
        const model = new ModelBreaker(options);
        let now = 0;
        for (const { wait, latency, outcome } of steps) {
          now += wait;
          const wasOpen = breaker.state === "open";
          const probeAt = breaker.nextProbeAt;
          const permit = breaker.acquire(now);
          const expected = model.acquire(now);
          expect(permit.allowed).toBe(expected.allowed);
          if (permit.allowed) {
            expect(permit.probe).toBe(expected.probe);
            if (wasOpen) expect(now).toBeGreaterThanOrEqual(probeAt);
            if (permit.probe && outcome === "cancel") {
              breaker.cancelProbe();
              model.state = "half-open";
            } else {
              now += latency;
              if (outcome === "success") {
                breaker.onSuccess(now, permit.probe);
                model.success();
              } else {
                breaker.onFailure(now, permit.probe);
                model.failure(now);
              }
            }
          } else {
            expect(breaker.state).toBe("open");
            expect(now).toBeLessThan(breaker.nextProbeAt);
            expect(permit.retryAt).toBe(breaker.nextProbeAt);
          }
          expect(breaker.state).toBe(model.state);
          expect(breaker.openings).toBe(model.openings);
          if (model.state === "open") expect(breaker.nextProbeAt).toBe(model.openUntil);
          if (model.state === "open") {
            expect(breaker.nextProbeAt - now).toBeLessThanOrEqual(
              Math.max(options.openMs, options.maxOpenMs),
            );
          }
        }
        checkTransitions(transitions, breaker.openings);
      }),
      { numRuns: 200 },
    );
  });

  type Event =
    | { kind: "acquire"; wait: number }
    | { kind: "finish"; wait: number; pick: number; ok: boolean }
    | { kind: "cancel"; pick: number };

  const eventArb: fc.Arbitrary<Event> = fc.oneof(
    fc.record({ kind: fc.constant("acquire" as const), wait: fc.integer({ min: 0, max: 3_000 }) }),
    fc.record({
      kind: fc.constant("finish" as const),
      wait: fc.integer({ min: 0, max: 3_000 }),
      pick: fc.nat(),
      ok: fc.boolean(),
    }),
    fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }),
  );

  /**
   * Many callers: requests granted by the breaker stay in flight and finish in any order, as they do
   * when several documents embed concurrently. Calls `check` after every event.
   */
  function runConcurrent(
    options: BreakerOptions,
    events: Event[],
    check: (s: { breaker: CircuitBreaker; inFlight: { probe: boolean }[]; now: number }) => void,
  ): CircuitBreaker {
    const { breaker, transitions } = recorded(options);
    const inFlight: { probe: boolean }[] = [];
    let now = 0;
    for (const event of events) {
      if (event.kind === "acquire") {
        now += event.wait;
        const wasOpen = breaker.state === "open";
        const probeAt = breaker.nextProbeAt;
        const permit = breaker.acquire(now);
        if (permit.allowed) {
          if (wasOpen) expect(now, "granted while open before nextProbeAt").toBeGreaterThanOrEqual(probeAt);
          inFlight.push({ probe: permit.probe });
        } else {
          expect(breaker.state).not.toBe("closed");
          expect(permit.retryAt).toBeGreaterThan(now);
        }
      } else if (inFlight.length > 0) {
        const index = event.pick % inFlight.length;
        const request = inFlight[index]!;
        if (event.kind === "cancel") {
          if (!request.probe) continue;
          breaker.cancelProbe();
        } else {
          now += event.wait;
          if (event.ok) breaker.onSuccess(now, request.probe);
          else breaker.onFailure(now, request.probe);
        }
        inFlight.splice(index, 1);
      }
      check({ breaker, inFlight, now });
    }
    checkTransitions(transitions, breaker.openings);
    return breaker;
  }

  it("many callers: no request is let through while open before nextProbeAt", () => {
    fc.assert(
      fc.property(optionsArb, fc.array(eventArb, { maxLength: 120, size: "max" }), (options, events) => {
        runConcurrent(options, events, () => {});
      }),
      { numRuns: 500 },
    );
  });

  it("many callers: at most one probe is in flight while the breaker is not closed", () => {
    fc.assert(
      fc.property(optionsArb, fc.array(eventArb, { maxLength: 120, size: "max" }), (options, events) => {
        runConcurrent(options, events, ({ breaker, inFlight }) => {
          if (breaker.state !== "closed") {
            expect(inFlight.filter((r) => r.probe).length).toBeLessThanOrEqual(1);
          }
        });
      }),
      { numRuns: 500 },
    );
  });
});
