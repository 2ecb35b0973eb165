/**
 * docbatch: resumable, idempotent, observable batch processing of documents.
 * The library API; the CLI is a thin shell over it.
 */
export { runBatch, type RunBatchOptions, type RunResult, type Progress } from "./runner/run-batch.js";
export { buildReport, type BatchReport, type RunReport } from "./report/report.js";
export { formatReport } from "./report/text.js";
export { createStore, requireBatch, DEFAULT_DB, type StoreSpec } from "./store/open.js";
export { SqliteStore, type SqliteStoreOptions } from "./store/sqlite/index.js";
export type * from "./store/store.js";
export { DocbatchError, errorBody, type ErrorBody, type ErrorDetail } from "./core/errors.js";
export { normalizeId, normalizeContent, contentHash, idempotencyKey, chunkKey } from "./core/keys.js";
export { backoffDelay, seededRandom, type BackoffOptions } from "./core/backoff.js";
export { CircuitBreaker, type BreakerOptions, type BreakerState } from "./core/breaker.js";
export type { DocumentFormat, DocumentState, StateCounts, Chunk } from "./core/types.js";
export { chunkText, chunkSpans, type ChunkOptions } from "./pipeline/chunk.js";
export { parseDocument } from "./pipeline/parse.js";
export { cleanText } from "./pipeline/clean.js";
export { LocalEmbedder } from "./pipeline/embed/local.js";
export { HttpEmbedder, type HttpEmbedderOptions } from "./pipeline/embed/http.js";
export type { Embedder } from "./pipeline/embed/embedder.js";
