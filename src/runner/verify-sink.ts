import { DocbatchError } from "../core/errors.js";
import { openSink, type SinkSources } from "../sinks/open.js";
import { chunkFingerprint, type Sink, type SinkChunk, type SinkKey } from "../sinks/sink.js";
import { parseSinkUri } from "../sinks/uri.js";
import type { SinkLease } from "../store/index-store.js";
import type { ExportRow, Store } from "../store/store.js";
import { deadSinkOwners, sinkOwner } from "./sink-delivery.js";

/** The contract's answer of `docbatch verify` (counts of chunk keys). */
export interface VerifyResult {
  sink: string;
  expected: number;
  found: number;
  missing: number;
  extra: number;
  mismatched: number;
  /** Keys written or removed by `--repair` (0 without it). */
  repaired: number;
  /** With `--repair`: what the first comparison found, before the repair. */
  before?: { found: number; missing: number; extra: number; mismatched: number };
}

export interface VerifyOptions {
  store: Store;
  batchId: string;
  /** A sink URI (`jsonl:…`, `pgvector:…`) or a Sink object. */
  sink: string | Sink;
  /** Write what is missing or different, remove what is extra, then compare again. @default false */
  repair?: boolean;
}

/** Keys written per sink call while repairing. */
const REPAIR_BATCH = 500;

/**
 * Compares what a sink holds for the batch with the store, key by key, with a digest of text and
 * vector per key: the drift check between the ledger and the index. `--repair` holds the sink's
 * cursor lease while it writes (so no deliverer interleaves), upserts missing and mismatched keys
 * from the store, deletes extra ones, and compares again. The cursor does not move: changes not
 * delivered yet are still delivered, and delivering them again is harmless (by key).
 */
export async function verifySink(options: VerifyOptions): Promise<VerifyResult> {
  const { store, batchId } = options;
  const sources: SinkSources = new Map();
  const uri = typeof options.sink === "string" ? parseSinkUri(options.sink).uri : options.sink.uri;
  sources.set(uri, options.sink);
  const sink = await openSink(uri, batchId, sources);
  let lease: SinkLease | null = null;
  try {
    const first = await compare(store, batchId, sink);
    if (!options.repair || first.missing.size + first.extra.size + first.mismatched.size === 0) {
      return { ...counts(uri, first), repaired: 0 };
    }
    lease = await holdCursor(store, batchId, uri);
    const repaired = await repair(store, batchId, sink, first);
    const second = await compare(store, batchId, sink);
    const before = counts(uri, first);
    return {
      ...counts(uri, second),
      repaired,
      before: {
        found: before.found,
        missing: before.missing,
        extra: before.extra,
        mismatched: before.mismatched,
      },
    };
  } finally {
    if (lease) await store.releaseSink(lease);
    if (typeof options.sink === "string") await sink.close?.();
  }
}

interface Comparison {
  expected: number;
  found: number;
  missing: Set<string>;
  extra: Map<string, SinkKey>;
  mismatched: Set<string>;
}

async function compare(store: Store, batchId: string, sink: Sink): Promise<Comparison> {
  const expected = new Map<string, string>();
  for await (const row of store.exportChunks(batchId, { withEmbeddings: true })) {
    expected.set(row.idempotency_key, chunkFingerprint(row.text, row.embedding));
  }
  const missing = new Set(expected.keys());
  const extra = new Map<string, SinkKey>();
  const mismatched = new Set<string>();
  let found = 0;
  for await (const record of sink.keys()) {
    found += 1;
    const want = expected.get(record.key);
    if (want === undefined) {
      extra.set(record.key, {
        key: record.key,
        doc_id: record.doc_id ?? "",
        source: record.source ?? "",
        chunk_index: record.chunk_index ?? Number(record.key.slice(record.key.lastIndexOf(":") + 1)),
      });
      continue;
    }
    missing.delete(record.key);
    // A sink that keeps neither text nor vector is checked by key only.
    if (record.text === undefined && record.embedding === undefined) continue;
    if (chunkFingerprint(record.text, record.embedding) !== want) mismatched.add(record.key);
  }
  return { expected: expected.size, found, missing, extra, mismatched };
}

function counts(uri: string, c: Comparison): Omit<VerifyResult, "repaired"> {
  return {
    sink: uri,
    expected: c.expected,
    found: c.found,
    missing: c.missing.size,
    extra: c.extra.size,
    mismatched: c.mismatched.size,
  };
}

async function repair(store: Store, batchId: string, sink: Sink, c: Comparison): Promise<number> {
  const extra = [...c.extra.values()];
  for (let i = 0; i < extra.length; i += REPAIR_BATCH) await sink.delete(extra.slice(i, i + REPAIR_BATCH));
  let batch: SinkChunk[] = [];
  let written = 0;
  for await (const row of store.exportChunks(batchId, { withEmbeddings: true })) {
    if (!c.missing.has(row.idempotency_key) && !c.mismatched.has(row.idempotency_key)) continue;
    batch.push(toSinkChunk(row));
    if (batch.length >= REPAIR_BATCH) {
      await sink.upsert(batch);
      written += batch.length;
      batch = [];
    }
  }
  if (batch.length > 0) await sink.upsert(batch);
  return written + batch.length + extra.length;
}

function toSinkChunk(row: ExportRow): SinkChunk {
  return {
    key: row.idempotency_key,
    doc_id: row.doc_id,
    source: row.source,
    chunk_index: row.chunk_index,
    text: row.text,
    metadata: row.metadata,
    embedding: row.embedding ?? null,
  };
}

/** Takes the sink's cursor lease while repairing, when the batch delivers to this sink. */
async function holdCursor(store: Store, batchId: string, uri: string): Promise<SinkLease | null> {
  const cursors = await store.sinkCursors(batchId);
  if (!cursors.some((c) => c.uri === uri)) return null;
  const lease = await store.claimSink(batchId, uri, sinkOwner(), 60_000, deadSinkOwners(cursors));
  if (!lease) {
    throw new DocbatchError("SINK_BUSY", `Another process is delivering to ${uri} for batch ${batchId}.`);
  }
  return lease;
}
