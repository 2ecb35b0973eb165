/** DOM helpers. Data only ever reaches the page through textContent, dataset or title. */

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls?: string,
  text?: string | number,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = String(text);
  return e;
}

export function setText(id: string, text: string): void {
  byId(id).textContent = text;
}

let messageTimer: ReturnType<typeof setTimeout> | undefined;

export function notify(text: string, tone: "good" | "bad" | "" = ""): void {
  const m = byId("message");
  m.textContent = text;
  m.className = `message ${tone}`;
  m.hidden = false;
  clearTimeout(messageTimer);
  messageTimer = setTimeout(
    () => {
      m.hidden = true;
    },
    tone === "bad" ? 15000 : 6000,
  );
}

/** Widths of the state segments of a progress bar. */
export function paintBar(target: HTMLElement, counts: Record<string, number | undefined>): void {
  const total = counts.total ?? 0;
  for (const seg of target.querySelectorAll<HTMLElement>("[data-segment]")) {
    const n = counts[seg.dataset.segment ?? ""] ?? 0;
    seg.style.width = `${total > 0 ? (n / total) * 100 : 0}%`;
  }
}
