import { type BatchAnalysis, REPORT_STAGES } from "./report.js";

/**
 * The charts of the HTML report, drawn as inline SVG by hand (no chart library, nothing to fetch),
 * and the formatting helpers they share with the page. Every data mark carries `class="mark"`.
 */

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
export const esc = (value: unknown) => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
const fin = (n: number) => (Number.isFinite(n) ? n : 0);
export const int = (n: number) => Math.round(fin(n)).toLocaleString("en-US");
const num = (n: number) => Number(fin(n).toFixed(2)).toLocaleString("en-US");
export const pct = (r: number) => `${(fin(r) * 100).toFixed(1)}%`;
const short = (n: number) => (n >= 1e6 ? `${num(n / 1e6)}M` : n >= 1e4 ? `${num(n / 1e3)}k` : num(n));
const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);
export const plural = (n: number, word: string) => `${int(n)} ${word}${n === 1 ? "" : "s"}`;
export const when = (iso: string) => esc(iso.replace("T", " ").replace(/\.\d+Z$/, "Z"));

export function ms(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return "—";
  if (n === 0) return "0 ms";
  if (n < 0.01) return "<0.01 ms";
  if (n >= 1000) return `${(n / 1000).toFixed(n >= 10_000 ? 1 : 2)} s`;
  return `${n.toFixed(n < 1 ? 2 : n < 10 ? 1 : 0)} ms`;
}

// Okabe–Ito, distinguishable with the common colour-vision deficiencies; red stays for crashes.
const RUN_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#332288", "#8C6D31", "#44AA99"];
const runColour = (i: number) => RUN_COLOURS[i % RUN_COLOURS.length]!;
export const RED = "#C0392B";
const STATES = [
  ["done", "#009E73"],
  ["degraded", "#E69F00"],
  ["failed", "#D55E00"],
  ["pending", "#8A94A6"],
  ["processing", "#56B4E9"],
] as const;
/** Width of every chart's coordinate system; the SVGs scale to the page. */
const W = 1120;

/** Ticks at round steps (1, 2, 2.5, 5 × 10ⁿ), at most `count` intervals; the domain ends on a tick. */
function ticks(max: number, count: number): number[] {
  if (!(max > 0)) return [0, 1];
  const mag = 10 ** Math.floor(Math.log10(max / count));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => Math.ceil(max / s - 1e-9) <= count)!;
  return Array.from({ length: Math.ceil(max / step - 1e-9) + 1 }, (_, i) =>
    Number((i * step).toPrecision(12)),
  );
}

const chart = (name: string, h: number, label: string, body: string) =>
  `<svg data-chart="${name}" viewBox="0 0 ${W} ${h}" width="100%" role="img" aria-label="${esc(label)}">${body}</svg>`;
