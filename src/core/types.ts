/**
 * The domain words of docbatch, used with one meaning everywhere:
 *
 * - **document**: one unit of input (a record of a JSON/JSONL file, or a file of a directory). Its
 *   *identity* is `(source, normalized id)`; its *content* may change between runs.
 * - **batch**: a named set of documents processed together; the unit a user runs, resumes, reports
 *   and exports. A batch accumulates documents: one absent from a later input stays as it was.
 * - **plan**: the documents of a batch as written to the store, with the input offset planned so far
 *   (the first checkpoint level). A plan *generation* grows each time the input changes.
 * - **run**: one invocation of `docbatch run` (or one worker process) on a batch.
 * - **claim / lease**: a worker takes a pending document for a bounded time (the lease); the lease
 *   carries a *fence* token that grows on every claim, so a worker whose lease lapsed cannot commit.
 * - **execution**: one start of processing of a document (a claim that reached the pipeline).
 * - **attempt**: an execution that ended, in success or in a failure counted against the document.
 * - **checkpoint**: durable progress. Three levels: plan offset (per batch), state (per document:
 *   `pending → processing → done | degraded | failed`) and staged chunks with vectors (inside a
 *   large document).
 * - **idempotency key**: `sha256(source, normalized id, content hash, layer)`. Equal keys mean equal
 *   output, so a document done with the same key is never processed again.
 * - **layer**: the processing stage that produced the output and its version, including every
 *   option that shapes the output (chunk size, overlap, embedding model); changing it reprocesses.
 * - **degraded**: completed by the fallback path (plain cleaning and fixed-size chunks, or chunks
 *   without vectors); counts as completed and is kept for backfill.
 */

export type DocumentFormat = "text" | "markdown" | "html" | "json" | "pdf" | "docx";

export const DOCUMENT_FORMATS: readonly DocumentFormat[] = [
  "text",
  "markdown",
  "html",
  "json",
  "pdf",
  "docx",
];

/**
 * Formats whose documents are bytes, not text. Their content travels and is stored as base64 (the
 * store keeps strings, and a hash of the base64 is a hash of the bytes); only their parser decodes it.
 */
export const BINARY_FORMATS: ReadonlySet<DocumentFormat> = new Set(["pdf", "docx"]);

export function isBinaryFormat(format: DocumentFormat): boolean {
  return BINARY_FORMATS.has(format);
}

/**
 * `deleted`: the document left the input of a `--sync full` run; its output is gone, and it is
 * planned again like a new document if it comes back.
 */
export type DocumentState = "pending" | "processing" | "done" | "degraded" | "failed" | "deleted";

export const DOCUMENT_STATES: readonly DocumentState[] = [
  "pending",
  "processing",
  "done",
  "degraded",
  "failed",
  "deleted",
];

/** What `run --sync` does with documents of the batch that its input no longer holds. */
export type SyncMode = "accumulate" | "full";

/** A stage of the pipeline, in order. Failures and timings are recorded per stage. */
export type StageName = "load" | "parse" | "clean" | "chunk" | "embed" | "write";

export const STAGES: readonly StageName[] = ["load", "parse", "clean", "chunk", "embed", "write"];

export type JsonObject = { [key: string]: unknown };

/** A document as planned: validated, normalized and keyed. */
export interface PlannedDocument {
  /** Position in the input (0-based), used for ordering and the plan checkpoint. */
  seq: number;
  source: string;
  /** The id after normalization (NFC, surrounding whitespace removed). */
  docId: string;
  format: DocumentFormat;
  metadata: JsonObject;
  /** Normalized content, or null when it could not be loaded (see `loadError`). */
  content: string | null;
  /** Why the content could not be loaded; the document fails when processed. */
  loadError: ErrorInfo | null;
  /** The `path` the content was read from (relative to the batch's root), if any. */
  path?: string | null;
  /** The file's modification time (ms since the epoch) when it was read, for `path` documents. */
  fileMtime?: number | null;
  /**
   * The file's stat and the record it was read for (see `fileSignature`): a later plan that finds
   * the same signature does not read the file again.
   */
  fileSig?: string | null;
  /**
   * True when the file was not read because its signature is unchanged: `content` is null and the
   * stored content (and its hash) stand.
   */
  contentKept?: boolean;
  contentHash: string;
  idempotencyKey: string;
}

/** A file of a folder that is not a document (an image, an archive, ...): skipped and counted. */
export interface SkippedFile {
  /** The path relative to the folder (for a `path` document: its path). */
  path: string;
  /** image, archive, executable, font, media or binary. */
  kind: string;
}

/** Where a committed chunk stands: `key` is its idempotency key, unique in its batch. */
export interface KeyedChunk {
  key: string;
  doc_id: string;
  source: string;
  chunk_index: number;
}

/**
 * A committed chunk as it leaves the store for a sink (a change of the outbox, a sink's upsert);
 * `V` is how its vector travels.
 */
export interface DeliveredChunk<V> extends KeyedChunk {
  text: string;
  metadata: JsonObject;
  /** Null for a chunk of a document completed without vectors. */
  embedding: V | null;
}

export interface ErrorInfo {
  code: string;
  message: string;
}

/** Counts by state (`total` leaves out `deleted`) plus the skip counters of the contract. */
export interface StateCounts {
  total: number;
  done: number;
  degraded: number;
  failed: number;
  pending: number;
  processing: number;
  duplicates_skipped: number;
  unchanged_skipped: number;
  /** Documents of the current plan whose content changed since they were last planned. */
  changed: number;
  /** Documents a `--sync full` run found missing from its input (not counted in `total`). */
  deleted: number;
  /** Files of the input's folder that are not documents (images, archives, ...), skipped. */
  skipped_unsupported: number;
}

/** One output chunk of a document. */
export interface Chunk {
  index: number;
  text: string;
  /** Null when the document was completed without vectors (degraded). */
  embedding: Float32Array | null;
  /**
   * What the pipeline knows of this chunk (see ChunkMetadata); exported beside the document's own
   * metadata, which wins on a clash.
   */
  metadata?: JsonObject;
}

/**
 * The metadata the pipeline gives every chunk. Offsets are UTF-16 code units into the cleaned text
 * of the document: `cleaned.slice(char_start, char_end)` is the chunk's text.
 */
export interface ChunkMetadata {
  /** The document's title: its own (HTML `<title>`, PDF info, first level-1 heading), else its name. */
  title: string;
  /** The heading path of the chunk's content, outermost first (`["Install", "From source"]`). */
  headings: string[];
  char_start: number;
  char_end: number;
  /** 1-based pages of a paged format (PDF) the chunk's text comes from. */
  page_start?: number;
  page_end?: number;
  /** For files: their modification time when read (ISO 8601). */
  modified_at?: string;
}

/** Milliseconds a document spent in each stage of its processing. */
export interface StageTimings {
  parse?: number;
  clean?: number;
  chunk?: number;
  embed?: number;
  write?: number;
}
