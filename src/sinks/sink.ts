import { createHash } from "node:crypto";
import type { DeliveredChunk, KeyedChunk } from "../core/types.js";

/**
 * The adapter between docbatch and the index people query (a vector table, a search service, a
 * change log). A sink is told what changed, in order, and promises only this: when a call
 * resolves, its changes are durable in the sink. docbatch keeps the cursor of every sink in its own
 * store and advances it only after that promise, so a crash at any moment redelivers from the
 * cursor; since upserts and deletes are by `key`, a change delivered twice leaves the sink as if it
 * were delivered once.
 *
 * The runner never knows which sink it feeds: the conformance suite (`test/sinks/conformance.ts`)
 * runs the same checks against every sink, and an in-memory sink (`src/sinks/memory`) is the
 * smallest example to copy for a store of one's own.
 */

/** A chunk as a sink receives it. */
export type SinkChunk = DeliveredChunk<number[]>;

/** A chunk that must leave the sink. */
export type SinkKey = KeyedChunk;

/** What a sink holds for a key, for `docbatch verify`; text and embedding when the sink keeps them. */
export interface SinkRecord {
  key: string;
  text?: string;
  embedding?: number[] | null;
  /** Where the chunk came from, when the sink keeps it (used to remove an extra key). */
  doc_id?: string;
  source?: string;
  chunk_index?: number;
}

export interface Sink {
  /** Where the changes go, without any password (e.g. `jsonl:/data/log.jsonl`). */
  readonly uri: string;
  /**
   * When true, `upsert` receives each embedding as the store's Float32Array (typed as `number[]`
   * but without array methods such as `map` returning numbers, and JSON.stringify prints it as an
   * object): a sink that copies or formats the numbers itself saves a conversion per chunk.
   */
  readonly takesFloat32?: boolean;
  /** Inserts or replaces every chunk by its key. Resolves once the chunks are durable. */
  upsert(chunks: SinkChunk[]): Promise<void>;
  /** Removes the keys; a key the sink does not hold is ignored. Resolves once durable. */
  delete(keys: SinkKey[]): Promise<void>;
  /** Everything the sink holds for the batch it was opened for. */
  keys(): AsyncIterable<SinkRecord>;
  close?(): Promise<void>;
}

/**
 * A digest of a chunk's text and vector, to tell a key whose content drifted from the store's.
 * Vectors are compared as float32, the precision the store keeps.
 */
export function chunkFingerprint(
  text: string | undefined,
  embedding: ArrayLike<number> | null | undefined,
): string {
  const hash = createHash("sha256");
  hash.update(text ?? "\u0000no-text");
  hash.update("\u0000");
  if (embedding) {
    const vector = Float32Array.from(embedding as ArrayLike<number>);
    hash.update(new Uint8Array(vector.buffer));
  } else hash.update("\u0000no-vector");
  return hash.digest("hex");
}
