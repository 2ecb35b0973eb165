import { NumberList, percentiles, round } from "../core/stats.js";
import type { StateCounts } from "../core/types.js";
import type { RunInfo, Store } from "../store/store.js";

export interface RunReport {
  run: number;
  started_at: string;
  ended_at: string | null;
  resumed: boolean;
  processed: number;
  skipped_done: number;
  recovered_in_flight: number;
  worker_id: string;
  host: string;
  pid: number;
  command: string;
  /** finished, interrupted, fail-budget, crashed, or null while running. */
  exit_reason: string | null;
  first_claim_at: string | null;
  resume_time_ms: number | null;
  fenced_commits: number;
}

/** The contract's report, plus fields of our own after the contract's. */
export interface BatchReport {
  batch_id: string;
  checkpoint: string;
  counts: StateCounts;
  completion_rate: number;
  fail_rate: number;
  dup_rate: number;
  retries: number;
  throughput_docs_per_min: number;
  latency_ms: { p50: number; p95: number; p99: number; mean: number; max: number };
  resume_time_ms: number | null;
  failure_reasons: Record<string, number>;
  runs: RunReport[];
  /** Documents whose completed processing ran again (the numerator of dup_rate). */
  duplicate_executions: number;
  /** Processing time summed over runs, in ms (the denominator of the throughput). */
  processing_ms: number;
  plan: { generation: number; records: number; complete: boolean; input: string };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * Computes the report from the store alone, never from a process's memory, so it covers every
 * run, including runs that were killed.
 */
export async function buildReport(store: Store, batchId: string): Promise<BatchReport> {
  const batch = await store.getBatch(batchId);
  const counts = await store.counts(batchId);
  const runs = await store.listRuns(batchId);
  const failures = await store.failureCounts(batchId);
  const latencies = new NumberList();
  let retries = 0;
  let reexecuted = 0;
  for await (const doc of store.documentMetrics(batchId)) {
    retries += Math.max(0, doc.attempts - 1);
    if (doc.reexecuted) reexecuted += 1;
    if (doc.committedAt !== null && doc.durationMs !== null && isFinal(doc.state))
      latencies.push(doc.durationMs);
  }
  const [p50, p95, p99] = percentiles(latencies.values(), [50, 95, 99]);
  const values = latencies.values();
  const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
  const max = values.length ? values.reduce((a, b) => Math.max(a, b), 0) : 0;
  const total = counts.total;
  const completed = counts.done + counts.degraded;
  const processingMs = runs.reduce((sum, r) => sum + processingTime(r), 0);
  const latestResumed = [...runs].reverse().find((r) => r.resumed && r.firstClaimAt !== null);
  return {
    batch_id: batchId,
    checkpoint: `checkpoint:${batchId}`,
    counts,
    completion_rate: total === 0 ? 1 : round(completed / total, 4),
    fail_rate: total === 0 ? 0 : round(counts.failed / total, 4),
    dup_rate: total === 0 ? 0 : round(reexecuted / total, 4),
    retries,
    throughput_docs_per_min: processingMs > 0 ? round((completed / processingMs) * 60_000, 1) : 0,
    latency_ms: { p50: round(p50!), p95: round(p95!), p99: round(p99!), mean: round(mean), max: round(max) },
    resume_time_ms: latestResumed ? resumeTime(latestResumed) : null,
    failure_reasons: Object.fromEntries(failures.map((f) => [f.code, f.count])),
    runs: runs.map(toRunReport),
    duplicate_executions: reexecuted,
    processing_ms: Math.round(processingMs),
    plan: {
      generation: batch?.planGeneration ?? 0,
      records: batch?.planRecords ?? 0,
      complete: batch?.planComplete ?? false,
      input: batch?.inputRef ?? "",
    },
  };
}

function isFinal(state: string): boolean {
  return state === "done" || state === "degraded" || state === "failed";
}

/** From the first claim to the last sign of life; a run that claimed nothing processed for 0 ms. */
function processingTime(run: RunInfo): number {
  if (run.firstClaimAt === null) return 0;
  return Math.max(0, (run.endedAt ?? run.lastSeenAt) - run.firstClaimAt);
}

function resumeTime(run: RunInfo): number | null {
  return run.firstClaimAt === null ? null : Math.max(0, run.firstClaimAt - run.processStartedAt);
}

function toRunReport(run: RunInfo): RunReport {
  return {
    run: run.run,
    started_at: iso(run.startedAt)!,
    ended_at: iso(run.endedAt),
    resumed: run.resumed,
    processed: run.processed,
    skipped_done: run.skippedDone,
    recovered_in_flight: run.recoveredInFlight,
    worker_id: run.workerId,
    host: run.host,
    pid: run.pid,
    command: run.command,
    exit_reason: run.exitReason,
    first_claim_at: iso(run.firstClaimAt),
    resume_time_ms: run.resumed ? resumeTime(run) : null,
    fenced_commits: run.fencedCommits,
  };
}
