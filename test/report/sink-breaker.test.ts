import { describe, expect, it } from "vitest";
import { breakerOf } from "../../src/report/sinks.js";
import type { SinkCursor } from "../../src/store/index-store.js";
import type { StoreEvent } from "../../src/store/store.js";

const cursor = (leaseOwner: string | null): SinkCursor => ({
  uri: "jsonl:/log",
  deliveredSeq: 0,
  headSeq: 10,
  lag: 10,
  lastError: null,
  lastErrorAt: null,
  deliveredAt: null,
  attachedAt: 0,
  leaseOwner,
  leaseHost: leaseOwner ? "host" : null,
  leasePid: leaseOwner ? 1 : null,
  leaseExpiresAt: leaseOwner ? 1 : null,
});

const transition = (sink: string, owner: string, to: string, at: number): StoreEvent => ({
  run: null,
  at,
  type: "sink_breaker",
  data: { sink, owner, from: "closed", to, at, consecutiveFailures: 5 },
});

describe("a sink's breaker in status and report", () => {
  it("is the last transition its current deliverer recorded, closed before any", () => {
    const events = [
      transition("jsonl:/log", "old", "open", 1),
      transition("jsonl:/log", "now", "open", 2),
      transition("jsonl:/other", "now", "closed", 3),
      transition("jsonl:/log", "now", "half-open", 4),
    ];
    expect(breakerOf(cursor("now"), events)).toBe("half-open");
    // A new deliverer's breaker starts closed, whatever a dead one left behind.
    expect(breakerOf(cursor("new"), events)).toBe("closed");
    expect(breakerOf(cursor(null), events)).toBeNull();
  });
});
