import { batchNotFound } from "../core/errors.js";
import { percentiles, round } from "../core/stats.js";
import type { StateCounts } from "../core/types.js";
import type { DocumentFacts, FailureCount, RunInfo, Store, StoreEvent } from "../store/store.js";
import { type SinkReport, sinkReport } from "./sinks.js";

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
  /** finished, interrupted, fail-budget, crashed, or running. */
  exit_reason: string;
  first_claim_at: string | null;
  resume_time_ms: number | null;
  /** Documents skipped as already complete ÷ documents the run saw (skipped + processed). */
  checkpoint_hit_rate: number;
  fenced_commits: number;
  texts_embedded: number;
  cache_hits: number;
}

export interface Quantiles {
  p50: number;
  p95: number;
  p99: number;
}

export const REPORT_STAGES = ["parse", "clean", "chunk", "embed", "write"] as const;
export type ReportStage = (typeof REPORT_STAGES)[number];

/** The contract's report, plus fields of our own after the contract's. */
export interface BatchReport {
  batch_id: string;
  checkpoint: string;
  counts: StateCounts;
  completion_rate: number;
  fail_rate: number;
  dup_rate: number;
  retries: number;
  /** Chunk texts sent to the embedder, over all runs. */
  texts_embedded: number;
  /** Chunk texts found in the embedding cache instead, over all runs. */
  cache_hits: number;
  /** cache_hits ÷ (cache_hits + texts_embedded); null before any text was embedded or found. */
  cache_hit_rate: number | null;
  throughput_docs_per_min: number;
  latency_ms: Quantiles & { mean: number; max: number; count: number };
  resume_time_ms: number | null;
  failure_reasons: Record<string, number>;
  runs: RunReport[];
  /** Per stage, over the documents that completed it. */
  stage_latency_ms: Record<ReportStage, Quantiles>;
  /** Documents whose completed processing ran again (the numerator of dup_rate). */
  duplicate_executions: number;
  /** Times processing of a document began, summed over documents and runs. */
  executions: number;
  /** The latest run's checkpoint hit rate. */
  checkpoint_hit_rate: number;
  breaker_openings: number;
  degraded_by_reason: Record<string, number>;
  /** Processing time summed over runs, in ms (the denominator of the throughput). */
  processing_ms: number;
  /** Documents taken over from dead or silent workers (expired leases, or processes found gone). */
  reclaimed_documents: number;
  /** From the last sign of life of a dead worker to the reclaim of its documents. */
  reclaim_delay_ms: { p50: number; max: number; count: number };
  /** The latest reclaims (at most 50). */
  reclaims: {
    at: string;
    from_run: number | null;
    by_run: number | null;
    documents: number;
    via: string;
    since_last_seen_ms: number | null;
  }[];
  /** Commits rejected because their lease had been taken over, over all runs. */
  fenced_commits: number;
  /** What each worker did, over its runs. */
  workers: {
    worker_id: string;
    runs: number;
    processed: number;
    recovered_in_flight: number;
    fenced_commits: number;
  }[];
  plan: { generation: number; records: number; complete: boolean; input: string };
  /** Every sink of the batch: what it acknowledged, its lag and its last error. */
  sinks: SinkReport[];
}

/** Histograms and time series for the HTML report and the Prometheus export. */
export interface ReportSeries {
  /** Upper bounds of the latency buckets, in ms (the last bucket is unbounded). */
  bucketsMs: number[];
  /** Per stage ("total" is start of processing → commit): documents per bucket, and their sum. */
  latency: Record<"total" | ReportStage, { counts: number[]; sumMs: number; count: number }>;
  /** Cumulative documents completed over time, per run; t in ms since the first run started. */
  timeline: { run: number; points: [number, number][] }[];
  runs: { run: number; start: number; end: number; crashed: boolean; exitReason: string | null }[];
  origin: number;
  failures: FailureCount[];
}

export interface BatchAnalysis {
  report: BatchReport;
  series: ReportSeries;
}

export const LATENCY_BUCKETS_MS = [
  1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
];
const TIMELINE_POINTS = 240;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Texts embedded and found in the cache, over the batch's runs. */
function embedFacts(runs: RunInfo[]): Pick<BatchReport, "texts_embedded" | "cache_hits" | "cache_hit_rate"> {
  const embedded = runs.reduce((sum, r) => sum + r.textsEmbedded, 0);
  const hits = runs.reduce((sum, r) => sum + r.cacheHits, 0);
  const looked = embedded + hits;
  return {
    texts_embedded: embedded,
    cache_hits: hits,
    cache_hit_rate: looked > 0 ? round(hits / looked, 4) : null,
  };
}

/**
 * The contract's report of a batch, computed from the store.
 * @throws DocbatchError `BATCH_NOT_FOUND` when the store holds no such batch (as the CLI exits 2).
 */
