import type { ChunkMetadata, DocumentFormat, StageTimings } from "../core/types.js";
import { type ChunkOptions, chunkSpans, type Span } from "./chunk.js";
import { CHARS, loadTokenizer, type Measure, tokenMeasure } from "./chunk-measure.js";
import { describeChunks } from "./chunk-metadata.js";
import { cleanText } from "./clean.js";
import { fallbackClean, fixedSpans } from "./fallback.js";
import { parseDocument } from "./parse.js";

/** Chunk texts and, beside each, what the pipeline knows of it. */
export interface PreparedChunks {
  texts: string[];
  metadata: ChunkMetadata[];
}

/** The measure of the chunk options' unit (a tokenizer is loaded once per thread). */
export async function measureOf(options: ChunkOptions): Promise<Measure> {
  if (options.unit !== "tokens") return CHARS;
  return tokenMeasure(await loadTokenizer(options.tokenizer ?? "o200k_base"));
}

/**
 * A way from a document's content to its chunks, timing its stages into `timings`: the pipeline
 * (`prepareChunks`) or the fallback path (`prepareFallback`), on any thread.
 */
export type Preparation = (
  content: string,
  format: DocumentFormat,
  options: ChunkOptions,
  name: string,
  timings: StageTimings,
) => Promise<PreparedChunks>;

/**
 * The CPU stages of the pipeline, parse → clean → chunk, as one function of the content: it
 * touches no store and no network, so it can run on the main thread or on a worker thread.
 * `name` is the title of last resort (a file name, a document id).
 */
export const prepareChunks: Preparation = async (content, format, options, name, timings) => {
  let t = performance.now();
  const parsed = await parseDocument(content, format);
  timings.parse = performance.now() - t;
  t = performance.now();
  let cleaned: string;
  let pageStarts: number[] | undefined;
  if (parsed.pages) {
    // Pages are cleaned one by one, so each page's start in the cleaned text is known exactly.
    const parts: string[] = [];
    let length = 0;
    pageStarts = [];
    for (const page of parsed.pages) {
      const text = cleanText(page);
      if (text !== "" && parts.length > 0) length += 2;
      pageStarts.push(length);
      if (text === "") continue;
      parts.push(text);
      length += text.length;
    }
    cleaned = parts.join("\n\n");
  } else {
    cleaned = cleanText(parsed.text);
  }
  timings.clean = performance.now() - t;
  t = performance.now();
  const spans = await withinTokenLimit(
    cleaned,
    chunkSpans(cleaned, options, await measureOf(options)),
    options,
  );
  const chunks = toChunks(cleaned, spans, { title: parsed.title, name, pageStarts });
  timings.chunk = performance.now() - t;
  return chunks;
};

/** The fallback path: plain-text cleaning and fixed-size chunks; it has no way to fail. */
export const prepareFallback: Preparation = async (content, format, options, name, timings) => {
  const measure = await measureOf(options);
  const t = performance.now();
  const text = fallbackClean(content, format);
  const spans = await withinTokenLimit(text, fixedSpans(text, options, measure), options);
  const chunks = toChunks(text, spans, { title: null, name });
  timings.chunk = (timings.chunk ?? 0) + (performance.now() - t);
  return chunks;
};

/**
 * Splits the spans longer than the embedding model's limit (`maxTokens`) into spans that fit, at
 * paragraph, sentence or word boundaries: a model never sees a truncated chunk.
 */
async function withinTokenLimit(text: string, spans: Span[], options: ChunkOptions): Promise<Span[]> {
  const limit = options.maxTokens;
  if (limit === undefined || (options.unit === "tokens" && options.size <= limit)) return spans;
  const tokens = tokenMeasure(await loadTokenizer(options.tokenizer ?? "o200k_base"));
  const out: Span[] = [];
  for (const span of spans) {
    if (tokens.length(text, span.start, span.end) <= limit) {
      out.push(span);
      continue;
    }
    const slice = text.slice(span.start, span.end);
    for (const part of chunkSpans(slice, { size: limit, overlap: 0, unit: "tokens" }, tokens)) {
      out.push({ start: span.start + part.start, end: span.start + part.end });
    }
  }
  return out;
}

function toChunks(
  text: string,
  spans: Span[],
  describe: Parameters<typeof describeChunks>[2],
): PreparedChunks {
  return {
    texts: spans.map((s) => text.slice(s.start, s.end)),
    metadata: describeChunks(text, spans, describe),
  };
}

/** The title of last resort: a path's file name without its extension, else the id itself. */
export function nameOf(docId: string): string {
  const base = docId.split("/").pop() ?? docId;
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(0, dot) : base;
}
