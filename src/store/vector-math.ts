import { chunkKey } from "../core/keys.js";
import type { SearchHit } from "./index-store.js";
import { exportMetadata } from "./rows.js";

/** A chunk row as both stores read it for a search result. */
export interface HitRow {
  doc_id: string;
  source: string;
  chunk_index: number;
  text: string;
  out_metadata: string | null;
  /** What the pipeline knows of the chunk (title, headings, pages), under the document's own. */
  chunk_metadata: string | null;
  out_key: string;
}

/** Search hits in rank order, from the ranked ids and the rows read for them (by id). */
export function toHits<Id>(ranked: { id: Id; score: number }[], rows: Map<Id, HitRow>): SearchHit[] {
  return ranked.flatMap(({ id, score }) => {
    const r = rows.get(id);
    if (!r) return [];
    return [
      {
        doc_id: r.doc_id,
        source: r.source,
        chunk_index: r.chunk_index,
        score: Math.round(score * 1e6) / 1e6,
        text: r.text,
        metadata: exportMetadata(r.out_metadata, r.chunk_metadata),
        idempotency_key: chunkKey(r.out_key, r.chunk_index),
      },
    ];
  });
}

/**
 * Exact nearest neighbours by cosine similarity, for stores without a vector index. A bounded
 * min-heap keeps the k best, so memory stays at k entries whatever the batch's size, and vectors
 * can be offered page by page as they are read.
 */
export class CosineTopK<Id> {
  private readonly heap: { id: Id; score: number }[] = [];
  private readonly norm: number;

  constructor(
    private readonly query: Float32Array,
    private readonly k: number,
  ) {
    this.norm = Math.sqrt(dot(query, query)) || 1;
  }

  /** A stored vector (float32 bytes); vectors of another dimension are not comparable and skipped. */
  offer(id: Id, bytes: Uint8Array): void {
    if (bytes.byteLength !== this.query.length * 4 || this.k <= 0) return;
    // Aligned bytes are read in place; others (a driver's pooled buffer) are copied once.
    const v =
      bytes.byteOffset % 4 === 0
        ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
        : new Float32Array(Uint8Array.from(bytes).buffer);
    const score = dot(this.query, v) / (this.norm * (Math.sqrt(dot(v, v)) || 1));
    const heap = this.heap;
    if (heap.length < this.k) {
      heap.push({ id, score });
      siftUp(heap, heap.length - 1);
    } else if (score > heap[0]!.score) {
      heap[0] = { id, score };
      siftDown(heap, 0);
    }
  }

  /** The best k, best first. */
  result(): { id: Id; score: number }[] {
    return [...this.heap].sort((a, b) => b.score - a.score);
  }
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function siftUp(heap: { score: number }[], i: number): void {
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]!.score <= heap[i]!.score) return;
    [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
    i = parent;
  }
}

function siftDown(heap: { score: number }[], i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let min = i;
    if (l < heap.length && heap[l]!.score < heap[min]!.score) min = l;
    if (r < heap.length && heap[r]!.score < heap[min]!.score) min = r;
    if (min === i) return;
    [heap[min], heap[i]] = [heap[i]!, heap[min]!];
    i = min;
  }
}