export const text = (x: number, y: number, content: string, attrs = "") =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${content}</text>`;
const hline = (cls: string, x1: number, x2: number, y: number) =>
  `<line class="${cls}" x1="${x1}" x2="${x2}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}"/>`;

/** The timeline's frame: height, margins, and the scales from (ms, documents) to the picture. */
interface TimelineFrame {
  H: number;
  L: number;
  R: number;
  T: number;
  B: number;
  xt: number[];
  yt: number[];
  sx: (t: number) => number;
  sy: (n: number) => number;
}

export function timelineChart(analysis: BatchAnalysis): string {
  const { report, series } = analysis;
  if (series.runs.length === 0) return chart("timeline", 60, "no runs yet", text(0, 36, "No runs yet."));
  const f = timelineFrame(analysis);
  const out = [
    ...timelineAxes(f, report.counts.total),
    ...runBands(f, analysis),
    ...completionLines(f, series),
  ];
  out.push(hline("axisline", f.L, W - f.R, f.H - f.B));
  return chart("timeline", f.H, "documents completed over time, per run", out.join(""));
}

function timelineFrame({ report, series }: BatchAnalysis): TimelineFrame {
  const [H, L, R, T, B] = [340, 70, 20, 52, 46];
  let tMax = 1;
  let nMax = Math.max(1, report.counts.total);
  for (const r of series.runs) tMax = Math.max(tMax, r.end);
  for (const line of series.timeline)
    for (const [t, n] of line.points) {
      tMax = Math.max(tMax, t);
      nMax = Math.max(nMax, n);
    }
  const xt = ticks(tMax / 1000, 8);
  const yt = ticks(nMax, 7);
  return {
    H,
    L,
    R,
    T,
    B,
    xt,
    yt,
    sx: (t) => L + (t / 1000 / xt.at(-1)!) * (W - L - R),
    sy: (n) => T + (1 - n / yt.at(-1)!) * (H - T - B),
  };
}

/** Grid, tick labels, axis titles, and the line of the batch's total. */
function timelineAxes({ H, L, R, T, B, xt, yt, sx, sy }: TimelineFrame, total: number): string[] {
  const mid = (T + H - B) / 2;
  const out: string[] = [];
  for (const v of yt)
    out.push(hline("grid", L, W - R, sy(v)), text(L - 8, sy(v) + 4, short(v), 'text-anchor="end"'));
  for (const v of xt) out.push(text(sx(v * 1000), H - B + 18, num(v), 'text-anchor="middle"'));
  out.push(
    text((L + W - R) / 2, H - 8, "seconds since the first run started", 'text-anchor="middle" class="axis"'),
    text(
      16,
      mid,
      "documents completed",
      `class="axis" text-anchor="middle" transform="rotate(-90 16 ${mid})"`,
    ),
  );
  if (total > 0) {
    const label = `${int(total)} documents in the batch`;
    out.push(
      hline("target", L, W - R, sy(total)),
      text(W - R - 4, sy(total) - 6, label, 'text-anchor="end" class="note"'),
    );
  }
  return out;
}

/** A band per run, labelled, with a mark where a run crashed. */
function runBands({ H, T, B, sx }: TimelineFrame, { report, series }: BatchAnalysis): string[] {
  const out: string[] = [];
  // Two label rows filled greedily, so that the labels of short runs do not overprint each other.
  const rowEnd = [0, 0];
  series.runs.forEach((run, i) => {
    const x0 = sx(run.start);
    const x1 = Math.max(x0 + 2, sx(run.end));
    const span = `run ${run.run}: ${num(run.start / 1000)} s to ${num(run.end / 1000)} s, ${run.exitReason ?? "running"}`;
    out.push(
      `<rect class="band" x="${x0.toFixed(1)}" y="${T}" width="${(x1 - x0).toFixed(1)}" height="${H - T - B}" ` +
        `fill="${runColour(i)}"><title>${esc(span)}</title></rect>`,
    );
    const label = `run ${run.run}${report.runs.find((r) => r.run === run.run)?.resumed ? " · resumed" : ""}`;
    const row = rowEnd.findIndex((end) => x0 >= end);
    if (row >= 0) {
      out.push(text(x0 + 2, T - 26 + row * 14, esc(label), `class="runlabel" fill="${runColour(i)}"`));
      rowEnd[row] = x0 + label.length * 6.6 + 10;
    }
    // endedAt is null both for a killed run and for one still running when the report was made.
    const why = `run ${run.run}: no clean exit recorded (crashed, or still running), last seen at ${num(run.end / 1000)} s`;
    if (run.crashed)
      out.push(
        `<g class="crash" data-run="${run.run}"><title>${esc(why)}</title>`,
        `<line x1="${x1.toFixed(1)}" x2="${x1.toFixed(1)}" y1="${T - 4}" y2="${H - B}"/>`,
        `${text(x1 + 4, T + 12, "crash", 'class="crashlabel"')}</g>`,
      );
  });
  return out;
}

/** Documents completed over time, one step line per run. */
function completionLines({ sx, sy }: TimelineFrame, series: BatchAnalysis["series"]): string[] {
  const out: string[] = [];
  const runIndex = new Map(series.runs.map((r, i) => [r.run, i]));
  for (const line of series.timeline) {
    const last = line.points.at(-1);
    if (!last) continue;
    const colour = runColour(runIndex.get(line.run) ?? 0);
    const pts: string[] = [];
    let prevY: string | null = null;
    // Steps, not slopes: a straight segment would invent progress across an idle gap.
    for (const [t, n] of line.points) {
      const x = sx(t).toFixed(1);
      if (prevY !== null) pts.push(`${x},${prevY}`);
      prevY = sy(n).toFixed(1);
      pts.push(`${x},${prevY}`);
    }
    const title = `<title>${esc(`run ${line.run}: ${int(last[1])} documents completed by ${num(last[0] / 1000)} s`)}</title>`;
    out.push(
      `<polyline class="mark line" data-run="${line.run}" points="${pts.join(" ")}" stroke="${colour}">${title}</polyline>`,
      `<circle class="mark" cx="${sx(last[0]).toFixed(1)}" cy="${sy(last[1]).toFixed(1)}" r="3.5" fill="${colour}">${title}</circle>`,
    );
  }
  return out;
}

/** A bucket's bound as [value, unit]: "≤ its upper bound", and for the last one "> the previous". */
function bucketLabel(bounds: number[], c: number): [string, string] {
  const b = bounds[c] ?? bounds.at(-1) ?? 0;
  const op = c < bounds.length ? "≤" : ">";
  return b >= 1000 ? [`${op}${b / 1000}`, "s"] : [`${op}${b}`, "ms"];
}

export function latencyChart({ report, series }: BatchAnalysis): string {
  const rows = ["total", ...REPORT_STAGES] as const;
  const cols = series.bucketsMs.length + 1;
  const [L, T, cw, rh] = [90, 40, 48, 32];
  const qx = L + cols * cw + 16;
  const out: string[] = [
    text(qx, 30, "p50 · p95 · p99", 'class="note"'),
    text(W - 4, 30, "documents", 'text-anchor="end" class="note"'),
  ];
  for (let c = 0; c < cols; c++) {
    const [value, unit] = bucketLabel(series.bucketsMs, c);
    const x = L + c * cw + cw / 2;
    out.push(
      text(x, 16, value, 'text-anchor="middle"'),
      text(x, 30, unit, 'text-anchor="middle" class="note"'),
    );
  }
  rows.forEach((stage, r) => {
    const h = series.latency[stage];
    const y = T + r * rh;
    const q = stage === "total" ? report.latency_ms : report.stage_latency_ms[stage];
    const quantiles = h.count > 0 ? `${ms(q.p50)} · ${ms(q.p95)} · ${ms(q.p99)}` : "no documents yet";
    out.push(
      text(L - 10, y + rh / 2 + 4, stage, `text-anchor="end"${stage === "total" ? ' class="strong"' : ""}`),
    );
    for (let c = 0; c < cols; c++) {
      const count = h.counts[c] ?? 0;
      const share = h.count > 0 ? count / h.count : 0;
      const box = `x="${L + c * cw + 1}" y="${y + 1}" width="${cw - 2}" height="${rh - 2}"`;
      if (count === 0) {
        out.push(`<rect class="empty" ${box}/>`);
        continue;
      }
      // A square-root scale keeps a bucket holding 1% visible next to one holding 90%.
      const t = Math.sqrt(share);
      const tip = `${stage} ${bucketLabel(series.bucketsMs, c).join(" ")}: ${int(count)} documents (${pct(share)})`;
      out.push(
        `<rect class="mark" ${box} fill="hsl(210 ${60 + t * 20}% ${94 - t * 62}%)"><title>${esc(tip)}</title></rect>`,
        text(
          L + c * cw + cw / 2,
          y + rh / 2 + 4,
          share >= 0.01 ? `${Math.round(share * 100)}%` : "&lt;1%",
          `text-anchor="middle" class="cell${t > 0.6 ? " dark" : ""}"`,
        ),
      );
    }
    out.push(
      text(qx, y + rh / 2 + 4, quantiles),
      text(W - 4, y + rh / 2 + 4, int(h.count), 'text-anchor="end"'),
    );
  });
  return chart("latency", T + rows.length * rh + 10, "latency distribution per stage, in ms", out.join(""));
}

export function failuresChart({ report, series }: BatchAnalysis): string {
  const none = "No failures: no attempt of any document failed.";
  if (series.failures.length === 0)
    return chart("failures", 60, "no failures", text(0, 36, none, 'class="ok"'));
  const shown = [...series.failures].sort((a, b) => b.count - a.count).slice(0, 12);
  const max = Math.max(1, ...shown.map((f) => f.count));
  const [L, BW, rh] = [190, 760, 48];
  const out: string[] = [];
  shown.forEach((f, i) => {
    const y = 8 + i * rh;
    const w = Math.max(3, (f.count / max) * BW);
    const example = `e.g. ${f.exampleDocId}: ${f.exampleMessage}`;
    const tip = `<title>${esc(`${f.code}: ${int(f.count)} failed attempts\n${example}`)}</title>`;
    out.push(
      text(L - 12, y + 13, `${esc(clip(f.code, 22))}${tip}`, 'text-anchor="end" class="strong"'),
      `<rect class="mark" x="${L}" y="${y}" width="${w.toFixed(1)}" height="18" rx="2" fill="#D55E00">${tip}</rect>`,
      text(L + w + 8, y + 14, int(f.count), 'class="strong"'),
      text(L, y + 34, `${esc(clip(example, 125))}${tip}`, 'class="note"'),
    );
  });
  const more = series.failures.length - shown.length;
  const foot = `${plural(report.counts.failed, "document")} ended failed${more > 0 ? `; ${plural(more, "more code")} not shown` : ""}.`;
  const h = 8 + shown.length * rh;
  out.push(text(0, h + 10, foot, 'class="note"'));
  return chart("failures", h + 20, "failed attempts by error code", out.join(""));
}

export function statesChart({ report }: BatchAnalysis): string {
  const c = report.counts;
  const out: string[] = [];
  if (c.total === 0)
    out.push(
      `<rect class="empty" x="0" y="6" width="${W}" height="34" rx="4"/>`,
      text(W / 2, 28, "no documents", 'text-anchor="middle" class="note"'),
    );
  // Non-empty states get at least 3 px, so that one failed document in a million still shows.
  const widths = STATES.map(([s]) => (c[s] > 0 ? Math.max(3, (c[s] / c.total) * W) : 0));
  const sum = widths.reduce((a, b) => a + b, 0);
  const scale = sum > 0 ? W / sum : 0;
  let x = 0;
  STATES.forEach(([s, colour], i) => {
    const w = widths[i]! * scale;
    const share = c.total > 0 ? ` (${pct(c[s] / c.total)})` : "";
    if (w > 0)
      out.push(
        `<rect class="mark" data-state="${s}" x="${x.toFixed(1)}" y="6" width="${w.toFixed(1)}" height="34" fill="${colour}">` +
          `<title>${s}: ${int(c[s])}${share}</title></rect>`,
      );
    x += w;
    out.push(
      `<rect x="${i * 224}" y="58" width="12" height="12" rx="2" fill="${colour}"/>`,
      text(i * 224 + 18, 69, `${s} <tspan class="strong">${int(c[s])}</tspan>${share}`),
    );
  });
  return chart("states", 80, "documents by state", out.join(""));
}
