import { describe, expect, it } from "vitest";
import { batchState, errorText, floorPct, ms, percent } from "../../src/dashboard/format.js";
import type { BatchListItem, Counts } from "../../src/dashboard/types.js";

const counts = (over: Partial<Counts> = {}): Counts => ({
  total: 10,
  done: 10,
  degraded: 0,
  failed: 0,
  pending: 0,
  processing: 0,
  duplicates_skipped: 0,
  unchanged_skipped: 0,
  ...over,
});
const batch = (over: Partial<BatchListItem> = {}): BatchListItem => ({
  batch_id: "b",
  running: false,
  cancelled: false,
  plan_complete: true,
  counts: counts(),
  ...over,
});

describe("the dashboard's formatting", () => {
  it("floors percentages, so 100.0% means every document", () => {
    expect(floorPct(0.9996)).toBe("99.9%");
    expect(floorPct(1)).toBe("100.0%");
    expect(percent(counts({ total: 0, done: 0 }), false).text).toBe("0.0%");
    expect(percent(counts({ total: 0, done: 0 }), true).text).toBe("100.0%");
    expect(floorPct(Number.NaN)).toBe("0.0%");
  });

  it("names a batch's state, degraded documents included", () => {
    expect(batchState(batch({ running: true, plan_complete: false }))).toEqual(["run", "Planning"]);
    expect(batchState(batch({ cancelled: true }))).toEqual(["warn", "Cancelled"]);
    expect(batchState(batch({ counts: counts({ done: 8, pending: 2 }) }))).toEqual(["warn", "Stopped"]);
    expect(batchState(batch({ counts: counts({ done: 7, failed: 3 }) }))).toEqual([
      "bad",
      "Finished, 3 failed",
    ]);
    expect(batchState(batch({ counts: counts({ done: 9, degraded: 1 }) }))).toEqual([
      "good",
      "Finished, 1 degraded",
    ]);
    expect(batchState(batch())).toEqual(["good", "Finished"]);
  });

  it("shows durations and API errors as people read them", () => {
    expect(ms(null)).toBe("—");
    expect(ms(0.5)).toBe("0.50 ms");
    expect(ms(1500)).toBe("1.50 s");
    const body = {
      error: {
        code: "BATCH_NOT_FOUND",
        message: "No batch `x`.",
        details: [{ path: "batch_id", problem: "no batch" }],
      },
    };
    expect(errorText(404, body)).toBe("BATCH_NOT_FOUND: No batch `x`. (batch_id: no batch)");
    expect(errorText(502, null)).toBe("HTTP 502");
  });
});
