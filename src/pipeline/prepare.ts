import type { DocumentFormat } from "../core/types.js";
import type { StageTimings } from "../store/store.js";
import { type ChunkOptions, chunkText } from "./chunk.js";
import { cleanText } from "./clean.js";
import { fallbackClean, fixedChunks } from "./fallback.js";
import { parseDocument } from "./parse.js";

/**
 * The CPU stages of the pipeline, parse → clean → chunk, as one pure function of the content: it
 * touches no store and no network, so it can run on the main thread or on a worker thread.
 */
export function prepareChunks(
  content: string,
  format: DocumentFormat,
  options: ChunkOptions,
  timings: StageTimings,
): string[] {
  let t = performance.now();
  const parsed = parseDocument(content, format);
  timings.parse = performance.now() - t;
  t = performance.now();
  const cleaned = cleanText(parsed);
  timings.clean = performance.now() - t;
  t = performance.now();
  const chunks = chunkText(cleaned, options);
  timings.chunk = performance.now() - t;
  return chunks;
}

/** The fallback path: plain-text cleaning and fixed-size chunks; it has no way to fail. */
export function prepareFallback(
  content: string,
  format: DocumentFormat,
  options: ChunkOptions,
  timings: StageTimings,
): string[] {
  const t = performance.now();
  const chunks = fixedChunks(fallbackClean(content, format), options);
  timings.chunk = (timings.chunk ?? 0) + (performance.now() - t);
  return chunks;
}
