import {
  esc,
  failuresChart,
  int,
  latencyChart,
  ms,
  pct,
  plural,
  RED,
  statesChart,
  timelineChart,
  when,
} from "./html-charts.js";
import type { BatchAnalysis } from "./report.js";

/**
 * The report as one self-contained HTML page: inline CSS and SVG drawn here, no script, and a
 * Content-Security-Policy that forbids every fetch, so the file can be mailed around and opened
 * offline. Every string from the store goes through `esc`: document ids and error messages come
 * from the input and from remote services.
 */

function verdict({ report, series }: BatchAnalysis): { tone: string; text: string } {
  const c = report.counts;
  const crashes = series.runs.filter((r) => r.crashed).length;
  const unfinished = c.pending + c.processing;
  const survived = crashes > 0 ? ` Resumed after ${plural(crashes, "crash")} from the checkpoint.` : "";
  const degraded = c.degraded > 0 ? ` ${plural(c.degraded, "document")} degraded (fallback path).` : "";
  const of = `${int(c.done + c.degraded)} of ${int(c.total)} documents complete`;
  if (c.total === 0) return { tone: "warn", text: "Empty batch: no documents have been planned." };
  const resume = "run the same command again to resume.";
  if (unfinished > 0)
    return { tone: "bad", text: `Unfinished: ${of}, ${int(unfinished)} not yet processed; ${resume}` };
  if (c.failed > 0)
    return { tone: "warn", text: `Finished: ${of}, ${int(c.failed)} failed.${degraded}${survived}` };
  return { tone: "good", text: `Finished: all ${int(c.total)} documents complete.${degraded}${survived}` };
}

const tile = (label: string, value: string, sub: string, tone = "") =>
  `<div class="tile ${tone}"><div class="label">${label}</div><div class="value">${value}</div><div class="sub">${sub}</div></div>`;
const warnIf = (bad: boolean) => (bad ? "warn" : "");

function tiles({ report: r }: BatchAnalysis): string {
  const c = r.counts;
  const lat = r.latency_ms;
  const q = (n: number, p: string) => `${ms(n)}<small> ${p}</small>`;
  const latency = lat.count === 0 ? "—" : `${q(lat.p50, "p50")} ${q(lat.p95, "p95")} ${q(lat.p99, "p99")}`;
  const complete = `${int(c.done + c.degraded)} of ${int(c.total)} documents`;
  const resumed =
    r.resume_time_ms === null ? "no resumed run" : "process start to first claim, latest resume";
  return [
    tile(
      "Completion",
      pct(r.completion_rate),
      complete,
      c.total ? warnIf(r.completion_rate < 0.99) || "good" : "",
    ),
    tile("Fail rate", pct(r.fail_rate), `${plural(c.failed, "document")} failed`, warnIf(c.failed > 0)),
    tile(
      "Dup rate",
      pct(r.dup_rate),
      `${int(r.duplicate_executions)} re-processed after commit`,
      warnIf(r.dup_rate > 0),
    ),
    tile(
      "Throughput",
      `${int(r.throughput_docs_per_min)}<small> docs/min</small>`,
      `over ${ms(r.processing_ms)} of processing`,
    ),
    tile("Retries", int(r.retries), `${int(r.executions)} executions in all`, warnIf(r.retries > 0)),
    tile(
      "Latency per document",
      latency,
      `mean ${ms(lat.mean)}, max ${ms(lat.max)}, ${plural(lat.count, "document")}`,
      "wide",
    ),
    tile("Resume time", ms(r.resume_time_ms), resumed),
    tile("Checkpoint hits", pct(r.checkpoint_hit_rate), "of the latest run's documents were already done"),
    tile(
      "Breaker openings",
      int(r.breaker_openings),
      "circuit breaker of the embedder",
      warnIf(r.breaker_openings > 0),
    ),
  ].join("");
}

/** `head` cells starting with "#" are right-aligned numbers; every cell is already escaped. */
function table(head: string[], rows: string[][]): string {
  const cls = (i: number) => (head[i]?.startsWith("#") ? ' class="n"' : "");
  const th = head.map((h, i) => `<th${cls(i)}>${h.replace(/^#/, "")}</th>`).join("");
  const body = rows.map((row) => `<tr>${row.map((cell, i) => `<td${cls(i)}>${cell}</td>`).join("")}</tr>`);
  return `<table><thead><tr>${th}</tr></thead><tbody>${body.join("")}</tbody></table>`;
}

function runsTable({ report, series }: BatchAnalysis): string {
  if (report.runs.length === 0) return `<p class="muted">No runs yet.</p>`;
  const head = [
    "Run",
    "Started (UTC)",
    "Ended",
    "Duration",
    "Resumed",
    "#Processed",
    "#Skipped (done)",
    "#Recovered in flight",
    "#Resume time",
    "Exit reason",
  ];
  const rows = report.runs.map((r) => {
    const span = series.runs.find((s) => s.run === r.run);
    const ended = r.ended_at
      ? when(r.ended_at)
      : span?.crashed
        ? `<span class="pill bad">crashed</span>`
        : "running";
    const reason = esc(r.exit_reason ?? span?.exitReason ?? "—");
    const duration = span ? ms(span.end - span.start) : "—";
    return [
      `#${r.run}`,
      when(r.started_at),
      ended,
      duration,
      r.resumed ? "yes" : "no",
      int(r.processed),
      int(r.skipped_done),
      int(r.recovered_in_flight),
      ms(r.resume_time_ms),
      reason,
    ];
  });
  return table(head, rows);
}

