import { ApiError, api } from "./api.js";
import { byId, el, setText } from "./dom.js";
import { metadataText, scoreText, searchPath, searchSummary, snippet } from "./index-format.js";
import type { SearchHit, SearchResponse } from "./types.js";

/**
 * The search box of the selected batch (`GET /v1/batches/:id/search`): the nearest chunks with
 * their document, chunk, score, text and metadata. An answer that arrives after another batch was
 * picked, or after a newer query, is dropped.
 */
export class SearchPanel {
  private batchId: string | null = null;
  private asked = 0;

  constructor() {
    byId("search-form").addEventListener("submit", (e) => {
      e.preventDefault();
      void this.search();
    });
  }

  select(batchId: string): void {
    this.batchId = batchId;
    this.asked += 1;
    this.show(null, "");
  }

  progress(): void {}

  private async search(): Promise<void> {
    const id = this.batchId;
    const query = byId<HTMLInputElement>("search-q").value;
    const k = Number(byId<HTMLInputElement>("search-k").value || "5");
    if (id === null || query.trim() === "") return;
    const asked = ++this.asked;
    const button = byId<HTMLButtonElement>("search-button");
    button.disabled = true;
    setText("search-summary", "Searching…");
    try {
      const answer = await api<SearchResponse>(searchPath(id, query, k));
      if (asked === this.asked) this.show(answer, searchSummary(answer));
    } catch (e) {
      if (asked === this.asked) this.fail(e);
    } finally {
      button.disabled = false;
    }
  }

  private show(answer: SearchResponse | null, summary: string): void {
    byId("search-error").hidden = true;
    setText("search-summary", summary);
    byId("search-results").replaceChildren(...(answer?.results ?? []).map(hit));
  }

  /** The error body's message and its hint (what to do about it). */
  private fail(e: unknown): void {
    this.show(null, "");
    const problem = e instanceof ApiError ? e.problem : null;
    setText("search-error-text", (e as Error).message);
    setText("search-error-hint", problem?.hint ?? "");
    byId("search-error").hidden = false;
  }
}

function hit(h: SearchHit): HTMLLIElement {
  const li = el("li", "hit");
  li.dataset.docId = h.doc_id;
  li.dataset.chunkIndex = String(h.chunk_index);
  const head = el("div", "hit-head");
  const score = el("span", "score", scoreText(h.score));
  score.dataset.field = "score";
  const doc = el("span", "doc", h.doc_id);
  doc.dataset.field = "doc";
  doc.title = h.idempotency_key;
  head.append(score, doc, el("span", "muted", `${h.source} · chunk ${h.chunk_index}`));
  const text = el("p", "hit-text", snippet(h.text));
  text.dataset.field = "text";
  text.title = h.text;
  const meta = metadataText(h.metadata);
  const metaLine = el("p", "hit-meta", meta);
  metaLine.dataset.field = "metadata";
  metaLine.hidden = meta === "";
  li.append(head, text, metaLine);
  return li;
}
