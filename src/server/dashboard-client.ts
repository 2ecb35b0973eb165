/**
 * The dashboard's client script, run in the browser as a module without a build step. The
 * server replaces `__CONFIG__` before hashing it into the page's Content-Security-Policy.
 * Live numbers come from the batch's event stream; data only ever reaches the page through
 * textContent, dataset or title.
 */
export const DASHBOARD_CLIENT = String.raw`
const CONFIG = __CONFIG__;
// The token leaves the address bar (and the history) at once; the tab keeps it for reloads.
const token = (() => {
  const params = new URLSearchParams(location.search);
  const given = params.get("access_token");
  if (!given) {
    try {
      return sessionStorage.getItem("docbatch-token") || "";
    } catch (e) {
      return "";
    }
  }
  try {
    sessionStorage.setItem("docbatch-token", given);
  } catch (e) {}
  params.delete("access_token");
  const query = params.toString();
  history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + location.hash);
  return given;
})();
const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const fin = (n) => (typeof n === "number" && Number.isFinite(n) ? n : 0);
const int = (n) => Math.round(fin(n)).toLocaleString("en-US");
const pct = (r) => (fin(r) * 100).toFixed(1) + "%";
// Floored, so that "100.0%" means all of it, not 99.96%.
const floorPct = (r) => (Math.floor(fin(r) * 1000 + 1e-6) / 10).toFixed(1) + "%";
const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString("en-GB") : "—");
const base = (id) => "/v1/batches/" + enc(id);
const PAGE = 100;
let selected = null;
let events = null;
let reconnect = 0;
let failedKey = "";
let failedBusy = false;
let failedDirty = false;
let failedNext = null;
let wasRunning = null;
let messageTimer = 0;
let failedTotal = 0;
const rows = new Map();

function ms(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return "—";
  if (n === 0) return "0 ms";
  if (n >= 1000) return (n / 1000).toFixed(n >= 10000 ? 1 : 2) + " s";
  return n.toFixed(n < 1 ? 2 : n < 10 ? 1 : 0) + " ms";
}
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = String(text);
  return e;
}
function set(id, text) {
  $(id).textContent = text;
}
function notify(text, tone) {
  const m = $("message");
  m.textContent = text;
  m.className = "message " + (tone || "");
  m.hidden = false;
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => (m.hidden = true), tone === "bad" ? 15000 : 6000);
}
// The token goes along as a header (fetch), or as a query where no header can be set (EventSource).
function withToken(path) {
  return token ? path + (path.includes("?") ? "&" : "?") + "access_token=" + enc(token) : path;
}
async function api(path, init) {
  const options = init || {};
  const headers = { accept: "application/json" };
  if (options.type) headers["content-type"] = options.type;
  if (token) headers.authorization = "Bearer " + token;
  const res = await fetch(path, { method: options.method || "GET", headers, body: options.body, cache: "no-store" });
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    body = null;
  }
  if (!res.ok) {
    const err = body && body.error;
    const detail = err && err.details && err.details[0];
    const where = detail ? " (" + detail.path + ": " + detail.problem + ")" : "";
    throw new Error(err ? err.code + ": " + err.message + where : "HTTP " + res.status);
  }
  return body;
}

function settled(c) {
  return c.done + c.degraded + c.failed;
}
function percent(c, planComplete) {
  const ratio = c.total > 0 ? settled(c) / c.total : planComplete ? 1 : 0;
  return { ratio, text: floorPct(ratio) };
}
function status(b) {
  const c = b.counts;
  if (b.running) return b.plan_complete ? ["run", "Running"] : ["run", "Planning"];
  if (b.cancelled) return ["warn", "Cancelled"];
  if (!b.plan_complete || unsettled(c) > 0) return ["warn", "Stopped"];
  if (c.failed > 0) return ["bad", "Finished, " + int(c.failed) + " failed"];
  return ["good", "Finished"];
}
function bar(target, c) {
  for (const seg of target.querySelectorAll("[data-segment]")) {
    const n = c[seg.dataset.segment] || 0;
    seg.style.width = (c.total > 0 ? (n / c.total) * 100 : 0) + "%";
  }
}

function batchRow(id) {
  let row = rows.get(id);
  if (row) return row;
  const btn = el("button", "batch");
  btn.type = "button";
  btn.dataset.batchId = id;
  const head = el("span", "row");
  const name = el("span", "name", id);
  name.title = id;
  const pill = el("span", "pill");
  head.append(name, pill);
  const mini = el("span", "mini");
  for (const s of ["done", "degraded", "failed", "processing"]) {
    const seg = el("span");
    seg.dataset.segment = s;
    mini.append(seg);
  }
  const meta = el("span", "meta");
  btn.append(head, mini, meta);
  btn.addEventListener("click", () => select(id));
  row = { btn, pill, mini, meta, created: "" };
  rows.set(id, row);
  return row;
}
function updateRow(b) {
  const row = batchRow(b.batch_id);
  if (b.created_at) row.created = b.created_at;
  const [tone, label] = status(b);
  row.pill.className = "pill " + tone;
  row.pill.textContent = label;
  bar(row.mini, b.counts);
  row.meta.textContent =
    percent(b.counts, b.plan_complete).text + " of " + int(b.counts.total) + " docs · created " + clock(row.created);
  row.btn.setAttribute("aria-pressed", String(b.batch_id === selected));
}
async function loadBatches() {
  let batches;
  try {
    batches = (await api("/v1/batches")).batches;
  } catch (e) {
    set("batch-count", "");
    notify("Could not list the batches: " + e.message, "bad");
    return;
  }
  batches.sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
  const list = $("batch-list");
  if (batches.length === 0) {
    const p = el("p", "muted", "No batches yet: submit one below.");
    list.replaceChildren(p);
  } else {
    for (const b of batches) updateRow(b);
    // Re-append only when the order changed: replacing a button under the pointer loses the click.
    const order = batches.map((b) => rows.get(b.batch_id).btn);
    if (order.some((btn, i) => list.children[i] !== btn) || list.children.length !== order.length)
      list.replaceChildren(...order);
  }
  set("batch-count", batches.length === 1 ? "1 batch" : int(batches.length) + " batches");
  if (selected === null && batches.length > 0) {
    const wanted = decodeURIComponent((/^#batch=(.+)$/.exec(location.hash) || [])[1] || "");
    select(batches.some((b) => b.batch_id === wanted) ? wanted : batches[0].batch_id);
  }
}

function select(id) {
  if (id === selected) return;
  selected = id;
  history.replaceState(null, "", location.pathname + location.search + "#batch=" + enc(id));
  for (const [key, row] of rows) row.btn.setAttribute("aria-pressed", String(key === id));
  $("empty").hidden = true;
  $("detail").hidden = false;
  set("batch-title", id);
  set("progress-text", "—");
  set("progress-sub", "waiting for the first update…");
  set("updated-at", "");
  for (const n of document.querySelectorAll("[data-count]")) n.textContent = "—";
  $("failed-body").replaceChildren();
  $("failure-reasons").replaceChildren();
  failedKey = "";
  failedNext = null;
  wasRunning = null;
  connect();
  loadReport();
}
function setLive(state, text) {
  const live = $("live");
  live.className = "live " + state;
  live.textContent = text;
}
function connect() {
  if (events) events.close();
  clearTimeout(reconnect);
  const id = selected;
  const source = new EventSource(withToken(base(id) + "/events"));
  events = source;
  setLive("wait", "connecting…");
  source.onopen = () => setLive("on", "live");
  source.onerror = () => {
    if (source !== events) return;
    if (source.readyState !== EventSource.CLOSED) return setLive("wait", "reconnecting…");
    // A refused stream (401, 404) is not retried by the browser itself.
    setLive("off", "disconnected");
    reconnect = setTimeout(() => source === events && connect(), 5000);
  };
  source.addEventListener("progress", (e) => {
    if (source === events) onProgress(JSON.parse(e.data));
  });
}

function tileValue(id, value, sub, tone) {
  set(id, value);
  set(id + "-sub", sub || "\u00a0");
  $("tile-" + id).className = "tile " + (tone || "");
}
function onProgress(d) {
  const c = d.counts;
  const p = percent(c, d.plan_complete);
  set("progress-text", p.text);
  const pb = $("progress-bar");
  pb.setAttribute("aria-valuenow", (p.ratio * 100).toFixed(1));
  bar(pb, c);
  const planning = d.plan_complete ? "" : " · planning, more may follow";
  set("progress-sub", int(settled(c)) + " of " + int(c.total) + " documents settled" + planning);
  for (const n of document.querySelectorAll("[data-count]")) n.textContent = int(c[n.dataset.count]);
  const [tone, label] = status(d);
  const pill = $("batch-state");
  pill.className = "pill " + tone;
  pill.textContent = label;
  set("updated-at", "updated " + clock(d.at));

  const lat = d.latency_ms || {};
  const prog = d.progress;
  const failRate = c.total > 0 ? c.failed / c.total : 0;
  tileValue("rate-throughput", int(d.throughput_docs_per_min) + " docs/min", "per minute of processing");
  tileValue(
    "rate-completion",
    floorPct(d.completion_rate),
    int(c.done + c.degraded) + " done or degraded",
    c.total > 0 && unsettled(c) === 0 ? (d.completion_rate >= 0.99 ? "good" : "warn") : "",
  );
  tileValue("rate-fail", pct(failRate), int(c.failed) + " failed", c.failed > 0 ? "warn" : "");
  tileValue("latency-p50", ms(lat.count ? lat.p50 : null), int(lat.count) + " documents");
  tileValue("latency-p95", ms(lat.count ? lat.p95 : null), "p99 " + ms(lat.count ? lat.p99 : null));
  const waiting = prog ? int(prog.retriesWaiting) + " waiting to retry" : "";
  tileValue("retries", int(d.retries), waiting, d.retries > 0 ? "warn" : "");
  const breaker = prog ? prog.breaker : "idle";
  const breakerTone = breaker === "open" ? "bad" : breaker === "half-open" ? "warn" : prog ? "good" : "";
  tileValue("breaker", breaker, prog ? int(prog.inFlight) + " documents in flight" : "no run in progress", breakerTone);
  reasons(d.failure_reasons || {});
  actions(d);

  failedTotal = c.failed;
  const attempts = Object.values(d.failure_reasons || {}).reduce((a, b) => a + b, 0);
  const key = [c.failed, c.total, d.retries, attempts, d.running].join("|");
  if (key !== failedKey) {
    failedKey = key;
    loadFailed(false);
  }
  if (wasRunning === true && !d.running) loadReport();
  wasRunning = d.running;
  if (rows.has(d.batch_id)) updateRow(d);
}
function unsettled(c) {
  return c.pending + c.processing;
}
function actions(d) {
  const c = d.counts;
  const button = (name) => document.querySelector("[data-action=" + name + "]");
  button("retry-failed").disabled = c.failed === 0;
  button("backfill-degraded").disabled = c.degraded === 0;
  button("cancel").disabled = d.cancelled || (!d.running && unsettled(c) === 0 && d.plan_complete);
  button("resume").disabled = d.running || (!d.cancelled && unsettled(c) === 0 && d.plan_complete);
}
function reasons(map) {
  const target = $("failure-reasons");
  const entries = Object.entries(map)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12);
  if (entries.length === 0) return target.replaceChildren(el("p", "ok", "No failed attempts."));
  const max = Math.max(1, ...entries.map((e) => e[1]));
  const grid = el("div", "reasons");
  for (const [code, n] of entries) {
    const name = el("span", "code", code);
    name.title = code;
    const track = el("span", "track");
    const fill = el("span", "fill");
    fill.style.width = (n / max) * 100 + "%";
    track.append(fill);
    const total = el("span", "n", int(n));
    total.dataset.reason = code;
    grid.append(name, track, total);
  }
  target.replaceChildren(grid);
}

async function loadReport() {
  const id = selected;
  try {
    const r = await api(base(id));
    if (id !== selected) return;
    tileValue("rate-dup", pct(r.dup_rate), int(r.duplicate_executions) + " re-processed after commit", r.dup_rate > 0 ? "warn" : "");
  } catch (e) {
    notify("Could not load the report: " + e.message, "bad");
  }
}
// Re-fetched when the counts move; a fetch in flight is followed by one more, never by a pile.
async function loadFailed(more) {
  if (failedBusy) {
    failedDirty = failedDirty || !more;
    return;
  }
  const id = selected;
  const shown = $("failed-body").children.length;
  const limit = Math.min(1000, Math.max(PAGE, shown));
  const url = more && failedNext ? failedNext : base(id) + "/documents?state=failed&limit=" + limit;
  failedBusy = true;
  try {
    const body = await api(url);
    if (id === selected) {
      renderFailed(body.documents, more);
      failedNext = body.next;
      $("failed-more").hidden = !body.next;
    }
  } catch (e) {
    notify("Could not list the failed documents: " + e.message, "bad");
  } finally {
    failedBusy = false;
    if (failedDirty) {
      failedDirty = false;
      loadFailed(false);
    }
  }
}
function renderFailed(docs, append) {
  const body = $("failed-body");
  if (!append) body.replaceChildren();
  for (const d of docs) {
    const tr = el("tr");
    tr.dataset.docId = d.id;
    tr.dataset.source = d.source;
    const idCell = el("td", "id");
    idCell.title = d.id;
    idCell.append(el("span", "", d.id), el("span", "src", d.source));
    const err = d.last_error || {};
    const code = el("td");
    code.dataset.field = "code";
    code.append(el("span", "pill bad", err.code || "—"));
    const msg = el("td", "msg", err.message || "");
    msg.dataset.field = "message";
    msg.title = err.message || "";
    const tries = el("td", "n", int(d.attempts));
    tries.dataset.field = "attempts";
    const act = el("td", "n");
    const retry = el("button", "small", "Retry");
    retry.type = "button";
    retry.dataset.action = "retry-doc";
    act.append(retry);
    tr.append(idCell, tries, code, msg, el("td", "", clock(d.updated_at)), act);
    body.append(tr);
  }
  const n = body.children.length;
  $("failed-empty").hidden = n > 0;
  set("failed-count", n === 0 ? "" : "showing " + int(n) + " of " + int(Math.max(n, failedTotal)));
}

async function post(button, path, done) {
  const id = selected;
  button.disabled = true;
  try {
    const body = await api(path, { method: "POST" });
    notify(done(body), "good");
  } catch (e) {
    notify(e.message, "bad");
  } finally {
    button.disabled = false;
    if (id === selected) {
      failedKey = "";
      loadFailed(false);
      loadReport();
    }
    loadBatches();
  }
}
const requeued = (what) => (b) =>
  b.requeued === 0 ? "Nothing to re-queue: no " + what + "." : "Re-queued " + int(b.requeued) + " " + what + ".";
$("detail").addEventListener("click", (e) => {
  const button = e.target.closest("button[data-action]");
  if (!button || !selected) return;
  const at = base(selected);
  const name = button.dataset.action;
  if (name === "retry-doc") {
    const tr = button.closest("tr");
    const q = "?doc_id=" + enc(tr.dataset.docId) + "&source=" + enc(tr.dataset.source);
    post(button, at + "/retry" + q, requeued("document"));
  } else if (name === "retry-failed") post(button, at + "/retry", requeued("failed documents"));
  else if (name === "backfill-degraded")
    post(button, at + "/retry?failed=false&degraded=true", requeued("degraded documents"));
  else if (name === "cancel") post(button, at + "/cancel", () => "Cancelled; running documents were handed back.");
  else if (name === "resume") post(button, at + "/resume", () => "Resumed.");
});
$("failed-more").addEventListener("click", () => loadFailed(true));

$("submit-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("submit-json").value.trim();
  if (!text) return notify("Paste a batch first.", "bad");
  let type = "application/json";
  try {
    JSON.parse(text);
  } catch (err) {
    const lines = text.split("\n").filter((l) => l.trim() !== "");
    try {
      for (const l of lines) JSON.parse(l);
      type = "application/x-ndjson";
    } catch {
      return notify("Not JSON or NDJSON: " + err.message, "bad");
    }
  }
  const id = $("submit-batch-id").value.trim();
  const button = $("submit-button");
  button.disabled = true;
  try {
    const body = await api("/v1/batches" + (id ? "?batch_id=" + enc(id) : ""), { method: "POST", type, body: text });
    notify((body.created ? "Submitted batch " : "Already submitted as batch ") + body.batch_id + ".", "good");
    await loadBatches();
    select(body.batch_id);
  } catch (err) {
    notify("Not submitted: " + err.message, "bad");
  } finally {
    button.disabled = false;
  }
});

// Links never carry the token: with one, a click fetches with the header and shows the text.
const blobLink = URL.createObjectURL.bind(URL);
for (const id of ["link-openapi", "link-metrics"]) {
  $(id).addEventListener("click", async (event) => {
    if (!token) return;
    event.preventDefault();
    const res = await fetch($(id).getAttribute("href"), { headers: { authorization: "Bearer " + token } });
    const type = res.headers.get("content-type") || "text/plain";
    window.open(blobLink(new Blob([await res.text()], { type: type })), "_blank");
  });
}
loadBatches();
setInterval(() => document.hidden || loadBatches(), CONFIG.refreshMs);
`;
