/** What the dashboard reads from the HTTP API (the contract's snake_case, as served). */

export interface Counts {
  total: number;
  done: number;
  degraded: number;
  failed: number;
  pending: number;
  processing: number;
  duplicates_skipped: number;
  unchanged_skipped: number;
  skipped_unsupported?: number;
  [state: string]: number | undefined;
}

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

export interface ErrorInfo {
  code: string;
  message: string;
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

export interface SearchHit {
  doc_id: string;
  source: string;
  chunk_index: number;
  score: number;
  text: string;
  metadata: Record<string, unknown> | null;
  idempotency_key: string;
}

export interface SearchResponse {
  batch_id: string;
  query: string;
  index: string;
  results: SearchHit[];
}
