import { createHash } from "node:crypto";
import fs from "node:fs";
import { DocbatchError } from "../core/errors.js";
import { ownFile } from "../core/own-files.js";
import { RED } from "../report/html-charts.js";

/**
 * The live dashboard served at `/`: one self-contained page in the visual language of the HTML
 * report (same palette, cards and tiles). It talks to this server only, through the public API:
 * the batch list is polled, but every live number of the selected batch comes from its event
 * stream, so an open dashboard costs the server one SSE connection, not a poll per number.
 *
 * The script is a TypeScript module of its own (src/dashboard), type-checked and linted with the
 * rest, bundled at build time into dist/dashboard/client.js and inlined here, so the page's CSP
 * admits exactly that script by its hash. It never assigns data to innerHTML: document ids and
 * error messages come from the input and from remote services.
 */

export interface DashboardOptions {
  /** How often the batch list is refreshed, in ms. @default 3000 */
  refreshMs?: number;
}

const STATES = [
  ["done", "Done", "#009E73"],
  ["degraded", "Degraded", "#E69F00"],
  ["failed", "Failed", "#D55E00"],
  ["processing", "Processing", "#56B4E9"],
  ["pending", "Pending", "#8A94A6"],
] as const;

const CSS = `
:root{--ink:#1b2430;--muted:#5b6677;--line:#dfe3ea;--bg:#f4f6f9;--card:#fff;--good:#007A5A;--warn:#B26B00;--bad:${RED};--accent:#0072B2}
*{box-sizing:border-box}[hidden]{display:none!important}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
.wrap{max-width:1280px;margin:0 auto;padding:0 24px}
.top{background:var(--ink);color:#fff}.top .wrap{display:flex;align-items:center;justify-content:space-between;height:52px}
.top h1{margin:0;font-size:18px;font-weight:650}.top h1 span{color:#aeb8c7;font-weight:400}
.top nav{display:flex;gap:16px;align-items:center;font-size:13px}.top a{color:#cfd6e0;text-decoration:none}.top a:hover{color:#fff}
.live{display:inline-flex;align-items:center;gap:6px;color:#cfd6e0}.live::before{content:"";width:8px;height:8px;border-radius:50%;background:#8A94A6}
.live.on::before{background:#2ecc8f}.live.wait::before{background:#E69F00}.live.off::before{background:#e2685b}
main{display:grid;grid-template-columns:300px minmax(0,1fr);gap:20px;padding-top:20px!important;padding-bottom:40px!important}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 18px;margin-bottom:16px}
h2{font-size:15px;margin:0 0 2px}.card-head{display:flex;justify-content:space-between;align-items:baseline;margin-bottom:10px}
.caption{color:var(--muted);margin:0 0 10px;font-size:12.5px}.muted{color:var(--muted)}
.batch-list{display:flex;flex-direction:column;gap:6px;max-height:440px;overflow:auto;margin:0 -6px;padding:0 6px}
.batch{display:block;width:100%;text-align:left;font:inherit;color:inherit;background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px 10px;cursor:pointer}
.batch:hover{border-color:#b9c1ce}.batch[aria-pressed=true]{border-color:var(--accent);box-shadow:inset 3px 0 0 var(--accent);background:#f3f8fc}
.batch .row{display:flex;justify-content:space-between;gap:8px;align-items:center}
.batch .name{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.batch .meta{display:block;color:var(--muted);font-size:12px;margin-top:4px}
.mini{display:flex;height:4px;border-radius:2px;background:#e8ebf0;overflow:hidden;margin-top:6px}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap;background:#eef0f4;color:var(--muted)}
.pill.good{background:#e6f4ef;color:var(--good)}.pill.warn{background:#fdf3e1;color:var(--warn)}.pill.bad{background:#fbe9e7;color:var(--bad)}.pill.run{background:#e5f1f9;color:var(--accent)}
label{display:block;font-size:12px;color:var(--muted);margin-bottom:8px}
input,textarea{display:block;width:100%;margin-top:4px;font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;color:var(--ink);border:1px solid var(--line);border-radius:6px;padding:7px 9px;background:#fbfcfd}
textarea{resize:vertical;min-height:150px}input:focus,textarea:focus{outline:2px solid #9cc8e6;border-color:var(--accent)}
button{font:inherit;font-size:13px;font-weight:600;border:1px solid #c9d0da;background:#fff;color:var(--ink);border-radius:6px;padding:6px 12px;cursor:pointer}
button:hover:not(:disabled){background:#f1f4f8}button:disabled{opacity:.45;cursor:default}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}button.primary:hover:not(:disabled){background:#00619a}
button.danger{color:var(--bad)}button.small{padding:2px 10px;font-size:12px}
.message{padding:9px 14px;border-radius:8px;border-left:5px solid var(--accent);background:#e5f1f9;margin-bottom:16px;font-weight:550;overflow-wrap:anywhere}
.message.good{background:#e6f4ef;border-color:var(--good)}.message.bad{background:#fbe9e7;border-color:var(--bad)}
.title-row{display:flex;justify-content:space-between;align-items:flex-start;gap:16px;margin-bottom:14px}
.batch-title{font-size:22px;font-weight:650;margin:0;overflow-wrap:anywhere}.batch-title span{color:var(--muted);font-weight:400}
.sub-meta{color:var(--muted);margin-top:4px;display:flex;gap:10px;align-items:center}
.actions{display:flex;gap:8px;flex-wrap:wrap;justify-content:flex-end;flex-shrink:0}
.progress-head{display:flex;align-items:baseline;gap:14px;margin-bottom:10px}
.big{font-size:32px;font-weight:700;font-variant-numeric:tabular-nums;line-height:1}
.bar{display:flex;height:22px;border-radius:5px;background:#e8ebf0;overflow:hidden}
.bar span,.mini span{display:block;height:100%;width:0;transition:width .25s ease-out}
${STATES.map(([s, , colour]) => `[data-segment=${s}],.sw.${s}{background:${colour}}`).join("")}
.legend{display:grid;grid-template-columns:repeat(7,1fr);gap:8px;margin-top:14px}
.count{border-left:1px solid var(--line);padding-left:10px}.count:first-child{border-left:0;padding-left:0}
.count .label{display:flex;align-items:center;gap:6px;color:var(--muted);font-size:12px}
.count b{display:block;font-size:18px;font-variant-numeric:tabular-nums}.sw{width:10px;height:10px;border-radius:2px;display:inline-block}
.tiles{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin-bottom:16px}
.tile{background:var(--card);border:1px solid var(--line);border-top:4px solid var(--line);border-radius:8px;padding:10px 14px}
.tile.good{border-top-color:var(--good)}.tile.warn{border-top-color:var(--warn)}.tile.bad{border-top-color:var(--bad)}
.tile .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.tile .value{font-size:22px;font-weight:650;margin:2px 0;font-variant-numeric:tabular-nums;white-space:nowrap}
.tile .value small{font-size:13px;font-weight:500;color:var(--muted)}.tile .sub{color:var(--muted);font-size:12px}
.reasons{display:grid;grid-template-columns:max-content minmax(80px,1fr) 70px;gap:6px 12px;align-items:center}
.reasons .code{font-weight:600;overflow-wrap:anywhere}
.reasons .track{height:14px;background:#f3f4f7;border-radius:2px}.reasons .fill{display:block;height:100%;background:#D55E00;border-radius:2px;min-width:3px}
.reasons .n{text-align:right;font-weight:600;font-variant-numeric:tabular-nums}.ok{color:var(--good);font-weight:600;margin:0}
table{border-collapse:collapse;width:100%;table-layout:fixed;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
th{color:var(--muted);font-weight:600;font-size:12px}td.n,th.n{text-align:right}
td .src{display:block;color:var(--muted);font-size:11.5px}td.msg{color:var(--muted)}
.c-id{width:26%}.c-n{width:90px}.c-code{width:22%}.c-time{width:11%}.c-act{width:86px}
td[data-field=code]{overflow:visible;white-space:normal}td[data-field=code] .pill{white-space:normal;overflow-wrap:anywhere}
.more{margin-top:10px}
.c-sink{width:34%}.c-cur{width:120px}.c-br{width:120px}
.search-row{display:flex;gap:10px;align-items:flex-end;margin-bottom:8px}.search-row input{margin:0}
.search-row .k{margin:0;width:90px;flex-shrink:0}.search-row button{flex-shrink:0}
.search-error .hint{display:block;font-weight:400;margin-top:2px}
.hits{list-style:none;margin:0;padding:0}.hit{border-top:1px solid var(--line);padding:8px 0}
.hit-head{display:flex;gap:10px;align-items:baseline;min-width:0}.hit .doc{font-weight:600;overflow-wrap:anywhere}
.hit .score{font-variant-numeric:tabular-nums;font-weight:650;color:var(--accent)}
.hit-text{margin:3px 0 0;overflow-wrap:anywhere}.hit-meta{margin:2px 0 0;color:var(--muted);font-size:12px;overflow-wrap:anywhere}
`;

