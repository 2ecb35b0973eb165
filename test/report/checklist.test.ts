import { describe, expect, it } from "vitest";
import { checklist, DEFAULT_THRESHOLDS, type DemoMeasurements } from "../../src/report/checklist.js";
import type { BatchReport } from "../../src/report/report.js";

function measurements(over: Partial<BatchReport> = {}): DemoMeasurements {
  const report = {
    batch_id: "demo",
    counts: {
      total: 128,
      done: 126,
      degraded: 1,
      failed: 1,
      pending: 0,
      processing: 0,
      duplicates_skipped: 3,
      unchanged_skipped: 60,
    },
    completion_rate: 0.9922,
    fail_rate: 0.0078,
    dup_rate: 0,
    retries: 5,
    latency_ms: { p50: 20, p95: 80, p99: 90, mean: 30, max: 100, count: 128 },
    resume_time_ms: 350,
    failure_reasons: { PARSE_ERROR: 4, NOT_FOUND: 1 },
    degraded_by_reason: { MALFORMED_CONTENT: 1 },
    runs: [
      { run: 1, ended_at: null, resumed: false, processed: 61, skipped_done: 0 },
      { run: 2, ended_at: "x", resumed: true, processed: 67, skipped_done: 60 },
    ],
    ...over,
  } as unknown as BatchReport;
  return {
    report,
    atCrash: { completed: 60, failed: 1, unfinished: 67, total: 128 },
    firstRunEnd: { signal: "SIGKILL", code: null },
    errorBody: {
      error: { code: "INVALID_INPUT", message: "m", details: [{ path: "a", problem: "b" }], hints: ["h"] },
    },
    errorExitCode: 2,
  };
}

describe("the demo checklist", () => {
  it("ticks every line when the measurements meet the thresholds", () => {
    const items = checklist(measurements());
    expect(items.filter((i) => !i.ok)).toEqual([]);
    expect(items).toHaveLength(10);
  });

  it.each([
    ["completion rate", { completion_rate: 0.98 }],
    ["duplicate rate", { dup_rate: 0.02 }],
    ["fail rate", { fail_rate: 0.06 }],
    ["resume time", { resume_time_ms: 61_000 }],
    ["resume time", { resume_time_ms: null }],
    ["latency", { latency_ms: { p50: 0, p95: 0, p99: 0, mean: 0, max: 0, count: 0 } }],
    ["retries", { retries: 0 }],
    [
      "fallback",
      {
        degraded_by_reason: {},
        counts: {
          total: 128,
          done: 127,
          degraded: 0,
          failed: 1,
          pending: 0,
          processing: 0,
          duplicates_skipped: 3,
          unchanged_skipped: 0,
        },
      },
    ],
  ] as const)("crosses the %s line when it is not met", (label, over) => {
    const items = checklist(measurements(over as Partial<BatchReport>));
    const crossed = items.filter((i) => !i.ok).map((i) => i.label);
    expect(crossed).toHaveLength(1);
    expect(crossed[0]).toContain(label);
  });

  it("follows custom thresholds", () => {
    const items = checklist(measurements(), { ...DEFAULT_THRESHOLDS, fail: 0 });
    expect(items.filter((i) => !i.ok).map((i) => i.label)).toEqual(["fail rate <= 0.00%"]);
  });

  it("crosses the crash and resume lines when the first run was not killed or the resume redid work", () => {
    const m = measurements();
    m.firstRunEnd = { signal: null, code: 0 };
    expect(checklist(m).find((i) => i.label.includes("crashed"))!.ok).toBe(false);
    const n = measurements();
    n.atCrash = { ...n.atCrash, unfinished: 60 };
    expect(checklist(n).find((i) => i.label.includes("only what was unfinished"))!.ok).toBe(false);
  });

  it("crosses the error body line without a unified body", () => {
    const m = measurements();
    m.errorBody = { message: "oops" };
    expect(checklist(m).find((i) => i.label.includes("error body"))!.ok).toBe(false);
  });
});
