import parsePrometheus from "parse-prometheus-text-format";
import { describe, expect, it } from "vitest";
import { runArgs } from "../helpers/args.js";
import { runCli } from "../helpers/cli.js";
import { corpusOnDisk } from "../helpers/corpus.js";

interface Metric {
  labels?: Record<string, string>;
  value?: string;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
interface MetricFamily {
  name: string;
  help: string;
  type: string;
  metrics: Metric[];
}

describe("report --prometheus", () => {
  it("prints metrics a Prometheus text-format parser reads, consistent with the report", async () => {
    const { input, db } = corpusOnDisk({ count: 300, seed: 4, largeShare: 0 });
    const run = await runCli(runArgs(input, { db, batchId: 'p"q', inject: "parse=0.1,embed=0.05", seed: 5 }));
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    const result = await runCli(["report", "--batch-id", 'p"q', "--db", db, "--prometheus"]);
    expect(result.code, result.stderr).toBe(0);
    const families = parsePrometheus(result.stdout) as MetricFamily[];
    const byName = new Map(families.map((f) => [f.name, f]));
    for (const f of families) {
      expect(f.name).toMatch(/^docbatch_[a-z_]+$/);
      expect(["GAUGE", "COUNTER", "HISTOGRAM"]).toContain(f.type);
      expect(f.help.length).toBeGreaterThan(0);
      if (f.type === "COUNTER") expect(f.name).toMatch(/_total$/);
      if (f.type !== "HISTOGRAM") for (const m of f.metrics) expect(m.labels?.batch_id).toBe('p"q');
    }
    const value = (name: string, labels: Record<string, string> = {}) => {
      const metric = byName
        .get(name)!
        .metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
      return Number(metric!.value);
    };
    expect(value("docbatch_documents", { state: "done" })).toBe(report.counts.done);
    expect(value("docbatch_documents", { state: "degraded" })).toBe(report.counts.degraded);
    expect(value("docbatch_completion_ratio")).toBe(report.completion_rate);
    expect(value("docbatch_retries_total")).toBe(report.retries);
    expect(value("docbatch_failed_attempts_total", { code: "PARSE_ERROR" })).toBe(
      report.failure_reasons.PARSE_ERROR,
    );
    expect(value("docbatch_throughput_documents_per_second")).toBeCloseTo(
      report.throughput_docs_per_min / 60,
      3,
    );

    // The parser flattens labelled histograms, so their samples are checked on the text itself.
    expect(byName.get("docbatch_document_duration_seconds")!.type).toBe("HISTOGRAM");
    const sampleLines = result.stdout
      .split("\n")
      .filter((l) => l.startsWith("docbatch_document_duration_seconds"));
    const buckets = sampleLines
      .filter((l) => l.startsWith("docbatch_document_duration_seconds_bucket"))
      .map((l) => ({ le: /le="([^"]+)"/.exec(l)![1]!, n: Number(l.split(" ").at(-1)) }));
    expect(buckets.at(-1)!.le).toBe("+Inf");
    const bounds = buckets.slice(0, -1).map((b) => Number(b.le));
    expect(bounds).toEqual([...bounds].sort((a, b) => a - b));
    const counts = buckets.map((b) => b.n);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(counts.at(-1)).toBe(report.latency_ms.count);
    const count = sampleLines.find((l) => l.startsWith("docbatch_document_duration_seconds_count"))!;
    expect(Number(count.split(" ").at(-1))).toBe(report.latency_ms.count);
    const stages = new Set(
      result.stdout
        .split("\n")
        .filter((l) => l.startsWith("docbatch_stage_duration_seconds_count"))
        .map((l) => /stage="([^"]+)"/.exec(l)![1]),
    );
    expect([...stages]).toEqual(["parse", "clean", "chunk", "embed", "write"]);
    // The parser is strict enough to reject what is not the text format.
    expect(() => parsePrometheus('docbatch_x{batch_id="a" 1\n')).toThrow();
  }, 60_000);
});