const count = (state: string, label: string, swatch: boolean) =>
  `<div class="count"><span class="label">${swatch ? `<i class="sw ${state}"></i>` : ""}${label}</span><b data-count="${state}">—</b></div>`;
const tile = (id: string, label: string) =>
  `<div class="tile" id="tile-${id}"><div class="label">${label}</div><div class="value" id="${id}">—</div><div class="sub" id="${id}-sub">&nbsp;</div></div>`;
const action = (name: string, label: string, cls = "") =>
  `<button type="button" data-action="${name}"${cls ? ` class="${cls}"` : ""} disabled>${label}</button>`;

// The bar shows what has left the queue; pending is the empty rest of the track.
const SEGMENTS = STATES.slice(0, 4)
  .map(([s]) => `<span data-segment="${s}"></span>`)
  .join("");

/** A table of documents in one state, filled by the client's DocumentTable. */
const documentsCard = (state: string, title: string, why: string, none: string, caption = "") =>
  `<section class="card"><div class="card-head"><h2>${title}</h2><span id="${state}-count" class="muted"></span></div>` +
  (caption ? `<p class="caption">${caption}</p>` : "") +
  `<table id="${state}-table"><thead><tr><th class="c-id">Document</th><th class="c-n n">Attempts</th><th class="c-code">${why}</th><th>Message</th><th class="c-time">Updated</th><th class="c-act"></th></tr></thead><tbody id="${state}-body"></tbody></table>` +
  `<p id="${state}-empty" class="muted">${none}</p><button type="button" id="${state}-more" class="more" hidden>Show more</button></section>`;

