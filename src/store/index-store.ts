import type { DeliveredChunk, ErrorInfo, JsonObject, KeyedChunk } from "../core/types.js";

/**
 * What a store promises for the index layer: the outbox of output changes, the cursors of the
 * sinks fed from it, and search over the batch's vectors.
 *
 * Invariants (checked by `test/store/conformance.ts` for every store):
 * - Every commit that changes a document's output (new chunks, chunks replaced, a failed document
 *   losing its chunks, later a deleted document) appends its changes to the batch's outbox in the
 *   same transaction, through one function per store (`recordOutputChanges`). A commit that does
 *   not change output appends nothing.
 * - Outbox `seq` numbers of a batch are dense and visible in commit order: a reader never sees
 *   seq n+1 before seq n (see each store's `outbox.ts` for how).
 * - Outbox rows reference output (document row, key, chunk range) and never copy texts or vectors:
 *   a million chunks cost a million small rows at most, one per document change.
 * - Reading changes expands the rows against the output as it is *now*, in one snapshot: an upsert
 *   row of a version that a later commit replaced yields nothing (that later commit has rows of its
 *   own); a delete row never removes a key the current output holds. Delivering every row in order
 *   therefore leaves a sink holding exactly the current output, whatever crashes and redeliveries
 *   happened in between, and nothing reaches a sink before its store commit.
 * - A sink's cursor advances only through `ackSink` with the fence of a live lease; a deliverer whose
 *   lease was taken over cannot move the cursor.
 */

/** Output of one document version: chunk keys `key:0 … key:(count-1)`. */
export interface OutputVersion {
  key: string;
  count: number;
}

/** What one commit did to a document's output. */
export interface OutputChange {
  row: number;
  docId: string;
  source: string;
  before: OutputVersion | null;
  after: OutputVersion | null;
}

export interface SinkCursor {
  uri: string;
  /** The last outbox seq the sink acknowledged. */
  deliveredSeq: number;
  /** The batch's last outbox seq. */
  headSeq: number;
  /** headSeq − deliveredSeq: changes committed but not yet in the sink. */
  lag: number;
  lastError: ErrorInfo | null;
  lastErrorAt: number | null;
  deliveredAt: number | null;
  attachedAt: number;
  leaseOwner: string | null;
  leaseHost: string | null;
  leasePid: number | null;
  leaseExpiresAt: number | null;
}

/** A deliverer's hold on one sink cursor; its fence guards every write to the cursor. */
export interface SinkLease {
  batchId: string;
  uri: string;
  owner: string;
  fence: number;
  deliveredSeq: number;
}

export interface SinkOwner {
  owner: string;
  host: string;
  pid: number;
}

/** A change of the outbox, expanded to one chunk: upsert it, or delete its key. */
export type SinkChange =
  | ({ seq: number; op: "upsert" } & DeliveredChunk<Float32Array>)
  | ({ seq: number; op: "delete" } & KeyedChunk);

export interface ChangePage {
  changes: SinkChange[];
  /** The last outbox seq this page covers (the cursor after delivering it). */
  throughSeq: number;
  headSeq: number;
}

export interface SearchHit {
  doc_id: string;
  source: string;
  chunk_index: number;
  score: number;
  text: string;
  metadata: JsonObject;
  idempotency_key: string;
}

export interface SearchResult {
  hits: SearchHit[];
  /** How the neighbours were found: `sqlite-vec`, `pgvector`, or `exact-scan` (no index available). */
  index: "sqlite-vec" | "pgvector" | "exact-scan";
}

export interface IndexStore {
  /** Gives the batch a cursor for each URI it does not have yet (starting before the first change). */
  attachSinks(batchId: string, uris: string[], now: number): Promise<void>;
  sinkCursors(batchId: string): Promise<SinkCursor[]>;
  /**
   * Takes the cursor of one sink for `leaseMs` when it is free, expired, already ours, or held by
   * one of `deadOwners`; null when another live deliverer holds it.
   */
  claimSink(
    batchId: string,
    uri: string,
    owner: SinkOwner,
    leaseMs: number,
    deadOwners: string[],
  ): Promise<SinkLease | null>;
  /** Up to `limit` outbox rows after `afterSeq`, expanded into chunk changes, in one snapshot. */
  readChanges(batchId: string, afterSeq: number, limit: number): Promise<ChangePage>;
  /**
   * Moves the cursor to `throughSeq` (what the sink acknowledged), clears its error and renews the
   * lease; false when the lease was lost (nothing written).
   */
  ackSink(lease: SinkLease, throughSeq: number, leaseMs: number): Promise<boolean>;
  /** Records a failed delivery on the cursor (it does not move). */
  recordSinkError(lease: SinkLease, error: ErrorInfo): Promise<void>;
  releaseSink(lease: SinkLease): Promise<void>;
  /** Forgets a sink of the batch (its cursor); the sink itself is left as it is. */
  detachSink(batchId: string, uri: string): Promise<boolean>;
  /** The `k` chunks of the batch nearest to `vector` by cosine similarity, best first. */
  search(batchId: string, vector: Float32Array, k: number): Promise<SearchResult>;
}