export async function buildReport(store: Store, batchId: string): Promise<BatchReport> {
  return (await analyzeBatch(store, batchId)).report;
}

/**
 * Computes the report from the store alone, never from a process's memory, so that it covers
 * every run, including runs that were killed.
 */
export async function analyzeBatch(store: Store, batchId: string): Promise<BatchAnalysis> {
  const batch = await store.getBatch(batchId);
  if (!batch) throw batchNotFound(batchId);
  const counts = await store.counts(batchId);
  const runs = await store.listRuns(batchId);
  const failures = await store.failureCounts(batchId);
  const breakerEvents = await store.events(batchId, ["breaker"]);
  const reclaimEvents = await store.events(batchId, ["reclaim"]);
  const origin = runs[0]?.startedAt ?? Date.now();
  const facts = await store.documentFacts(batchId, origin);
  const { retries, reexecuted, executions } = facts;
  const degradedByReason = facts.degradedByReason;
  const values = facts.durations;
  const completed = counts.done + counts.degraded;
  const processingMs = runs.reduce((acc, r) => acc + processingTime(r), 0);
  const latestResumed = [...runs].reverse().find((r) => r.resumed && r.firstClaimAt !== null);
  const runReports = runs.map(toRunReport);
  const report: BatchReport = {
    batch_id: batchId,
    checkpoint: `checkpoint:${batchId}`,
    counts,
    completion_rate: counts.total === 0 ? 1 : round(completed / counts.total, 4),
    fail_rate: counts.total === 0 ? 0 : round(counts.failed / counts.total, 4),
    dup_rate: counts.total === 0 ? 0 : round(reexecuted / counts.total, 4),
    retries,
    ...embedFacts(runs),
    throughput_docs_per_min: processingMs > 0 ? round((completed / processingMs) * 60_000, 1) : 0,
    latency_ms: latencySummary(values),
    resume_time_ms: latestResumed ? resumeTime(latestResumed) : null,
    failure_reasons: Object.fromEntries(failures.map((f) => [f.code, f.count])),
    runs: runReports,
    stage_latency_ms: stageLatency(facts.stages),
    duplicate_executions: reexecuted,
    executions,
    checkpoint_hit_rate: runReports.at(-1)?.checkpoint_hit_rate ?? 0,
    breaker_openings: breakerEvents.filter((e) => e.data.to === "open").length,
    degraded_by_reason: degradedByReason,
    processing_ms: Math.round(processingMs),
    ...reclaimFacts(reclaimEvents, runs),
    fenced_commits: runs.reduce((sum, r) => sum + r.fencedCommits, 0),
    workers: workerFacts(runs),
    plan: {
      generation: batch?.planGeneration ?? 0,
      records: batch?.planRecords ?? 0,
      complete: batch?.planComplete ?? false,
      input: batch?.inputRef ?? "",
    },
    sinks: await sinkReport(store, batchId),
  };
  return { report, series: reportSeries(values, facts, runs, origin, failures) };
}

/** Percentiles, mean and maximum of the documents' processing times. */
function latencySummary(values: DocumentFacts["durations"]): BatchReport["latency_ms"] {
  const [p50, p95, p99] = percentiles(values, [50, 95, 99]);
  let sum = 0;
  let max = 0;
  for (const v of values) {
    sum += v;
    if (v > max) max = v;
  }
  return {
    p50: round(p50!),
    p95: round(p95!),
    p99: round(p99!),
    mean: values.length ? round(sum / values.length) : 0,
    max: round(max),
    count: values.length,
  };
}

function stageLatency(stages: DocumentFacts["stages"]): Record<ReportStage, Quantiles> {
  return Object.fromEntries(
    REPORT_STAGES.map((stage) => {
      const [a, b, c] = percentiles(stages[stage], [50, 95, 99]);
      return [stage, { p50: round(a!, 3), p95: round(b!, 3), p99: round(c!, 3) }];
    }),
  ) as Record<ReportStage, Quantiles>;
}

/** What the charts of the HTML report and the Prometheus histograms are drawn from. */
function reportSeries(
  values: DocumentFacts["durations"],
  facts: DocumentFacts,
  runs: RunInfo[],
  origin: number,
  failures: FailureCount[],
): ReportSeries {
  return {
    bucketsMs: LATENCY_BUCKETS_MS,
    latency: {
      total: histogram(values),
      ...(Object.fromEntries(REPORT_STAGES.map((s) => [s, histogram(facts.stages[s])])) as Record<
        ReportStage,
        ReturnType<typeof histogram>
      >),
    },
    timeline: timeline(facts.commits),
    runs: runs.map((r) => ({
      run: r.run,
      start: r.startedAt - origin,
      end: (r.endedAt ?? r.lastSeenAt) - origin,
      crashed: runOutcome(r) === "crashed",
      exitReason: runOutcome(r),
    })),
    origin,
    failures,
  };
}

