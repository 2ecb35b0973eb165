import { api, batchPath, openWithToken, withToken } from "./api.js";
import { BatchList } from "./batches.js";
import { DocumentTable } from "./documents.js";
import { byId, notify } from "./dom.js";
import { int, pct } from "./format.js";
import { resetProgress, showProgress } from "./progress.js";
import { SearchPanel } from "./search.js";
import { SinksPanel } from "./sinks.js";
import type { ProgressEvent, ReportSummary } from "./types.js";

/**
 * The dashboard's client, bundled at build time (scripts/build-dashboard.mjs) into
 * dist/dashboard/client.js, which the server inlines into the page (its CSP admits it by hash).
 * Live numbers come from the selected batch's event stream.
 *
 * A panel is anything that follows the selected batch: `select` when another batch is picked,
 * `progress` on every event (the sinks panel reads its rows from it). A new panel is one more
 * entry in `panels` and one more section in the page (src/server/dashboard.ts).
 */
interface Panel {
  select(batchId: string): void;
  progress(event: ProgressEvent): void;
  /** After an action changed the batch (retry, backfill, cancel, resume). */
  invalidate?(): void;
}

const config = JSON.parse(document.body.dataset.config ?? "{}") as { refreshMs?: number };
const failed = new DocumentTable("failed");
const degraded = new DocumentTable("degraded");
const panels: Panel[] = [
  { select: resetProgress, progress: showProgress },
  new SinksPanel(),
  new SearchPanel(),
  failed,
  degraded,
  { select: () => {}, progress: () => {}, invalidate: () => void loadReport() },
];
const batches = new BatchList(select);
let events: EventSource | null = null;
let reconnect: ReturnType<typeof setTimeout> | undefined;
let wasRunning: boolean | null = null;

function select(id: string): void {
  if (id === batches.selected) return;
  batches.mark(id);
  history.replaceState(null, "", `${location.pathname}${location.search}#batch=${encodeURIComponent(id)}`);
  byId("empty").hidden = true;
  byId("detail").hidden = false;
  for (const panel of panels) panel.select(id);
  wasRunning = null;
  connect();
  void loadReport();
}

function setLive(state: string, text: string): void {
  const live = byId("live");
  live.className = `live ${state}`;
  live.textContent = text;
}

function connect(): void {
  events?.close();
  clearTimeout(reconnect);
  const id = batches.selected;
  if (id === null) return;
  const source = new EventSource(withToken(`${batchPath(id)}/events`));
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
    if (source === events) onProgress(JSON.parse((e as MessageEvent<string>).data) as ProgressEvent);
  });
}

function onProgress(d: ProgressEvent): void {
  for (const panel of panels) panel.progress(d);
  if (wasRunning === true && !d.running) void loadReport();
  wasRunning = d.running;
  if (batches.has(d.batch_id)) batches.update(d);
}

async function loadReport(): Promise<void> {
  const id = batches.selected;
  if (id === null) return;
  try {
    const r = await api<ReportSummary>(batchPath(id));
    if (id !== batches.selected) return;
    byId("rate-dup").textContent = pct(r.dup_rate);
    byId("rate-dup-sub").textContent = `${int(r.duplicate_executions)} re-processed after commit`;
    byId("tile-rate-dup").className = `tile ${r.dup_rate > 0 ? "warn" : ""}`;
  } catch (e) {
    notify(`Could not load the report: ${(e as Error).message}`, "bad");
  }
}

async function post(button: HTMLButtonElement, path: string, done: (body: { requeued?: number }) => string) {
  const id = batches.selected;
  button.disabled = true;
  try {
    notify(done(await api(path, { method: "POST" })), "good");
  } catch (e) {
    notify((e as Error).message, "bad");
  } finally {
    button.disabled = false;
    if (id === batches.selected) for (const panel of panels) panel.invalidate?.();
    void batches.load();
  }
}

const requeued = (what: string) => (b: { requeued?: number }) =>
  b.requeued === 0 ? `Nothing to re-queue: no ${what}.` : `Re-queued ${int(b.requeued)} ${what}.`;

byId("detail").addEventListener("click", (e) => {
  const button = (e.target as Element).closest<HTMLButtonElement>("button[data-action]");
  const id = batches.selected;
  if (!button || id === null) return;
  const at = batchPath(id);
  const row = button.closest("tr");
  const doc = row
    ? `doc_id=${encodeURIComponent(row.dataset.docId ?? "")}&source=${encodeURIComponent(row.dataset.source ?? "")}`
    : "";
  const actions: Record<string, () => void> = {
    "retry-doc": () => post(button, `${at}/retry?${doc}`, requeued("document")),
    "backfill-doc": () => post(button, `${at}/retry?failed=false&degraded=true&${doc}`, requeued("document")),
    "retry-failed": () => post(button, `${at}/retry`, requeued("failed documents")),
    "backfill-degraded": () =>
      post(button, `${at}/retry?failed=false&degraded=true`, requeued("degraded documents")),
    cancel: () => post(button, `${at}/cancel`, () => "Cancelled; running documents were handed back."),
    resume: () => post(button, `${at}/resume`, () => "Resumed."),
  };
  actions[button.dataset.action ?? ""]?.();
});

byId("submit-form").addEventListener("submit", (e) => {
  e.preventDefault();
  void submit();
});

/** Sends the pasted batch: JSON, else NDJSON (one document a line). */
async function submit(): Promise<void> {
  const text = byId<HTMLTextAreaElement>("submit-json").value.trim();
  if (!text) return notify("Paste a batch first.", "bad");
  let type = "application/json";
  try {
    JSON.parse(text);
  } catch (err) {
    try {
      for (const line of text.split("\n").filter((l) => l.trim() !== "")) JSON.parse(line);
      type = "application/x-ndjson";
    } catch {
      return notify(`Not JSON or NDJSON: ${(err as Error).message}`, "bad");
    }
  }
  const id = byId<HTMLInputElement>("submit-batch-id").value.trim();
  const button = byId<HTMLButtonElement>("submit-button");
  button.disabled = true;
  try {
    const query = id ? `?batch_id=${encodeURIComponent(id)}` : "";
    const body = await api<{ created: boolean; batch_id: string }>(`/v1/batches${query}`, {
      method: "POST",
      type,
      body: text,
    });
    notify(`${body.created ? "Submitted batch " : "Already submitted as batch "}${body.batch_id}.`, "good");
    await batches.load();
    select(body.batch_id);
  } catch (err) {
    notify(`Not submitted: ${(err as Error).message}`, "bad");
  } finally {
    button.disabled = false;
  }
}

openWithToken(byId<HTMLAnchorElement>("link-openapi"));
openWithToken(byId<HTMLAnchorElement>("link-metrics"));
void batches.load();
setInterval(() => document.hidden || void batches.load(), config.refreshMs ?? 3000);
