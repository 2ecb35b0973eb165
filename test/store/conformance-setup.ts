import { afterEach, beforeEach } from "vitest";
import { contentHash, idempotencyKey } from "../../src/core/keys.js";
import type { JsonObject, PlannedDocument } from "../../src/core/types.js";
import type { Store } from "../../src/store/store.js";

/** Gives every test of the suite a fresh, open store from `factory` (through `use`), closed after it. */
export function freshStoreEachTest(factory: () => Promise<Store>, use: (store: Store) => void): void {
  let store: Store | undefined;
  beforeEach(async () => {
    store = await factory();
    await store.open();
    use(store);
  });
  afterEach(async () => {
    await store?.close();
  });
}

/** A planned text document `d<i>` of source `s`, with its content hash and idempotency key. */
export function plannedText(
  i: number,
  layer: string,
  { content = `content ${i}`, docId = `d${i}`, metadata = {} as JsonObject } = {},
): PlannedDocument {
  const hash = contentHash("text", {}, content);
  return {
    seq: i,
    source: "s",
    docId,
    format: "text",
    metadata,
    content,
    loadError: null,
    contentHash: hash,
    idempotencyKey: idempotencyKey("s", docId, hash, layer),
  };
}