function degradedTable({ report }: BatchAnalysis): string {
  const entries = Object.entries(report.degraded_by_reason).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return `<p class="muted">No degraded documents.</p>`;
  return `<div class="narrow">${table(
    ["Reason", "#Documents"],
    entries.map(([reason, n]) => [esc(reason), int(n)]),
  )}</div>`;
}

const CSS = `
:root{--ink:#1b2430;--muted:#5b6677;--line:#dfe3ea;--bg:#f4f6f9;--card:#fff;--good:#007A5A;--warn:#B26B00;--bad:${RED}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
main{max-width:1200px;margin:0 auto;padding:28px 32px 40px}
h1{margin:0;font-size:24px;font-weight:650;overflow-wrap:anywhere}h1 span{color:var(--muted);font-weight:400}
.meta{color:var(--muted);margin:4px 0 14px;overflow-wrap:anywhere}.meta code{color:var(--ink)}
.verdict{padding:10px 14px;border-radius:8px;border-left:5px solid;font-weight:550;margin-bottom:20px}
.verdict.good{background:#e6f4ef;border-color:var(--good)}.verdict.warn{background:#fdf3e1;border-color:var(--warn)}.verdict.bad{background:#fbe9e7;border-color:var(--bad)}
.tiles{display:grid;grid-template-columns:repeat(5,1fr);gap:12px;margin-bottom:20px}
.tile{background:var(--card);border:1px solid var(--line);border-top:4px solid var(--line);border-radius:8px;padding:12px 14px}
.tile.good{border-top-color:var(--good)}.tile.warn{border-top-color:var(--warn)}.tile.wide{grid-column:span 2}
.tile .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.tile .value{font-size:24px;font-weight:650;margin:2px 0;font-variant-numeric:tabular-nums}.tile .value small{font-size:13px;font-weight:500;color:var(--muted);margin-right:10px}
.tile .sub{color:var(--muted);font-size:12px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin-bottom:16px;break-inside:avoid}
h2{font-size:16px;margin:0 0 2px}.caption{color:var(--muted);margin:0 0 10px;font-size:13px}
svg{display:block;height:auto;font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:var(--ink)}
svg .grid{stroke:#e8ebf0}svg .axisline{stroke:#9aa3b2}svg .axis,svg .note{fill:var(--muted)}svg .note{font-size:11.5px}
svg .target{stroke:#9aa3b2;stroke-dasharray:2 4}svg .band{opacity:.09}svg .runlabel{font-weight:600}
svg .line{fill:none;stroke-width:2.4;stroke-linejoin:round}svg .crash line{stroke:${RED};stroke-width:2;stroke-dasharray:6 4}
svg .crashlabel{fill:${RED};font-weight:700}svg .empty{fill:#f3f4f7}svg .cell{font-size:11px}svg .cell.dark{fill:#fff}
svg .strong{font-weight:600}svg .ok{fill:var(--good);font-size:14px;font-weight:600}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}.narrow table{width:auto;min-width:360px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line)}td{white-space:nowrap}th{color:var(--muted);font-weight:600;font-size:12px}
.n{text-align:right}.muted{color:var(--muted)}.pill{padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}.pill.bad{background:#fbe9e7;color:var(--bad)}
footer{color:var(--muted);font-size:12px;margin-top:8px}
@media print{body{background:#fff}main{padding:0}section,.tile{border-color:#bbb}}
`;

/** The whole page. Deterministic for a given analysis: no clock, no randomness. */
export function renderHtmlReport(analysis: BatchAnalysis): string {
  const { report: r, series } = analysis;
  const v = verdict(analysis);
  const started =
    series.runs.length > 0 && Number.isFinite(series.origin)
      ? when(new Date(series.origin).toISOString())
      : "never";
  const plan = `plan generation ${int(r.plan.generation)}${r.plan.complete ? "" : " (planning incomplete)"}`;
  const section = (title: string, caption: string, body: string) =>
    `<section><h2>${title}</h2>${caption ? `<p class="caption">${caption}</p>` : ""}${body}</section>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>docbatch report: ${esc(r.batch_id)}</title><style>${CSS}</style></head>
<body><main>
<header><h1><span>docbatch report ·</span> ${esc(r.batch_id)}</h1>
<div class="meta">checkpoint <code>${esc(r.checkpoint)}</code> · input <code>${esc(r.plan.input || "—")}</code> · ${plan} · ${plural(r.runs.length, "run")} · first run started ${started}</div>
<div class="verdict ${v.tone}">${esc(v.text)}</div></header>
<div class="tiles">${tiles(analysis)}</div>
${section("Progress over time", "Cumulative documents completed (done or degraded), one line per run; shaded spans are the runs. A red dashed line marks a run that ended without a clean exit.", timelineChart(analysis))}
${section("Documents by state", `${int(r.counts.duplicates_skipped)} duplicates in the input skipped; ${int(r.counts.unchanged_skipped)} unchanged documents skipped as already complete.`, statesChart(analysis))}
${section("Latency distribution", "Share of documents per latency bucket, by stage; columns are bucket bounds. Total runs from the start of processing to the commit, failed documents included.", latencyChart(analysis))}
${section("Failure reasons", "Failed attempts by error code, including attempts that a retry later fixed, with an example document.", failuresChart(analysis))}
${section("Runs", "", runsTable(analysis))}
${section("Degraded documents by reason", "", degradedTable(analysis))}
<footer>Computed from the store by <code>docbatch report</code>, across every run including killed ones.</footer>
</main></body></html>
`;
}
