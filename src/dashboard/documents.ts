import { api, batchPath } from "./api.js";
import { byId, el, notify, setText } from "./dom.js";
import { clock, int } from "./format.js";
import type { DocumentPage, DocumentRow, ProgressEvent } from "./types.js";

const PAGE = 100;

/**
 * A table of the selected batch's documents in one state (failed, or degraded with the reason the
 * fallback path was taken), paged, and re-fetched when the counts move: a fetch in flight is
 * followed by one more, never by a pile.
 */
export class DocumentTable {
  private batchId: string | null = null;
  private key = "";
  private busy = false;
  private dirty = false;
  private next: string | null = null;
  private total = 0;

  constructor(readonly state: "failed" | "degraded") {
    byId(`${state}-more`).addEventListener("click", () => void this.load(true));
  }

  select(batchId: string): void {
    this.batchId = batchId;
    this.key = "";
    this.next = null;
    byId(`${this.state}-body`).replaceChildren();
  }

  /** Reloads when something that changes the list changed. */
  progress(d: ProgressEvent): void {
    this.total = d.counts[this.state] ?? 0;
    const attempts = Object.values(d.failure_reasons ?? {}).reduce((a, b) => a + b, 0);
    const key = [this.total, d.counts.total, d.retries, attempts, d.running].join("|");
    if (key !== this.key) {
      this.key = key;
      void this.load(false);
    }
  }

  /** Forgets what it showed, so the next progress event reloads it (after an action). */
  invalidate(): void {
    this.key = "";
    void this.load(false);
  }

  private async load(more: boolean): Promise<void> {
    if (this.busy) {
      this.dirty = this.dirty || !more;
      return;
    }
    const id = this.batchId;
    if (id === null) return;
    const shown = byId(`${this.state}-body`).children.length;
    const limit = Math.min(1000, Math.max(PAGE, shown));
    const url =
      more && this.next ? this.next : `${batchPath(id)}/documents?state=${this.state}&limit=${limit}`;
    this.busy = true;
    try {
      const body = await api<DocumentPage>(url);
      if (id === this.batchId) {
        this.render(body.documents, more);
        this.next = body.next;
        byId(`${this.state}-more`).hidden = !body.next;
      }
    } catch (e) {
      notify(`Could not list the ${this.state} documents: ${(e as Error).message}`, "bad");
    } finally {
      this.busy = false;
      if (this.dirty) {
        this.dirty = false;
        void this.load(false);
      }
    }
  }

  private render(docs: DocumentRow[], append: boolean): void {
    const body = byId(`${this.state}-body`);
    if (!append) body.replaceChildren();
    for (const d of docs) body.append(this.row(d));
    const n = body.children.length;
    byId(`${this.state}-empty`).hidden = n > 0;
    setText(`${this.state}-count`, n === 0 ? "" : `showing ${int(n)} of ${int(Math.max(n, this.total))}`);
  }

  private row(d: DocumentRow): HTMLTableRowElement {
    const tr = el("tr");
    tr.dataset.docId = d.id;
    tr.dataset.source = d.source;
    const idCell = el("td", "id");
    idCell.title = d.id;
    idCell.append(el("span", "", d.id), el("span", "src", d.source));
    const why = (this.state === "failed" ? d.last_error : d.degraded_reason) ?? { code: "—", message: "" };
    const code = el("td");
    code.dataset.field = "code";
    const pill = el("span", `pill ${this.state === "failed" ? "bad" : "warn"}`, why.code);
    pill.title = why.code;
    code.append(pill);
    const msg = el("td", "msg", why.message);
    msg.dataset.field = "message";
    msg.title = why.message;
    const tries = el("td", "n", int(d.attempts));
    tries.dataset.field = "attempts";
    const act = el("td", "n");
    const button = el("button", "small", this.state === "failed" ? "Retry" : "Backfill");
    button.type = "button";
    button.dataset.action = this.state === "failed" ? "retry-doc" : "backfill-doc";
    act.append(button);
    tr.append(idCell, tries, code, msg, el("td", "", clock(d.updated_at)), act);
    return tr;
  }
}
