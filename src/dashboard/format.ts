import type { BatchListItem, Counts } from "./types.js";

/** Formatting and state of the dashboard: pure, so tests run it without a browser. */

const finite = (n: unknown): number => (typeof n === "number" && Number.isFinite(n) ? n : 0);

export const int = (n: unknown): string => Math.round(finite(n)).toLocaleString("en-US");

export const pct = (r: unknown): string => `${(finite(r) * 100).toFixed(1)}%`;

/** Floored, so that "100.0%" means all of it, not 99.96%. */
export const floorPct = (r: unknown): string => `${(Math.floor(finite(r) * 1000 + 1e-6) / 10).toFixed(1)}%`;

export const clock = (iso: string | null | undefined): string =>
  iso ? new Date(iso).toLocaleTimeString("en-GB") : "—";

export function ms(n: number | null | undefined): string {
  if (typeof n !== "number" || !Number.isFinite(n)) return "—";
  if (n === 0) return "0 ms";
  if (n >= 1000) return `${(n / 1000).toFixed(n >= 10000 ? 1 : 2)} s`;
  return `${n.toFixed(n < 1 ? 2 : n < 10 ? 1 : 0)} ms`;
}

export const settled = (c: Counts): number => c.done + c.degraded + c.failed;

export const unsettled = (c: Counts): number => c.pending + c.processing;

export function percent(c: Counts, planComplete: boolean): { ratio: number; text: string } {
  const ratio = c.total > 0 ? settled(c) / c.total : planComplete ? 1 : 0;
  return { ratio, text: floorPct(ratio) };
}

export type Tone = "run" | "warn" | "bad" | "good";

/** The state pill of a batch: its tone and its words. */
export function batchState(b: BatchListItem): [Tone, string] {
  const c = b.counts;
  if (b.running) return b.plan_complete ? ["run", "Running"] : ["run", "Planning"];
  if (b.cancelled) return ["warn", "Cancelled"];
  if (!b.plan_complete || unsettled(c) > 0) return ["warn", "Stopped"];
  if (c.failed > 0) return ["bad", `Finished, ${int(c.failed)} failed`];
  if (c.degraded > 0) return ["good", `Finished, ${int(c.degraded)} degraded`];
  return ["good", "Finished"];
}

export const batchPath = (id: string): string => `/v1/batches/${encodeURIComponent(id)}`;

/** What a person reads of a failed API call: the contract's error body, when there is one. */
export interface Problem {
  code: string;
  message: string;
  /** The first detail, as `path: problem`. */
  detail: string | null;
  /** The first hint: what to do about it. */
  hint: string | null;
}

export function problemOf(status: number, body: unknown): Problem {
  const err = (
    body as {
      error?: {
        code: string;
        message: string;
        details?: { path: string; problem: string }[];
        hints?: string[];
      };
    }
  )?.error;
  if (!err) return { code: `HTTP ${status}`, message: "", detail: null, hint: null };
  const first = err.details?.[0];
  return {
    code: err.code,
    message: err.message,
    detail: first ? `${first.path}: ${first.problem}` : null,
    hint: err.hints?.[0] ?? null,
  };
}

/** The message of a failed API call, from the contract's error body when there is one. */
export function errorText(status: number, body: unknown): string {
  const p = problemOf(status, body);
  if (!p.message) return p.code;
  return `${p.code}: ${p.message}${p.detail ? ` (${p.detail})` : ""}`;
}
