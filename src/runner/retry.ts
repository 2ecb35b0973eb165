import { contentHash, idempotencyKey, missingContentHash, normalizeContent } from "../core/keys.js";
import { isBinaryFormat } from "../core/types.js";
import { containment, loadFile } from "../input/load.js";
import type { RequeueQuery, Store } from "../store/store.js";
import { settingsFromJson } from "./settings.js";

/**
 * Puts failed (and, if asked, degraded) documents back to pending. A document that failed because
 * its file could not be read is read again first, from the folder the batch was planned from: a
 * file created since then makes it succeed, with the key of its new content.
 */
export async function retryDocuments(store: Store, batchId: string, query: RequeueQuery): Promise<number> {
  const batch = await store.getBatch(batchId);
  if (!batch) return 0;
  const settings = settingsFromJson(batch.settings);
  const candidates = settings.root ? await store.reloadCandidates(batchId, query) : [];
  if (candidates.length > 0 && settings.root) {
    const root = containment(settings.root);
    for (const doc of candidates) {
      const binary = isBinaryFormat(doc.format);
      const loaded = await loadFile(root, doc.path, { maxBytes: settings.maxDocBytes, binary });
      const content =
        loaded.content === undefined ? null : binary ? loaded.content : normalizeContent(loaded.content);
      const loadError = loaded.error ?? null;
      const hash =
        content !== null
          ? contentHash(doc.format, doc.metadata, content)
          : missingContentHash(`${loadError?.code}:${doc.path}`);
      await store.reloadDocument(doc.row, {
        content,
        loadError,
        contentHash: hash,
        idempotencyKey: idempotencyKey(doc.source, doc.docId, hash, batch.layer),
      });
    }
  }
  return store.requeue(batchId, query, Date.now());
}
