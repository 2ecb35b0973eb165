import type { Store } from "../store/store.js";

/** A sink of the batch as `status` and `report` show it. */
export interface SinkReport {
  uri: string;
  /** The last outbox seq the sink acknowledged. */
  delivered_seq: number;
  /** Changes committed in the store that the sink has not acknowledged yet. */
  lag: number;
  last_error: { code: string; message: string; at: string | null } | null;
  head_seq: number;
  delivered_at: string | null;
}

export async function sinkReport(store: Store, batchId: string): Promise<SinkReport[]> {
  const cursors = await store.sinkCursors(batchId);
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return cursors.map((c) => ({
    uri: c.uri,
    delivered_seq: c.deliveredSeq,
    lag: c.lag,
    last_error: c.lastError ? { ...c.lastError, at: iso(c.lastErrorAt) } : null,
    head_seq: c.headSeq,
    delivered_at: iso(c.deliveredAt),
  }));
}
