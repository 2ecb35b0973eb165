import type { JsonObject } from "../core/types.js";

/**
 * What a store promises for the embedding cache and its garbage collection.
 *
 * The cache maps (embedding layer, sha256 of a chunk text) to the text's vector, for every batch of
 * the store: a text embedded once under a layer is never sent again under it, whatever document or
 * batch it comes from. Entries are written as answers arrive, apart from the commits of documents,
 * and writing one twice keeps the first (equal keys stand for equal vectors), so a write retried
 * after an unknown outcome is harmless. An entry lost (a power loss before the store synced it, a
 * `gc`) costs one embedding request again, never a wrong vector.
 *
 * Invariants (checked by `test/store/conformance.ts` for every store):
 * - `lookupVectors` returns exactly the entries stored under that layer, bit for bit;
 * - `collectGarbage` keeps every entry whose text is a committed chunk with a vector of a batch
 *   whose embedding layer is the entry's, and removes the others; with `olderThan` it removes
 *   events and failed-attempt rows older than that, never a document's state.
 */
export interface EmbedCacheStore {
  /** The vectors stored under `layer` for these text hashes (absent ones are not in the map). */
  lookupVectors(layer: string, hashes: string[]): Promise<Map<string, Float32Array>>;
  /** Stores vectors under `layer`; an entry already there is kept. Returns how many were new. */
  storeVectors(layer: string, entries: CachedVector[], now: number): Promise<number>;
  /**
   * The committed chunk texts and their metadata of a document, in order, when its output is
   * complete (a document whose chunker and content are unchanged embeds them again without being
   * parsed); null when it has none.
   */
  loadOutputChunks(row: number): Promise<OutputChunks | null>;
  collectGarbage(request: GarbageRequest): Promise<GarbageResult>;
}

export interface CachedVector {
  /** `chunkTextHash` of the text. */
  hash: string;
  embedding: Float32Array;
}

export interface OutputChunks {
  texts: string[];
  metadata: JsonObject[];
}

export interface GarbageRequest {
  /** Every batch of the store with the embedding layer its settings give. */
  batches: { batchId: string; embedLayer: string }[];
  /** Remove events and failed-attempt rows from before this time (ms since the epoch). */
  olderThan: number | null;
}

export interface GarbageResult {
  /** Cache entries removed, and kept. */
  cacheRemoved: number;
  cacheKept: number;
  eventsRemoved: number;
  failuresRemoved: number;
}
