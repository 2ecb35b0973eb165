import type { GarbageResult } from "../store/embed-cache.js";
import type { Store } from "../store/store.js";
import { embedLayerOf, settingsFromJson } from "./settings.js";

export interface GarbageOptions {
  store: Store;
  /** Also remove events and failed-attempt rows older than this many ms (retention). */
  olderThanMs?: number;
  /** @default Date.now() */
  now?: number;
}

/**
 * `docbatch gc`: removes the embedding cache entries that no batch's committed chunks use under
 * that batch's embedding layer, and, with `olderThanMs`, the history (events and failed attempts)
 * older than that. The current state of every document, its chunks and its last error stay. Texts
 * of documents still in flight may lose their entries: they are embedded again when met.
 */
export async function collectGarbage(options: GarbageOptions): Promise<GarbageResult> {
  const { store } = options;
  const batches = (await store.listBatches()).map((b) => ({
    batchId: b.batchId,
    embedLayer: embedLayerOf(settingsFromJson(b.settings)),
  }));
  const now = options.now ?? Date.now();
  const olderThan = options.olderThanMs === undefined ? null : now - options.olderThanMs;
  return store.collectGarbage({ batches, olderThan });
}
