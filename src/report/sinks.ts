import type { BreakerState } from "../core/breaker.js";
import type { SinkCursor } from "../store/index-store.js";
import type { Store, StoreEvent } from "../store/store.js";

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
  /**
   * The sink's breaker in the process delivering to it now (closed until a transition says
   * otherwise); null when no process holds the sink's cursor.
   */
  breaker: BreakerState | null;
}

export async function sinkReport(store: Store, batchId: string): Promise<SinkReport[]> {
  const cursors = await store.sinkCursors(batchId);
  const held = cursors.some((c) => c.leaseOwner !== null);
  const transitions = held ? await store.events(batchId, ["sink_breaker"]) : [];
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return cursors.map((c) => ({
    uri: c.uri,
    delivered_seq: c.deliveredSeq,
    lag: c.lag,
    last_error: c.lastError ? { ...c.lastError, at: iso(c.lastErrorAt) } : null,
    head_seq: c.headSeq,
    delivered_at: iso(c.deliveredAt),
    breaker: breakerOf(c, transitions),
  }));
}

/** The last transition the cursor's current holder recorded (each holder's breaker starts closed). */
export function breakerOf(cursor: SinkCursor, transitions: StoreEvent[]): BreakerState | null {
  if (cursor.leaseOwner === null) return null;
  let state: BreakerState = "closed";
  for (const e of transitions) {
    if (e.data.sink === cursor.uri && e.data.owner === cursor.leaseOwner) state = e.data.to as BreakerState;
  }
  return state;
}
