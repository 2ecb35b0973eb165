import { afterEach, beforeEach } from "vitest";
import { contentHash, idempotencyKey } from "../../src/core/keys.js";
import type { JsonObject, PlannedDocument } from "../../src/core/types.js";
import type { ClaimedDocument, CommitRequest, Outcome, RunHandle, Store } from "../../src/store/store.js";

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

/** A commit of `outcomes` that claims `claim` more documents, with a 30 s lease. */
export function commitRequest(
  run: RunHandle,
  outcomes: Outcome[],
  claim = 0,
  { now = Date.now(), leaseMs = 30_000 } = {},
): CommitRequest {
  return { run, outcomes, progress: [], claim, leaseMs, now };
}

/** The embedding timed out once: `doc` goes back to pending, claimable from `notBefore` on. */
export function embedTimeoutRetry(doc: ClaimedDocument, notBefore: number): Outcome {
  return {
    kind: "retry",
    doc,
    error: { code: "EMBED_TIMEOUT", message: "slow" },
    stage: "embed",
    stageAttempts: 1,
    notBefore,
  };
}

/** A run of the tests' own worker, started now. */
export function startTestRun(store: Store, batchId: string): Promise<RunHandle> {
  return store.startRun({
    batchId,
    workerId: "w",
    host: "h",
    pid: 1,
    command: "test",
    processStartedAt: Date.now(),
  });
}