function reclaimFacts(events: StoreEvent[], runs: RunInfo[]) {
  const lastSeen = new Map(runs.map((r) => [r.run, r.lastSeenAt]));
  const reclaims = events.map((e) => {
    const from = (e.data.from_run as number | null) ?? null;
    const seen = from === null ? undefined : lastSeen.get(from);
    return {
      at: new Date(e.at).toISOString(),
      from_run: from,
      by_run: e.run,
      documents: Number(e.data.documents ?? 0),
      via: String(e.data.via ?? "lease"),
      since_last_seen_ms: seen === undefined ? null : Math.max(0, e.at - seen),
    };
  });
  const delays = reclaims.flatMap((r) => (r.since_last_seen_ms === null ? [] : [r.since_last_seen_ms]));
  const [p50] = percentiles(delays, [50]);
  return {
    reclaimed_documents: reclaims.reduce((sum, r) => sum + r.documents, 0),
    reclaim_delay_ms: {
      p50: round(p50!),
      max: delays.length ? Math.max(...delays) : 0,
      count: delays.length,
    },
    reclaims: reclaims.slice(-50),
  };
}

/** What each worker processed; a `submit` only plans, so it is no worker. */
function workerFacts(runs: RunInfo[]): BatchReport["workers"] {
  const byWorker = new Map<string, BatchReport["workers"][number]>();
  for (const r of runs) {
    if (r.command === "submit") continue;
    const w = byWorker.get(r.workerId) ?? {
      worker_id: r.workerId,
      runs: 0,
      processed: 0,
      recovered_in_flight: 0,
      fenced_commits: 0,
    };
    w.runs += 1;
    w.processed += r.processed;
    w.recovered_in_flight += r.recoveredInFlight;
    w.fenced_commits += r.fencedCommits;
    byWorker.set(r.workerId, w);
  }
  return [...byWorker.values()];
}

function histogram(values: ArrayLike<number>): { counts: number[]; sumMs: number; count: number } {
  const counts = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    sum += v;
    let b = 0;
    while (b < LATENCY_BUCKETS_MS.length && v > LATENCY_BUCKETS_MS[b]!) b++;
    counts[b]! += 1;
  }
  return { counts, sumMs: sum, count: values.length };
}

/**
 * Cumulative completions over the whole batch, split by the run that made them, down-sampled to
 * about TIMELINE_POINTS points a run without building a point per document.
 */
function timeline(packed: Float64Array): ReportSeries["timeline"] {
  const sorted = Float64Array.from(packed).sort();
  const perRun = new Map<number, number>();
  for (let i = 0; i < sorted.length; i++) {
    const run = sorted[i]! % 65_536;
    perRun.set(run, (perRun.get(run) ?? 0) + 1);
  }
  const lines = new Map<number, { step: number; seen: number; points: [number, number][] }>();
  for (const [run, n] of perRun)
    lines.set(run, { step: Math.max(1, n / TIMELINE_POINTS), seen: 0, points: [] });
  for (let i = 0; i < sorted.length; i++) {
    const key = sorted[i]!;
    const run = key % 65_536;
    const line = lines.get(run)!;
    const n = perRun.get(run)!;
    // The first point, every step-th one, and the last.
    if (
      line.seen === 0 ||
      line.seen === n - 1 ||
      Math.floor(line.seen / line.step) !== Math.floor((line.seen - 1) / line.step)
    ) {
      line.points.push([(key - run) / 65_536, i + 1]);
    }
    line.seen += 1;
  }
  return [...lines.entries()].map(([run, line]) => ({ run, points: line.points }));
}

/**
 * A run that ended says how; one that did not is crashed once a later run recovered its documents
 * or once it has been silent for longer than a lease (a live run commits or renews leases at least
 * every third of a lease), else it is still running.
 */
const SILENT_MS = 45_000;

export function runOutcome(run: RunInfo): string {
  if (run.endedAt !== null) return run.exitReason ?? "ended";
  // Silence as the store's clock measured it when the runs were read: workers' clocks may differ.
  if (run.exitReason === "crashed" || run.silentMs > SILENT_MS) return "crashed";
  return "running";
}

function _isFinal(state: string): boolean {
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
  const seen = run.skippedDone + run.processed;
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
    exit_reason: runOutcome(run),
    first_claim_at: iso(run.firstClaimAt),
    resume_time_ms: run.resumed ? resumeTime(run) : null,
    checkpoint_hit_rate: seen > 0 ? round(run.skippedDone / seen, 4) : 0,
    fenced_commits: run.fencedCommits,
    texts_embedded: run.textsEmbedded,
    cache_hits: run.cacheHits,
  };
}
