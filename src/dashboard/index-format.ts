import { batchPath, clock, int, type Tone } from "./format.js";
import type { SearchResponse, SinkStatus } from "./types.js";

/** The search results and the sinks of a batch, as text: pure, so tests run it without a browser. */

export const searchPath = (batchId: string, query: string, k: number): string =>
  `${batchPath(batchId)}/search?q=${encodeURIComponent(query)}&k=${k}`;

const INDEXES: Record<string, string> = {
  "sqlite-vec": "sqlite-vec index",
  pgvector: "pgvector index",
  "exact-scan": "exact scan (no vector index)",
};

export function searchSummary(r: SearchResponse): string {
  const n = r.results.length;
  const found = n === 0 ? "No chunk with a vector" : `${int(n)} ${n === 1 ? "chunk" : "chunks"}`;
  return `${found} for “${r.query}” · ${INDEXES[r.index] ?? r.index}`;
}

/** Cosine similarity, three decimals: the ranks differ in the second or third. */
export const scoreText = (score: number): string => (Number.isFinite(score) ? score.toFixed(3) : "—");

/** Text on one line, cut at `max` characters. */
export function snippet(text: string, max = 320): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1).trimEnd()}…` : line;
}

/** A chunk's metadata as `key: value` pairs; heading paths as `A › B`, nested values as JSON. */
export function metadataText(metadata: Record<string, unknown> | null | undefined): string {
  if (!metadata) return "";
  const value = (v: unknown): string => {
    if (Array.isArray(v)) return v.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" › ");
    if (v !== null && typeof v === "object") return JSON.stringify(v);
    return String(v);
  };
  return Object.entries(metadata)
    .filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}: ${value(v)}`)
    .join(" · ");
}

/** A URI as shown: any password in it removed (a batch remembers its sinks without them anyway). */
export const withoutPassword = (uri: string): string => uri.replace(/(\/\/[^/@:]*):[^/@]*@/, "$1@");

export interface SinkView {
  kind: string;
  target: string;
  lag: string;
  cursor: string;
  breaker: [Tone | "", string];
  error: string;
  delivered: string;
  tone: Tone;
}

/** One row of the sinks panel. */
export function sinkView(s: SinkStatus): SinkView {
  const uri = withoutPassword(s.uri);
  const colon = uri.indexOf(":");
  const kind = colon > 0 ? uri.slice(0, colon) : "sink";
  const breaker: SinkView["breaker"] =
    s.breaker === null
      ? ["", "not delivering"]
      : s.breaker === "open"
        ? ["bad", "open"]
        : s.breaker === "half-open"
          ? ["warn", "half-open"]
          : ["good", "closed"];
  const failing = s.last_error !== null && s.lag > 0;
  return {
    kind,
    target: colon > 0 ? uri.slice(colon + 1) : uri,
    lag: int(s.lag),
    cursor: `${int(s.delivered_seq)} of ${int(s.head_seq)}`,
    breaker,
    error: s.last_error ? `${s.last_error.code}: ${s.last_error.message}` : "",
    delivered: clock(s.delivered_at),
    tone: failing || s.breaker === "open" ? "bad" : s.lag > 0 ? "run" : "good",
  };
}

/** The panel's heading figure: the sinks and their total lag. */
export function sinksSummary(sinks: SinkStatus[]): string {
  if (sinks.length === 0) return "";
  const lag = sinks.reduce((sum, s) => sum + s.lag, 0);
  const what = sinks.length === 1 ? "1 sink" : `${int(sinks.length)} sinks`;
  return lag === 0 ? `${what}, caught up` : `${what}, ${int(lag)} changes behind`;
}
