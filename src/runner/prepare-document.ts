import type { Interruptible } from "../core/interrupt.js";
import { preparedTextKey } from "../core/keys.js";
import { isBinaryFormat, type JsonObject } from "../core/types.js";
import { nameOf, type PreparedChunks, prepareChunks, prepareFallback } from "../pipeline/prepare.js";
import type { ClaimedDocument, StageTimings } from "../store/store.js";
import type { DocumentContext } from "./process-document.js";

/**
 * Documents from this size on run their CPU stages on the main thread: a worker thread would hold
 * the content, its cleaned text and its chunks, and then the main thread a copy of the chunks,
 * which for one 20 MB document costs more memory than every thread's start-up together. PDF and
 * DOCX files stay on the threads whatever their size: their parsers must be stoppable, and the text
 * they extract is a fraction of the file. Their
 * texts are embedded in requests like any other (the local embedder keeps up), and the main thread
 * stays responsive between the stages.
 */
export const MAIN_THREAD_FROM_BYTES = 4 * 1024 * 1024;

/**
 * Text documents below this size run their CPU stages on the main thread: parsing and chunking a
 * few KB costs less than handing them to a thread and reading its answer back, and a batch of
 * such documents never pays the threads' start-up. Measured on two cores, 2,000 mixed documents
 * (median 2.7 KB, 1% of 50–200 KB): 2.0 s at 16 KB against 2.16 s at 1 KB, 0.4 s less CPU. With
 * the built-in embedder too (their texts are then embedded here, through the embedding queue):
 * 2.38 s with every document in the threads against 1.98 s with none (median of 5).
 */
export const THREAD_FROM_BYTES = 16 * 1024;

/**
 * Text documents of THREAD_FROM_BYTES and more run on this thread too until they add up to this
 * much in a run; then the threads start (see `CpuPool.warmFor`). Starting one costs about 0.3 s
 * of CPU, which on two cores is taken from the main thread, the planner and the endpoint: with an
 * embedding endpoint, 2,000 mixed documents (12 of them 16–170 KB) took 2.72 s with no threads
 * against 3.06 s with two started for those 12. With a document time limit the threads start with
 * the first such document: only they can stop a parser stuck on a hostile file.
 */
export const THREADS_START_AFTER_BYTES = 4 * 1024 * 1024;

/**
 * The CPU stages of one document (parse, clean, chunk, and the built-in embedder when it runs in
 * the threads), where they run: on the CPU threads, which can stop a parser stuck on a hostile
 * file when the document's time runs out, or on this thread.
 */
export async function prepareDocument(
  doc: ClaimedDocument,
  ctx: DocumentContext,
  signal: Interruptible,
  timings: StageTimings,
): Promise<{ texts: string[]; metadata: JsonObject[]; vectors: Float32Array[] | null }> {
  const name = nameOf(doc.docId);
  const size = doc.size ?? 0;
  const large = size >= MAIN_THREAD_FROM_BYTES;
  const binary = isBinaryFormat(doc.format);
  const tiny = size < THREAD_FROM_BYTES && !binary && doc.size != null;
  // While the threads load their modules (the first documents of a run), text documents run
  // here: a document's time limit never includes a thread's start-up.
  if (ctx.cpu && !tiny && (!large || binary) && (binary || ctx.embedInPool || ctx.cpu.warmFor(size))) {
    const content =
      doc.contentDeferred && ctx.contentFile
        ? { file: ctx.contentFile, row: doc.row }
        : await contentOf(doc, ctx);
    const result = await ctx.cpu.run(
      {
        content,
        format: doc.format,
        chunk: ctx.settings.chunk,
        mode: "normal",
        name,
        size: doc.size ?? undefined,
        embedDimensions: ctx.embedInPool ?? null,
      },
      signal,
    );
    Object.assign(timings, result.timings);
    return { texts: result.texts, metadata: withFileTime(result.metadata, doc), vectors: result.vectors };
  }
  const content = await contentOf(doc, ctx);
  const work = prepareChunks(content, doc.format, ctx.settings.chunk, name, timings);
  // A tiny text is prepared in less time than a listener on its signal costs; an abort meanwhile
  // takes effect right after (`execute` checks the signal between the stages).
  const prepared = tiny ? await work : await untilAborted(work, signal);
  // A large content is not held while its chunks are embedded; the fallback reads it again.
  if (large) {
    doc.content = null;
    doc.contentDeferred = true;
  }
  return { texts: prepared.texts, metadata: withFileTime(prepared.metadata, doc), vectors: null };
}

/**
 * The committed chunk texts of a document whose content, parse layer and chunk layer are those of
 * its output (only the embedding layer changed): it is embedded again without being parsed. Null
 * when they differ, or when the output is the fallback path's.
 */
export async function reusedOutput(
  doc: ClaimedDocument,
  ctx: DocumentContext,
): Promise<{ texts: string[]; metadata: JsonObject[] } | null> {
  // A document without output (most of a first run) costs no hash.
  if (!doc.hadOutput || !ctx.loadOutputChunks) return null;
  const key = preparedKeyOf(doc, ctx);
  if (key === null || doc.outputPrep !== key) return null;
  const output = await ctx.loadOutputChunks(doc.row);
  return output && { texts: output.texts, metadata: withFileTime(output.metadata, doc) };
}

/** The document's prepared-text key under the batch's layers (null when unknown). */
export function preparedKeyOf(doc: ClaimedDocument, ctx: DocumentContext): string | null {
  if (!doc.contentHash || !ctx.layers) return null;
  return preparedTextKey(doc.contentHash, ctx.layers.parse, ctx.layers.chunk);
}

/** The fallback path's chunks (plain text, fixed size), with what the pipeline knows of each. */
export async function fallbackChunks(
  doc: ClaimedDocument,
  ctx: DocumentContext,
  timings: StageTimings,
): Promise<{ texts: string[]; metadata: JsonObject[] }> {
  const content = await contentOf(doc, ctx);
  const prepared: PreparedChunks = await prepareFallback(
    content,
    doc.format,
    ctx.settings.chunk,
    nameOf(doc.docId),
    timings,
  );
  return { texts: prepared.texts, metadata: withFileTime(prepared.metadata, doc) };
}

/** The document's content, read from the store when the claim left it there. */
export async function contentOf(doc: ClaimedDocument, ctx: DocumentContext): Promise<string> {
  if (doc.contentDeferred) {
    doc.content = await ctx.loadContent(doc.row);
    doc.contentDeferred = false;
  }
  return doc.content ?? "";
}

/** A file's modification time joins what the pipeline knows of each chunk. */
function withFileTime(metadata: readonly object[], doc: ClaimedDocument): JsonObject[] {
  if (doc.fileMtime === null || doc.fileMtime === undefined) return metadata as JsonObject[];
  const modified_at = new Date(doc.fileMtime).toISOString();
  return metadata.map((m) => ({ ...m, modified_at }));
}

/**
 * Settles with the work, or with the signal's reason as soon as it aborts: on the main thread a
 * parser cannot be stopped, but the document is not held up by it.
 */
function untilAborted<T>(work: Promise<T>, signal: Interruptible): Promise<T> {
  const reason = (): unknown => signal.reason ?? new Error("aborted");
  if (signal.aborted) return Promise.reject(reason());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reason());
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
