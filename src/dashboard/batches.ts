import { api } from "./api.js";
import { byId, el, notify, paintBar, setText } from "./dom.js";
import { batchState, clock, int, percent } from "./format.js";
import type { BatchListItem } from "./types.js";

interface Row {
  button: HTMLButtonElement;
  pill: HTMLElement;
  mini: HTMLElement;
  meta: HTMLElement;
  created: string;
}

/** The list of batches on the left: one button each, updated in place. */
export class BatchList {
  private readonly rows = new Map<string, Row>();
  selected: string | null = null;

  constructor(private readonly onSelect: (batchId: string) => void) {}

  has(batchId: string): boolean {
    return this.rows.has(batchId);
  }

  update(b: BatchListItem): void {
    const row = this.row(b.batch_id);
    if (b.created_at) row.created = b.created_at;
    const [tone, label] = batchState(b);
    row.pill.className = `pill ${tone}`;
    row.pill.textContent = label;
    paintBar(row.mini, b.counts);
    row.meta.textContent = `${percent(b.counts, b.plan_complete).text} of ${int(b.counts.total)} docs · created ${clock(row.created)}`;
    row.button.setAttribute("aria-pressed", String(b.batch_id === this.selected));
  }

  mark(selected: string): void {
    this.selected = selected;
    for (const [key, row] of this.rows) row.button.setAttribute("aria-pressed", String(key === selected));
  }

  async load(): Promise<void> {
    let batches: BatchListItem[];
    try {
      batches = (await api<{ batches: BatchListItem[] }>("/v1/batches")).batches;
    } catch (e) {
      setText("batch-count", "");
      notify(`Could not list the batches: ${(e as Error).message}`, "bad");
      return;
    }
    batches.sort((a, b) => ((a.created_at ?? "") < (b.created_at ?? "") ? 1 : -1));
    const list = byId("batch-list");
    if (batches.length === 0) list.replaceChildren(el("p", "muted", "No batches yet: submit one below."));
    else {
      for (const b of batches) this.update(b);
      // Re-appended only when the order changed: replacing a button under the pointer loses the click.
      const order = batches.map((b) => this.rows.get(b.batch_id)!.button);
      if (order.some((button, i) => list.children[i] !== button) || list.children.length !== order.length)
        list.replaceChildren(...order);
    }
    setText("batch-count", batches.length === 1 ? "1 batch" : `${int(batches.length)} batches`);
    if (this.selected === null && batches.length > 0) {
      const wanted = decodeURIComponent(/^#batch=(.+)$/.exec(location.hash)?.[1] ?? "");
      this.onSelect(batches.some((b) => b.batch_id === wanted) ? wanted : batches[0]!.batch_id);
    }
  }

  private row(id: string): Row {
    const existing = this.rows.get(id);
    if (existing) return existing;
    const button = el("button", "batch");
    button.type = "button";
    button.dataset.batchId = id;
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
    button.append(head, mini, meta);
    button.addEventListener("click", () => this.onSelect(id));
    const row = { button, pill, mini, meta, created: "" };
    this.rows.set(id, row);
    return row;
  }
}
