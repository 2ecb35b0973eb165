import { byId, el, paintBar, setText } from "./dom.js";
import {
  batchState,
  clock,
  floorPct,
  int,
  ms,
  pct,
  percent,
  settled,
  type Tone,
  unsettled,
} from "./format.js";
import type { ProgressEvent } from "./types.js";

function tile(id: string, value: string, sub: string, tone: Tone | "" = ""): void {
  setText(id, value);
  setText(`${id}-sub`, sub || "\u00a0");
  byId(`tile-${id}`).className = `tile ${tone}`;
}

/** The selected batch's progress bar, counts, state and tiles, from one progress event. */
export function showProgress(d: ProgressEvent): void {
  const c = d.counts;
  const p = percent(c, d.plan_complete);
  setText("progress-text", p.text);
  const bar = byId("progress-bar");
  bar.setAttribute("aria-valuenow", (p.ratio * 100).toFixed(1));
  paintBar(bar, c);
  const planning = d.plan_complete ? "" : " · planning, more may follow";
  setText("progress-sub", `${int(settled(c))} of ${int(c.total)} documents settled${planning}`);
  for (const n of document.querySelectorAll<HTMLElement>("[data-count]"))
    n.textContent = int(c[n.dataset.count ?? ""]);
  const [tone, label] = batchState(d);
  const pill = byId("batch-state");
  pill.className = `pill ${tone}`;
  pill.textContent = label;
  setText("updated-at", `updated ${clock(d.at)}`);

  const lat = d.latency_ms;
  const prog = d.progress;
  tile("rate-throughput", `${int(d.throughput_docs_per_min)} docs/min`, "per minute of processing");
  const complete = c.total > 0 && unsettled(c) === 0;
  const completionTone = complete ? (d.completion_rate >= 0.99 ? "good" : "warn") : "";
  tile(
    "rate-completion",
    floorPct(d.completion_rate),
    `${int(c.done + c.degraded)} done or degraded`,
    completionTone,
  );
  tile(
    "rate-fail",
    pct(c.total > 0 ? c.failed / c.total : 0),
    `${int(c.failed)} failed`,
    c.failed > 0 ? "warn" : "",
  );
  tile("latency-p50", ms(lat?.count ? lat.p50 : null), `${int(lat?.count)} documents`);
  tile("latency-p95", ms(lat?.count ? lat.p95 : null), `p99 ${ms(lat?.count ? lat.p99 : null)}`);
  tile(
    "retries",
    int(d.retries),
    prog ? `${int(prog.retriesWaiting)} waiting to retry` : "",
    d.retries > 0 ? "warn" : "",
  );
  const breaker = prog ? prog.breaker : "idle";
  const breakerTone = breaker === "open" ? "bad" : breaker === "half-open" ? "warn" : prog ? "good" : "";
  tile(
    "breaker",
    breaker,
    prog ? `${int(prog.inFlight)} documents in flight` : "no run in progress",
    breakerTone,
  );
  showReasons(d.failure_reasons ?? {});
  enableActions(d);
}

/** Failed attempts by code; a code is shown whole (it wraps rather than being cut). */
function showReasons(map: Record<string, number>): void {
  const target = byId("failure-reasons");
  const entries = Object.entries(map)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12);
  if (entries.length === 0) {
    target.replaceChildren(el("p", "ok", "No failed attempts."));
    return;
  }
  const max = Math.max(1, ...entries.map((e) => e[1]));
  const grid = el("div", "reasons");
  for (const [code, n] of entries) {
    const name = el("span", "code", code);
    name.title = code;
    const track = el("span", "track");
    const fill = el("span", "fill");
    fill.style.width = `${(n / max) * 100}%`;
    track.append(fill);
    const total = el("span", "n", int(n));
    total.dataset.reason = code;
    grid.append(name, track, total);
  }
  target.replaceChildren(grid);
}

function enableActions(d: ProgressEvent): void {
  const c = d.counts;
  const button = (name: string) => document.querySelector<HTMLButtonElement>(`[data-action=${name}]`)!;
  button("retry-failed").disabled = c.failed === 0;
  button("backfill-degraded").disabled = c.degraded === 0;
  button("cancel").disabled = d.cancelled || (!d.running && unsettled(c) === 0 && d.plan_complete);
  button("resume").disabled = d.running || (!d.cancelled && unsettled(c) === 0 && d.plan_complete);
}

/** Clears what belonged to the batch shown before. */
export function resetProgress(batchId: string): void {
  setText("batch-title", batchId);
  setText("progress-text", "—");
  setText("progress-sub", "waiting for the first update…");
  setText("updated-at", "");
  for (const n of document.querySelectorAll("[data-count]")) n.textContent = "—";
  byId("failure-reasons").replaceChildren();
}
