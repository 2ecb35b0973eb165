import type { ErrorInfo, StateCounts } from "../core/types.js";
import type { SearchHit as StoredSearchHit } from "../store/index-store.js";

/**
 * What the dashboard reads from the HTTP API (the contract's snake_case, as served). Types the
 * server shares are imported as types only: the bundle holds none of the server's code.
 */

export type { ErrorInfo };

/** Counts added after the first servers, so possibly missing from an answer. */
type LaterCounts = "changed" | "deleted" | "skipped_unsupported";

/** The counts of a batch as the server computes them; the dashboard also looks states up by name. */
export type Counts = Omit<StateCounts, LaterCounts> &
  Partial<Pick<StateCounts, LaterCounts>> & { [state: string]: number | undefined };

/** A search result; the dashboard shows one without metadata too. */
export type SearchHit = Omit<StoredSearchHit, "metadata"> & { metadata: Record<string, unknown> | null };

export interface BatchListItem {
  batch_id: string;
  created_at?: string;
  running: boolean;
  cancelled: boolean;
  plan_complete: boolean;
  counts: Counts;
}

/** A server-sent `progress` event: the live status and the report's figures. */
export interface ProgressEvent extends BatchListItem {
  at: string;
  completion_rate: number;
  throughput_docs_per_min: number;
  retries: number;
  latency_ms?: { p50: number; p95: number; p99: number; count: number };
  failure_reasons?: Record<string, number>;
  progress: { inFlight: number; retriesWaiting: number; breaker: string } | null;
  sinks?: SinkStatus[];
}

export interface DocumentRow {
  id: string;
  source: string;
  state: string;
  attempts: number;
  last_error: ErrorInfo | null;
  degraded_reason: ErrorInfo | null;
  updated_at: string | null;
}

export interface DocumentPage {
  documents: DocumentRow[];
  next: string | null;
}

export interface ReportSummary {
  dup_rate: number;
  duplicate_executions: number;
}

/** A sink of the batch, as `/v1/batches/:id/sinks` and the progress events give it. */
export interface SinkStatus {
  uri: string;
  delivered_seq: number;
  head_seq: number;
  lag: number;
  last_error: { code: string; message: string; at: string | null } | null;
  delivered_at: string | null;
  breaker: "closed" | "open" | "half-open" | null;
}

export interface SearchResponse {
  batch_id: string;
  query: string;
  index: string;
  results: SearchHit[];
}