/** The batch's sinks, filled by the client's SinksPanel from the progress events. */
const SINKS =
  `<section class="card"><div class="card-head"><h2>Sinks</h2><span id="sinks-count" class="muted"></span></div>` +
  `<table id="sinks-table"><thead><tr><th class="c-sink">Sink</th><th class="c-n n">Lag</th><th class="c-cur n">Delivered seq</th><th class="c-br">Breaker</th><th>Last error</th><th class="c-time">Delivered</th></tr></thead><tbody id="sinks-body"></tbody></table>` +
  `<p id="sinks-empty" class="muted" hidden>No sinks: attach one with <code>--sink</code> on run, worker or serve.</p></section>`;

/** The search box of the selected batch (the client's SearchPanel). */
const SEARCH =
  `<section class="card"><h2>Search</h2><p class="caption">The chunks nearest to a query, embedded with the batch's own embedder.</p>` +
  `<form id="search-form" class="search-row" novalidate><input id="search-q" type="search" autocomplete="off" placeholder="a question, or a chunk's text" aria-label="Search query">` +
  `<label class="k">k<input id="search-k" type="number" min="1" max="1000" value="5"></label>` +
  `<button type="submit" id="search-button" class="primary">Search</button></form>` +
  `<p id="search-summary" class="muted"></p>` +
  `<div id="search-error" class="message bad search-error" role="alert" hidden><span id="search-error-text"></span><span id="search-error-hint" class="hint"></span></div>` +
  `<ol id="search-results" class="hits"></ol></section>`;

