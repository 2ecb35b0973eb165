import type { FailureCount } from "../store/store.js";
import type { BatchReport } from "./report.js";

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const pct = (r: number) => `${(r * 100).toFixed(1)}%`;
const ms = (n: number) =>
  n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(n < 1 ? 2 : n < 10 ? 1 : 0)} ms`;

export interface FormatOptions {
  /** How the commands of "next" start docbatch. @default "docbatch" */
  cli?: string;
  /** Flags naming the store, added to the commands of "next" (e.g. `--db ingest.db`). @default "" */
  store?: string;
  /** Whether to end with what to do next. @default true */
  nextSteps?: boolean;
}

/** The report for people: states, rates, percentiles, failure reasons, and what to do next. */
export function formatReport(
  report: BatchReport,
  failures: FailureCount[] = [],
  options: FormatOptions = {},
): string {
  return [
    ...summaryLines(report),
    ...runLines(report),
    ...workerLines(report),
    ...failureReasonLines(report, failures),
    ...nextStepLines(report, options),
  ].join("\n");
}

/** The batch's counts, rates, speed, stages and checkpoint facts. */
function summaryLines(report: BatchReport): string[] {
  const c = report.counts;
  const lines: string[] = [];
  lines.push(`batch ${report.batch_id}  (${report.checkpoint})`);
  lines.push(
    `  documents  ${int(c.total)} total: ${int(c.done)} done, ${int(c.degraded)} degraded, ${int(c.failed)} failed, ` +
      `${int(c.pending)} pending, ${int(c.processing)} processing`,
  );
  lines.push(
    `  skipped    ${int(c.duplicates_skipped)} duplicates in the input, ${int(c.unchanged_skipped)} unchanged and already complete` +
      (c.skipped_unsupported > 0 ? `, ${int(c.skipped_unsupported)} files that are not documents` : ""),
  );
  if (c.changed > 0 || c.deleted > 0) {
    lines.push(
      `  updates    ${int(c.changed)} changed since the last plan, ${int(c.deleted)} deleted (no longer in the input)`,
    );
  }
  lines.push(
    `  rates      completion ${pct(report.completion_rate)}, fail ${pct(report.fail_rate)}, duplicate ${pct(report.dup_rate)}, ` +
      `retries ${int(report.retries)}`,
  );
  lines.push(
    `  embedding  ${int(report.texts_embedded)} texts embedded, ${int(report.cache_hits)} found in the cache` +
      (report.cache_hit_rate === null ? "" : ` (hit rate ${pct(report.cache_hit_rate)})`),
  );
  lines.push(
    `  speed      ${int(report.throughput_docs_per_min)} docs/min over the processing time of all runs; latency p50 ${ms(report.latency_ms.p50)}, ` +
      `p95 ${ms(report.latency_ms.p95)}, p99 ${ms(report.latency_ms.p99)}`,
  );
  const st = report.stage_latency_ms;
  lines.push(
    `  stages     p50 / p95: ${(["parse", "clean", "chunk", "embed", "write"] as const)
      .map((name) => `${name} ${ms(st[name].p50)} / ${ms(st[name].p95)}`)
      .join(", ")}`,
  );
  lines.push(
    `  checkpoint hit rate ${pct(report.checkpoint_hit_rate)} in the latest run; ${int(report.executions)} executions; ` +
      `breaker opened ${int(report.breaker_openings)} time${report.breaker_openings === 1 ? "" : "s"}`,
  );
  const degraded = Object.entries(report.degraded_by_reason);
  if (degraded.length > 0)
    lines.push(`  degraded   ${degraded.map(([code, n]) => `${code} ${int(n)}`).join(", ")}`);
  if (report.resume_time_ms !== null)
    lines.push(
      `  resume     ${ms(report.resume_time_ms)} from process start to the first unfinished document`,
    );
  return lines;
}

function runLines(report: BatchReport): string[] {
  const lines: string[] = [];
  lines.push("  runs");
  for (const r of report.runs) {
    const state = r.exit_reason === "running" ? "running (or killed and not yet recovered)" : r.exit_reason;
    lines.push(
      `    #${r.run} ${r.started_at} ${state}${r.resumed ? ", resumed" : ""}: processed ${int(r.processed)}, ` +
        `skipped ${int(r.skipped_done)}, recovered in flight ${int(r.recovered_in_flight)}`,
    );
  }
  return lines;
}

function workerLines(report: BatchReport): string[] {
  const lines: string[] = [];
  // Runs one after another are not workers sharing a batch: the section is for those that do.
  const shared = report.runs.some((r) => r.command === "worker") && report.workers.length > 1;
  if (shared || report.reclaimed_documents > 0 || report.fenced_commits > 0) {
    lines.push(
      `  workers    ${report.workers.length}; reclaimed ${int(report.reclaimed_documents)} documents from dead workers ` +
        `(p50 ${ms(report.reclaim_delay_ms.p50)}, max ${ms(report.reclaim_delay_ms.max)} after their last sign of life); ` +
        `${int(report.fenced_commits)} late commits fenced out`,
    );
    for (const w of report.workers) {
      lines.push(
        `    ${w.worker_id}: ${w.runs} run${w.runs === 1 ? "" : "s"}, processed ${int(w.processed)}, ` +
          `recovered ${int(w.recovered_in_flight)}, fenced ${int(w.fenced_commits)}`,
      );
    }
  }
  return lines;
}

function failureReasonLines(report: BatchReport, failures: FailureCount[]): string[] {
  const lines: string[] = [];
  const reasons: { code: string; count: number; exampleDocId?: string; exampleMessage?: string }[] =
    failures.length > 0
      ? failures
      : Object.entries(report.failure_reasons).map(([code, count]) => ({ code, count }));
  if (reasons.length > 0) {
    lines.push("  failure reasons (failed attempts, including retried ones)");
    for (const f of reasons.slice(0, 8)) {
      const example = f.exampleDocId
        ? `  e.g. ${f.exampleDocId}: ${truncate(f.exampleMessage ?? "", 70)}`
        : "";
      lines.push(`    ${f.code.padEnd(20)} ${int(f.count).padStart(7)}${example}`);
    }
  }
  return lines;
}

function nextStepLines(report: BatchReport, options: FormatOptions): string[] {
  const lines: string[] = [];
  const next = options.nextSteps === false ? [] : nextSteps(report, options);
  if (next.length > 0) {
    lines.push("  next");
    for (const step of next) lines.push(`    ${step}`);
  }
  return lines;
}

function nextSteps(report: BatchReport, options: FormatOptions): string[] {
  const c = report.counts;
  const cli = options.cli ?? "docbatch";
  const id = `${options.store ? `${options.store} ` : ""}--batch-id ${shellWord(report.batch_id)}`;
  const steps: string[] = [];
  if (c.pending + c.processing > 0)
    steps.push(
      `${int(c.pending + c.processing)} documents are unfinished: run the same command again to resume.`,
    );
  if (c.failed > 0)
    steps.push(`see why documents failed: ${cli} status ${id}; after fixing: ${cli} retry ${id}`);
  if (c.degraded > 0)
    steps.push(`backfill degraded documents: ${cli} retry ${id} --degraded, then run again`);
  return steps;
}

function shellWord(word: string): string {
  return /^[\w./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
