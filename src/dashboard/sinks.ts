import { byId, el, setText } from "./dom.js";
import { sinksSummary, sinkView } from "./index-format.js";
import type { ProgressEvent, SinkStatus } from "./types.js";

/**
 * The sinks of the selected batch: kind and target (no password), lag, cursor, breaker, last
 * error. Filled from the progress events, so it moves with the rest of the page and costs no
 * request of its own.
 */
export class SinksPanel {
  select(): void {
    byId("sinks-body").replaceChildren();
    setText("sinks-count", "");
    byId("sinks-empty").hidden = true;
  }

  progress(d: ProgressEvent): void {
    const sinks = d.sinks ?? [];
    byId("sinks-body").replaceChildren(...sinks.map(row));
    byId("sinks-empty").hidden = sinks.length > 0;
    setText("sinks-count", sinksSummary(sinks));
  }
}

function row(s: SinkStatus): HTMLTableRowElement {
  const v = sinkView(s);
  const tr = el("tr");
  tr.dataset.sink = s.uri;
  tr.dataset.tone = v.tone;
  const name = el("td", "id");
  name.title = `${v.kind}:${v.target}`;
  name.append(el("span", `pill ${v.tone}`, v.kind), el("span", "src", v.target));
  const cell = (field: string, text: string, cls = "") => {
    const td = el("td", cls, text);
    td.dataset.field = field;
    if (text) td.title = text;
    return td;
  };
  const breaker = el("td");
  breaker.dataset.field = "breaker";
  breaker.append(el("span", `pill ${v.breaker[0]}`, v.breaker[1]));
  tr.append(
    name,
    cell("lag", v.lag, "n"),
    cell("cursor", v.cursor, "n"),
    breaker,
    cell("error", v.error, "msg"),
    cell("delivered", v.delivered),
  );
  return tr;
}
