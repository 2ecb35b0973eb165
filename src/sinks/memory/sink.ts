import type { Sink, SinkChunk, SinkKey, SinkRecord } from "../sink.js";

/**
 * The smallest complete sink: a map from key to chunk. It is what the conformance suite checks
 * every sink against, and the example to copy for an index of one's own: `upsert` and `delete`
 * are by key and idempotent, `keys` reports what is held.
 */
export class MemorySink implements Sink {
  readonly chunks = new Map<string, SinkChunk>();
  /** Every call, in order (for tests and for watching what arrives). */
  readonly calls: ({ op: "upsert"; chunks: SinkChunk[] } | { op: "delete"; keys: SinkKey[] })[] = [];

  constructor(readonly uri = "memory:default") {}

  async upsert(chunks: SinkChunk[]): Promise<void> {
    for (const chunk of chunks) this.chunks.set(chunk.key, structuredClone(chunk));
    this.calls.push({ op: "upsert", chunks });
  }

  async delete(keys: SinkKey[]): Promise<void> {
    for (const key of keys) this.chunks.delete(key.key);
    this.calls.push({ op: "delete", keys });
  }

  async *keys(): AsyncIterable<SinkRecord> {
    for (const chunk of this.chunks.values()) {
      const { key, text, embedding, doc_id, source, chunk_index } = chunk;
      yield { key, text, embedding, doc_id, source, chunk_index };
    }
  }
}
