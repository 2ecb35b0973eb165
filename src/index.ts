/**
 * docbatch: resumable, idempotent, observable batch processing of documents.
 * The library API; the CLI is a thin shell over it.
 *
 * Naming: what docbatch returns as data (reports, status, batch summaries, exported chunk rows) has
 * the contract's snake_case fields, exactly as `--json` prints them and the HTTP API serves them,
 * so one shape serves the wire, the files and the code. Options passed in are camelCase, as
 * JavaScript options are; so is the `Store` interface, the lower level a store implements.
 */

export { type BackoffOptions, backoffDelay, seededRandom } from "./core/backoff.js";
export { type BreakerOptions, type BreakerState, CircuitBreaker } from "./core/breaker.js";
export { DocbatchError, type ErrorBody, type ErrorDetail, errorBody } from "./core/errors.js";
export {
  chunkKey,
  chunkTextHash,
  contentHash,
  idempotencyKey,
  normalizeContent,
  normalizeId,
} from "./core/keys.js";
export type { Chunk, DocumentFormat, DocumentState, StateCounts } from "./core/types.js";
export { FileFilter, type FileFilterOptions, IGNORE_FILE } from "./input/file-filter.js";
export { DOCUMENT_EXTENSIONS } from "./input/file-types.js";
export { type ChunkOptions, chunkSpans, chunkText } from "./pipeline/chunk.js";
export { cleanText } from "./pipeline/clean.js";
export type { Embedder } from "./pipeline/embed/embedder.js";
export { HttpEmbedder, type HttpEmbedderOptions } from "./pipeline/embed/http.js";
export { LocalEmbedder } from "./pipeline/embed/local.js";
export { parseDocument } from "./pipeline/parse.js";
export { type BatchSummary, listBatches } from "./report/batches.js";
export { type BatchReport, buildReport, type RunReport } from "./report/report.js";
export { type BatchStatus, batchStatus } from "./report/status.js";
export { formatReport } from "./report/text.js";
export { collectGarbage, type GarbageOptions } from "./runner/collect-garbage.js";
export { type SyncBatchOptions, syncBatch } from "./runner/deliver-batch.js";
export { type ResumeBatchOptions, resumeBatch } from "./runner/resume-batch.js";
export { type Progress, type RunBatchOptions, type RunResult, runBatch } from "./runner/run-batch.js";
export { type SearchOptions, type SearchResponse, searchBatch } from "./runner/search-batch.js";
export type { SinkOptions } from "./runner/sink-options.js";
export { type VerifyOptions, type VerifyResult, verifySink } from "./runner/verify-sink.js";
export { JsonlSink } from "./sinks/jsonl/index.js";
export { MemorySink } from "./sinks/memory/index.js";
export { PgvectorSink, type PgvectorSinkOptions } from "./sinks/pgvector/index.js";
export { chunkFingerprint, type Sink, type SinkChunk, type SinkKey, type SinkRecord } from "./sinks/sink.js";
export type * from "./store/embed-cache.js";
export type * from "./store/index-store.js";
export { createStore, DEFAULT_DB, requireBatch, type StoreSpec } from "./store/open.js";
export { type PickedBatch, pickBatch } from "./store/pick-batch.js";
export { SqliteStore, type SqliteStoreOptions } from "./store/sqlite/index.js";
export type * from "./store/store.js";
