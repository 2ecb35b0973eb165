import { contentHash, idempotencyKey } from "../../src/core/keys.js";
import type { PlannedDocument } from "../../src/core/types.js";

/** Planned text document `d<i>` of source `s` (metadata `{ i }`), keyed under the layer `layer`. */
export function plannedDocument(i: number, content = `content ${i}`): PlannedDocument {
  const hash = contentHash("text", {}, content);
  return {
    seq: i,
    source: "s",
    docId: `d${i}`,
    format: "text",
    metadata: { i },
    content,
    loadError: null,
    contentHash: hash,
    idempotencyKey: idempotencyKey("s", `d${i}`, hash, "layer"),
  };
}