const BODY = `
<header class="top"><div class="wrap"><h1>docbatch <span>· dashboard</span></h1>
<nav><span id="live" class="live">not connected</span><a id="link-openapi" href="/openapi.json">API</a><a id="link-metrics" href="/metrics">Metrics</a></nav></div></header>
<main class="wrap">
<aside>
<section class="card"><div class="card-head"><h2>Batches</h2><span id="batch-count" class="muted"></span></div>
<div id="batch-list" class="batch-list"><p class="muted">Loading…</p></div></section>
<section class="card"><h2>Submit a batch</h2>
<p class="caption">JSON <code>{"documents": [...]}</code>, or NDJSON with one document a line.</p>
<form id="submit-form">
<label>Batch id (optional)<input id="submit-batch-id" autocomplete="off" placeholder="e.g. nightly-2026-11-28"></label>
<label>Documents<textarea id="submit-json" spellcheck="false" rows="9" placeholder='{"documents": [{"id": "a", "content": "Hello"}]}'></textarea></label>
<button type="submit" id="submit-button" class="primary">Submit batch</button>
</form></section>
</aside>
<div>
<div id="message" class="message" role="status" hidden></div>
<section id="empty" class="card"><h2>No batch selected</h2><p class="muted">Pick a batch on the left, or submit one.</p></section>
<div id="detail" hidden>
<div class="title-row"><div><h2 class="batch-title"><span>batch ·</span> <span id="batch-title"></span></h2>
<div class="sub-meta"><span id="batch-state" class="pill">—</span><span id="updated-at"></span></div></div>
<div class="actions">${action("retry-failed", "Retry failed")}${action("backfill-degraded", "Backfill degraded")}${action("cancel", "Cancel", "danger")}${action("resume", "Resume")}</div></div>
<section class="card"><div class="progress-head"><span id="progress-text" class="big">—</span><span id="progress-sub" class="muted">waiting for the first update…</span></div>
<div id="progress-bar" class="bar" role="progressbar" aria-label="documents settled" aria-valuemin="0" aria-valuemax="100">${SEGMENTS}</div>
<div class="legend">${STATES.map(([s, label]) => count(s, label, true)).join("")}${count("total", "Total", false)}${count("duplicates_skipped", "Duplicates", false)}</div></section>
<div class="tiles">${tile("rate-throughput", "Throughput")}${tile("rate-completion", "Completion")}${tile("rate-fail", "Fail rate")}${tile("rate-dup", "Dup rate")}${tile("latency-p50", "Latency p50")}${tile("latency-p95", "Latency p95")}${tile("retries", "Retries")}${tile("breaker", "Embedder breaker")}</div>
${SINKS}
${SEARCH}
<section class="card"><h2>Failure reasons</h2><p class="caption">Failed attempts by error code, including attempts that a retry later fixed.</p><div id="failure-reasons"></div></section>
${documentsCard("failed", "Failed documents", "Error", "No failed documents.")}
${documentsCard("degraded", "Degraded documents", "Reason", "No degraded documents.", "Completed by the fallback path (plain cleaning and fixed-size chunks, or chunks kept without vectors); backfill them once the cause is fixed.")}
</div></div>
</main>`;

/** The bundled client (see scripts/build-dashboard.mjs), next to this module once built. */
const CLIENT_FILES = [
  ownFile("dashboard/client.js"),
  // Running from the sources (tests): the build's output.
  ownFile("../dist/dashboard/client.js"),
];

let client: string | null = null;

function clientScript(): string {
  if (client === null) {
    const file = CLIENT_FILES.find((f) => fs.existsSync(f));
    if (!file) {
      throw new DocbatchError("INTERNAL", "The dashboard's script is not built (dist/dashboard/client.js).", {
        hints: ["Run `npm run build`."],
      });
    }
    client = fs.readFileSync(file, "utf8");
  }
  return client;
}

/** The whole page; the CSP admits this page's own script (by hash) and connections to this server only. */
export function renderDashboard(options: DashboardOptions = {}): string {
  const refreshMs = Math.max(500, Math.round(options.refreshMs ?? 3_000));
  const script = clientScript();
  // Settings travel in the page, not in the script: its hash stays the same for every server.
  const config = JSON.stringify({ refreshMs }).replace(/"/g, "&quot;");
  const hash = createHash("sha256").update(script).digest("base64");
  const csp = [
    "default-src 'none'",
    "connect-src 'self'",
    `script-src 'sha256-${hash}'`,
    "style-src 'unsafe-inline'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>docbatch dashboard</title><style>${CSS}</style></head>
<body data-config="${config}">${BODY}
<script type="module">${script}</script>
</body></html>
`;
}
