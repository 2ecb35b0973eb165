import type { BatchAnalysis, BatchReport, ReportStage } from "./report.js";
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

type Labels = Record<string, string>;

/**
 * A metric with one or more samples per batch, each with the labels beyond `batch_id`. A batch
 * for which `samples` gives null leaves the family out (when no batch has it, so does the text);
 * an empty list keeps the family's HELP and TYPE lines.
 */
interface BatchMetric {
  name: string;
  type: Family["type"];
  help: string;
  samples: (report: BatchReport) => Array<[Labels, number]> | null;
}

const one =
  (value: (report: BatchReport) => number) =>
  (report: BatchReport): Array<[Labels, number]> => [[{}, value(report)]];

const sum = (runs: BatchReport["runs"], field: "recovered_in_flight" | "fenced_commits") =>
  runs.reduce((total, run) => total + run[field], 0);

/** The metrics of a batch read from its report, in the order of the exposition. */
const BATCH_METRICS: BatchMetric[] = [
  {
    name: "docbatch_documents",
    type: "gauge",
    help: "Documents of the batch by state.",
    samples: (r) =>
      (["done", "degraded", "failed", "pending", "processing"] as const).map((state) => [
        { state },
        r.counts[state],
      ]),
  },
  {
    name: "docbatch_documents_skipped",
    type: "gauge",
    help: "Documents skipped: duplicates in the input, unchanged in the latest run.",
    samples: (r) => [
      [{ reason: "duplicate" }, r.counts.duplicates_skipped],
      [{ reason: "unchanged" }, r.counts.unchanged_skipped],
    ],
  },
  {
    name: "docbatch_completion_ratio",
    type: "gauge",
    help: "(done + degraded) / total.",
    samples: one((r) => r.completion_rate),
  },
  {
    name: "docbatch_failure_ratio",
    type: "gauge",
    help: "failed / total.",
    samples: one((r) => r.fail_rate),
  },
  {
    name: "docbatch_duplicate_ratio",
    type: "gauge",
    help: "Documents whose completed processing ran again, over total.",
    samples: one((r) => r.dup_rate),
  },
  {
    name: "docbatch_retries_total",
    type: "counter",
    help: "Attempts beyond the first, summed over documents.",
    samples: one((r) => r.retries),
  },
  {
    name: "docbatch_texts_embedded_total",
    type: "counter",
    help: "Chunk texts sent to the embedder.",
    samples: one((r) => r.texts_embedded),
  },
  {
    name: "docbatch_cache_hits_total",
    type: "counter",
    help: "Chunk texts found in the embedding cache instead.",
    samples: one((r) => r.cache_hits),
  },
  {
    name: "docbatch_cache_hit_ratio",
    type: "gauge",
    help: "cache hits / (cache hits + texts embedded).",
    samples: one((r) => r.cache_hit_rate ?? 0),
  },
  {
    name: "docbatch_executions_total",
    type: "counter",
    help: "Times processing of a document began.",
    samples: one((r) => r.executions),
  },
  {
    name: "docbatch_failed_attempts_total",
    type: "counter",
    help: "Failed attempts by error code, including retried ones.",
    samples: (r) => Object.entries(r.failure_reasons).map(([code, count]) => [{ code }, count]),
  },
  {
    name: "docbatch_degraded_documents",
    type: "gauge",
    help: "Degraded documents by the reason of their fallback.",
    samples: (r) => Object.entries(r.degraded_by_reason).map(([reason, count]) => [{ reason }, count]),
  },
  {
    name: "docbatch_throughput_documents_per_second",
    type: "gauge",
    help: "Completed documents per second of processing time.",
    samples: one((r) => r.throughput_docs_per_min / 60),
  },
  {
    name: "docbatch_processing_seconds_total",
    type: "counter",
    help: "Processing time summed over runs.",
    samples: one((r) => r.processing_ms / 1000),
  },
  {
    name: "docbatch_resume_time_seconds",
    type: "gauge",
    help: "Latest resumed run: process start to the first unfinished document.",
    samples: (r) => (r.resume_time_ms === null ? null : [[{}, r.resume_time_ms / 1000]]),
  },
  {
    name: "docbatch_runs_total",
    type: "counter",
    help: "Runs of the batch.",
    samples: one((r) => r.runs.length),
  },
  {
    name: "docbatch_recovered_in_flight_total",
    type: "counter",
    help: "Documents recovered from dead runs or expired leases.",
    samples: one((r) => sum(r.runs, "recovered_in_flight")),
  },
  {
    name: "docbatch_fenced_commits_total",
    type: "counter",
    help: "Commits rejected because the lease had been taken over.",
    samples: one((r) => sum(r.runs, "fenced_commits")),
  },
  {
    name: "docbatch_breaker_openings_total",
    type: "counter",
    help: "Times the embeddings circuit breaker opened.",
    samples: one((r) => r.breaker_openings),
  },
  {
    name: "docbatch_checkpoint_hit_ratio",
    type: "gauge",
    help: "Latest run: documents skipped as complete over documents seen.",
    samples: one((r) => r.checkpoint_hit_rate),
  },
  {
    name: "docbatch_sink_lag",
    type: "gauge",
    help: "Output changes committed but not yet acknowledged by the sink.",
    samples: (r) => sinkSamples(r, (sink) => sink.lag),
  },
  {
    name: "docbatch_sink_delivered_seq",
    type: "gauge",
    help: "The last outbox seq the sink acknowledged.",
    samples: (r) => sinkSamples(r, (sink) => sink.delivered_seq),
  },
  {
    name: "docbatch_sink_failing",
    type: "gauge",
    help: "1 while the sink's last delivery failed.",
    samples: (r) => sinkSamples(r, (sink) => (sink.last_error ? 1 : 0)),
  },
];

