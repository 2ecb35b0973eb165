import type { ErrorBody } from "../core/errors.js";
import type { BatchReport } from "./report.js";

/** The acceptance thresholds of the demonstration (the lesson's targets). */
export interface Thresholds {
  /** Least completion rate. @default 0.99 */
  completion: number;
  /** Highest duplicate rate. @default 0.01 */
  dup: number;
  /** Highest fail rate. @default 0.05 */
  fail: number;
  /** Longest resume time, in ms. @default 60_000 */
  resumeMs: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { completion: 0.99, dup: 0.01, fail: 0.05, resumeMs: 60_000 };

/** What the demonstration measured; every check is computed from these values, none is assumed. */
export interface DemoMeasurements {
  report: BatchReport;
  /** Counts read from the store right after the first run was killed. */
  atCrash: { completed: number; failed: number; unfinished: number; total: number };
  /** How the first run ended: the signal that stopped it, or its exit code. */
  firstRunEnd: { signal: string | null; code: number | null };
  /** The error body printed for an invalid input, parsed from stderr, or null. */
  errorBody: unknown;
  errorExitCode: number | null;
  /** The incremental update: the changed input planned, then run with `--sync full`. */
  update?: {
    plan: {
      new: number;
      changed: number;
      unchanged: number;
      deleted: number;
      chunks: number;
      chunks_to_embed: number;
    } | null;
    /** Neither the store's files nor the embeddings service were touched by `plan`. */
    planWroteNothing: boolean;
    runExit: number | null;
    changed: number | null;
    deleted: number | null;
    /** Texts the embeddings service answered during the update run. */
    textsSent: number;
    /** Chunks of the changed documents after the update. */
    changedChunks: number;
    /** The deleted document is gone from the export (and the export is not empty). */
    deletedGone: boolean;
  };
  /** A search for the passage the update added. */
  search?: { query: string; topDocument: string | null; found: boolean };
}

export interface CheckItem {
  ok: boolean;
  label: string;
  measured: string;
}

const pct = (r: number) => `${(r * 100).toFixed(2)}%`;

export function checklist(m: DemoMeasurements, t: Thresholds = DEFAULT_THRESHOLDS): CheckItem[] {
  return [...runChecks(m, t), ...updateChecks(m)];
}

/** The incremental update and the search after it, when the demonstration measured them. */
function updateChecks(m: DemoMeasurements): CheckItem[] {
  const items: CheckItem[] = [];
  const u = m.update;
  if (u) {
    const p = u.plan;
    items.push(
      {
        ok: p !== null && p.new === 0 && p.changed === 3 && p.deleted === 1 && u.planWroteNothing,
        label: "plan shows the update and changes nothing",
        measured: p
          ? `${p.new} new, ${p.changed} changed, ${p.deleted} deleted; ${u.planWroteNothing ? "store and service untouched" : "something was written or sent"}`
          : "plan failed",
      },
      {
        ok:
          u.runExit === 0 &&
          u.changed === 3 &&
          u.deleted === 1 &&
          u.deletedGone &&
          u.textsSent > 0 &&
          u.textsSent < u.changedChunks,
        label: "the update embeds only the changed texts",
        measured: `${u.textsSent} texts sent for ${u.changedChunks} chunks of ${u.changed ?? "?"} changed documents; ${u.deleted ?? "?"} deleted${u.deletedGone ? ", gone from the export" : ", still exported"}`,
      },
    );
  }
  if (m.search) {
    items.push({
      ok: m.search.found,
      label: "search finds the changed passage",
      measured: `top result ${m.search.topDocument ?? "none"} for "${m.search.query}"`,
    });
  }
  return items;
}

function runChecks(m: DemoMeasurements, t: Thresholds): CheckItem[] {
  const r = m.report;
  const first = r.runs[0];
  const resumed = r.runs.find((run) => run.resumed);
  const crashedMidway =
    m.firstRunEnd.signal === "SIGKILL" &&
    m.atCrash.completed > 0 &&
    m.atCrash.unfinished > 0 &&
    first?.ended_at === null;
  const onlyUnfinished =
    resumed !== undefined &&
    resumed.skipped_done === m.atCrash.completed &&
    resumed.processed === m.atCrash.unfinished;
  return [
    {
      ok: crashedMidway,
      label: "the first run crashed abruptly midway (SIGKILL)",
      measured: `${m.firstRunEnd.signal ?? `exit ${m.firstRunEnd.code}`} after ${m.atCrash.completed + m.atCrash.failed} of ${m.atCrash.total} documents`,
    },
    {
      ok: onlyUnfinished,
      label: "the resumed run processed only what was unfinished",
      measured: resumed
        ? `processed ${resumed.processed} (unfinished at the crash: ${m.atCrash.unfinished}), skipped ${resumed.skipped_done} already complete (complete at the crash: ${m.atCrash.completed})`
        : "no resumed run",
    },
    {
      ok: r.completion_rate >= t.completion,
      label: `completion rate >= ${pct(t.completion)}`,
      measured: pct(r.completion_rate),
    },
    { ok: r.dup_rate <= t.dup, label: `duplicate rate <= ${pct(t.dup)}`, measured: pct(r.dup_rate) },
    { ok: r.fail_rate <= t.fail, label: `fail rate <= ${pct(t.fail)}`, measured: pct(r.fail_rate) },
    {
      ok: r.resume_time_ms !== null && r.resume_time_ms <= t.resumeMs,
      label: `resume time <= ${t.resumeMs / 1000} s`,
      measured: r.resume_time_ms === null ? "no resume measured" : `${r.resume_time_ms} ms`,
    },
    {
      ok: r.latency_ms.count > 0 && r.latency_ms.p50 > 0 && r.latency_ms.p95 >= r.latency_ms.p50,
      label: "latency p50 / p95 measured",
      measured: `p50 ${r.latency_ms.p50} ms, p95 ${r.latency_ms.p95} ms over ${r.latency_ms.count} documents`,
    },
    {
      ok: r.retries > 0,
      label: "retries exercised",
      measured: `${r.retries} retries; failed attempts: ${
        Object.entries(r.failure_reasons)
          .map(([c, n]) => `${c} ${n}`)
          .join(", ") || "none"
      }`,
    },
    {
      ok: r.counts.degraded > 0,
      label: "fallback path exercised",
      measured: `${r.counts.degraded} degraded (${
        Object.entries(r.degraded_by_reason)
          .map(([c, n]) => `${c} ${n}`)
          .join(", ") || "none"
      })`,
    },
    {
      ok: m.errorExitCode === 2 && isErrorBody(m.errorBody),
      label: "an invalid input gets the unified error body (exit 2)",
      measured: isErrorBody(m.errorBody)
        ? `exit ${m.errorExitCode}, code ${m.errorBody.error.code}, ${m.errorBody.error.details.length} detail(s)`
        : `exit ${m.errorExitCode}, no error body`,
    },
  ];
}

export function isErrorBody(value: unknown): value is ErrorBody {
  const error = (value as ErrorBody | null)?.error;
  return (
    typeof error === "object" &&
    error !== null &&
    typeof error.code === "string" &&
    /^[A-Z][A-Z0-9_]*$/.test(error.code) &&
    typeof error.message === "string" &&
    Array.isArray(error.details) &&
    Array.isArray(error.hints) &&
    error.hints.length > 0
  );
}

export function formatChecklist(items: CheckItem[], color: boolean): string {
  const tick = color ? "\x1b[32m✔\x1b[0m" : "✔";
  const cross = color ? "\x1b[31m✘\x1b[0m" : "✘";
  return items.map((i) => `  ${i.ok ? tick : cross} ${i.label.padEnd(54)} ${i.measured}`).join("\n");
}
