/** Turns chunk texts into vectors. One instance is shared by every document of a run. */
export interface Embedder {
  /** Names the model and its version; part of the layer, so changing it reprocesses documents. */
  readonly id: string;
  /** Vectors in the order of `texts`. Throws a DocbatchError with an EMBED_* code on failure. */
  embed(texts: string[], signal: AbortSignal): Promise<Float32Array[]>;
  close(): Promise<void>;
}