/** One sample per sink, labelled by its URI; a batch without sinks leaves the sink families out. */
function sinkSamples(
  report: BatchReport,
  value: (sink: BatchReport["sinks"][number]) => number,
): Array<[Labels, number]> | null {
  return report.sinks.length === 0 ? null : report.sinks.map((sink) => [{ sink: sink.uri }, value(sink)]);
}

/** The families of the exposition, in the order they first appear, each with its sample lines. */
class Exposition {
  private readonly families = new Map<string, Family>();

  family(name: string, type: Family["type"], help: string): Family {
    let f = this.families.get(name);
    if (!f) {
      f = { name, type, help, samples: [] };
      this.families.set(name, f);
    }
    return f;
  }

  sample(f: Family, labels: Labels, value: number, suffix = ""): void {
    f.samples.push(`${f.name}${suffix}${formatLabels(labels)} ${formatValue(value)}`);
  }

  histogram(f: Family, labels: Labels, data: LatencySeries, bucketsMs: number[]): void {
    let cumulative = 0;
    bucketsMs.forEach((le, i) => {
      cumulative += data.counts[i] ?? 0;
      this.sample(f, { ...labels, le: String(le / 1000) }, cumulative, "_bucket");
    });
    this.sample(f, { ...labels, le: "+Inf" }, data.count, "_bucket");
    this.sample(f, labels, data.sumMs / 1000, "_sum");
    this.sample(f, labels, data.count, "_count");
  }

  text(): string {
    const lines: string[] = [];
    for (const f of this.families.values()) {
      lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.samples);
    }
    return `${lines.join("\n")}\n`;
  }
}

type LatencySeries = { counts: number[]; sumMs: number; count: number };

export function renderPrometheus(analyses: BatchAnalysis[]): string {
  const out = new Exposition();
  for (const { report, series } of analyses) {
    const batch = { batch_id: report.batch_id };
    for (const metric of BATCH_METRICS) {
      const samples = metric.samples(report);
      if (samples === null) continue;
      const f = out.family(metric.name, metric.type, metric.help);
      for (const [labels, value] of samples) out.sample(f, { ...batch, ...labels }, value);
    }
    const total = out.family(
      "docbatch_document_duration_seconds",
      "histogram",
      "Start of processing to commit, per document.",
    );
    out.histogram(total, batch, series.latency.total, series.bucketsMs);
    const stages = out.family(
      "docbatch_stage_duration_seconds",
      "histogram",
      "Time per pipeline stage, per completed document.",
    );
    for (const stage of REPORT_STAGES as readonly ReportStage[]) {
      out.histogram(stages, { ...batch, stage }, series.latency[stage], series.bucketsMs);
    }
  }
  return out.text();
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
