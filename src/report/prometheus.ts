import type { BatchAnalysis, ReportStage } from "./report.js";
import { REPORT_STAGES } from "./report.js";

/**
 * The Prometheus text exposition format (version 0.0.4) of one or more batches. Names follow the
 * conventions: a `docbatch_` prefix, base units (seconds, ratios), `_total` on counters.
 */

interface Family {
  name: string;
  type: "gauge" | "counter" | "histogram";
  help: string;
  samples: string[];
}

export function renderPrometheus(analyses: BatchAnalysis[]): string {
  const families = new Map<string, Family>();
  const family = (name: string, type: Family["type"], help: string): Family => {
    let f = families.get(name);
    if (!f) {
      f = { name, type, help, samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const sample = (f: Family, labels: Record<string, string>, value: number, suffix = "") => {
    f.samples.push(`${f.name}${suffix}${formatLabels(labels)} ${formatValue(value)}`);
  };

  for (const { report, series } of analyses) {
    const batch = { batch_id: report.batch_id };
    const documents = family("docbatch_documents", "gauge", "Documents of the batch by state.");
    for (const state of ["done", "degraded", "failed", "pending", "processing"] as const) {
      sample(documents, { ...batch, state }, report.counts[state]);
    }
    const skipped = family(
      "docbatch_documents_skipped",
      "gauge",
      "Documents skipped: duplicates in the input, unchanged in the latest run.",
    );
    sample(skipped, { ...batch, reason: "duplicate" }, report.counts.duplicates_skipped);
    sample(skipped, { ...batch, reason: "unchanged" }, report.counts.unchanged_skipped);
    sample(
      family("docbatch_completion_ratio", "gauge", "(done + degraded) / total."),
      batch,
      report.completion_rate,
    );
    sample(family("docbatch_failure_ratio", "gauge", "failed / total."), batch, report.fail_rate);
    sample(
      family(
        "docbatch_duplicate_ratio",
        "gauge",
        "Documents whose completed processing ran again, over total.",
      ),
      batch,
      report.dup_rate,
    );
    sample(
      family("docbatch_retries_total", "counter", "Attempts beyond the first, summed over documents."),
      batch,
      report.retries,
    );
    sample(
      family("docbatch_texts_embedded_total", "counter", "Chunk texts sent to the embedder."),
      batch,
      report.texts_embedded,
    );
    sample(
      family("docbatch_cache_hits_total", "counter", "Chunk texts found in the embedding cache instead."),
      batch,
      report.cache_hits,
    );
    sample(
      family("docbatch_cache_hit_ratio", "gauge", "cache hits / (cache hits + texts embedded)."),
      batch,
      report.cache_hit_rate ?? 0,
    );
    sample(
      family("docbatch_executions_total", "counter", "Times processing of a document began."),
      batch,
      report.executions,
    );
    const failed = family(
      "docbatch_failed_attempts_total",
      "counter",
      "Failed attempts by error code, including retried ones.",
    );
    for (const [code, count] of Object.entries(report.failure_reasons))
      sample(failed, { ...batch, code }, count);
    const degraded = family(
      "docbatch_degraded_documents",
      "gauge",
      "Degraded documents by the reason of their fallback.",
    );
    for (const [reason, count] of Object.entries(report.degraded_by_reason))
      sample(degraded, { ...batch, reason }, count);
    sample(
      family(
        "docbatch_throughput_documents_per_second",
        "gauge",
        "Completed documents per second of processing time.",
      ),
      batch,
      report.throughput_docs_per_min / 60,
    );
    sample(
      family("docbatch_processing_seconds_total", "counter", "Processing time summed over runs."),
      batch,
      report.processing_ms / 1000,
    );
    if (report.resume_time_ms !== null) {
      sample(
        family(
          "docbatch_resume_time_seconds",
          "gauge",
          "Latest resumed run: process start to the first unfinished document.",
        ),
        batch,
        report.resume_time_ms / 1000,
      );
    }
    sample(family("docbatch_runs_total", "counter", "Runs of the batch."), batch, report.runs.length);
    sample(
      family(
        "docbatch_recovered_in_flight_total",
        "counter",
        "Documents recovered from dead runs or expired leases.",
      ),
      batch,
      report.runs.reduce((sum, r) => sum + r.recovered_in_flight, 0),
    );
    sample(
      family(
        "docbatch_fenced_commits_total",
        "counter",
        "Commits rejected because the lease had been taken over.",
      ),
      batch,
      report.runs.reduce((sum, r) => sum + r.fenced_commits, 0),
    );
    sample(
      family("docbatch_breaker_openings_total", "counter", "Times the embeddings circuit breaker opened."),
      batch,
      report.breaker_openings,
    );
    sample(
      family(
        "docbatch_checkpoint_hit_ratio",
        "gauge",
        "Latest run: documents skipped as complete over documents seen.",
      ),
      batch,
      report.checkpoint_hit_rate,
    );
    if (report.sinks.length > 0) sinkMetrics(report.sinks, batch, family, sample);
    const total = family(
      "docbatch_document_duration_seconds",
      "histogram",
      "Start of processing to commit, per document.",
    );
    histogram(total, batch, series.latency.total, series.bucketsMs, sample);
    const stages = family(
      "docbatch_stage_duration_seconds",
      "histogram",
      "Time per pipeline stage, per completed document.",
    );
    for (const stage of REPORT_STAGES as readonly ReportStage[]) {
      histogram(stages, { ...batch, stage }, series.latency[stage], series.bucketsMs, sample);
    }
  }
  const lines: string[] = [];
  for (const f of families.values()) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.samples);
  }
  return `${lines.join("\n")}\n`;
}

function histogram(
  f: Family,
  labels: Record<string, string>,
  data: { counts: number[]; sumMs: number; count: number },
  bucketsMs: number[],
  sample: (f: Family, labels: Record<string, string>, value: number, suffix?: string) => void,
): void {
  let cumulative = 0;
  bucketsMs.forEach((le, i) => {
    cumulative += data.counts[i] ?? 0;
    sample(f, { ...labels, le: String(le / 1000) }, cumulative, "_bucket");
  });
  sample(f, { ...labels, le: "+Inf" }, data.count, "_bucket");
  sample(f, labels, data.sumMs / 1000, "_sum");
  sample(f, labels, data.count, "_count");
}

function formatLabels(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
  );
  return parts.length > 0 ? `{${parts.join(",")}}` : "";
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

function sinkMetrics(
  sinks: BatchAnalysis["report"]["sinks"],
  batch: Record<string, string>,
  family: (name: string, type: Family["type"], help: string) => Family,
  sample: (f: Family, labels: Record<string, string>, value: number) => void,
): void {
  const lag = family(
    "docbatch_sink_lag",
    "gauge",
    "Output changes committed but not yet acknowledged by the sink.",
  );
  const delivered = family(
    "docbatch_sink_delivered_seq",
    "gauge",
    "The last outbox seq the sink acknowledged.",
  );
  const failing = family("docbatch_sink_failing", "gauge", "1 while the sink's last delivery failed.");
  for (const sink of sinks) {
    const labels = { ...batch, sink: sink.uri };
    sample(lag, labels, sink.lag);
    sample(delivered, labels, sink.delivered_seq);
    sample(failing, labels, sink.last_error ? 1 : 0);
  }
}
