import {
  CHARS,
  CHUNK_UNITS,
  type ChunkUnit,
  type Measure,
  TOKENIZERS,
  type TokenizerName,
} from "./chunk-measure.js";
import {
  collectPieces,
  cutAt,
  isCjkTerminator,
  isHighSurrogate,
  isLowSurrogate,
  isWhitespaceCode,
  type Pieces,
} from "./chunk-pieces.js";

/**
 * Structure-aware chunking. The text is cut into atomic pieces no longer than `size` (see
 * `chunk-pieces.ts`), and consecutive pieces of one section are packed greedily into chunks. A
 * heading starts a chunk and is never a chunk on its own: it goes with the content under it.
 */

export { isWhitespaceCode } from "./chunk-pieces.js";

export interface ChunkOptions {
  /** Largest chunk, in `unit`s. Must be an integer >= 16. @default 1000 */
  size: number;
  /**
   * Units repeated from the end of one chunk at the start of the next, so a sentence cut at a
   * chunk boundary keeps some context. An integer with `0 <= overlap < size / 2`. @default 0
   */
  overlap: number;
  /**
   * What `size` and `overlap` count: UTF-16 code units, or tokens of `tokenizer` (what embedding
   * models limit). @default "chars"
   */
  unit?: ChunkUnit;
  /** The tokenizer of the `tokens` unit, and of `maxTokens`. @default "o200k_base" */
  tokenizer?: TokenizerName;
  /**
   * The embedding model's input limit in tokens of `tokenizer`: a chunk longer than this is split
   * (never truncated) before it is embedded. An integer from 16 and up. @default none
   */
  maxTokens?: number;
}

export const DEFAULT_CHUNK_OPTIONS: ChunkOptions = Object.freeze({ size: 1000, overlap: 0 });

/** `[start, end)` offsets into the chunked text. */
export interface Span {
  start: number;
  end: number;
}

const MIN_SIZE = 16;

function describe(value: unknown): string {
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  return `\`${shown}\` (${value === null ? "null" : typeof value})`;
}

/** Throws a RangeError naming the first bad option and its value. */
export function validateChunkOptions(options: ChunkOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new RangeError(`Expected chunk options to be an object, got ${describe(options)}`);
  }
  const { size, overlap, unit, tokenizer } = options;
  if (typeof size !== "number" || !Number.isInteger(size) || size < MIN_SIZE) {
    throw new RangeError(`Expected \`size\` to be an integer from ${MIN_SIZE} and up, got ${describe(size)}`);
  }
  const maxOverlap = Math.ceil(size / 2) - 1;
  if (typeof overlap !== "number" || !Number.isInteger(overlap) || overlap < 0 || overlap > maxOverlap) {
    throw new RangeError(
      `Expected \`overlap\` to be an integer from 0 to ${maxOverlap} (less than half of \`size\` ${size}), got ${describe(overlap)}`,
    );
  }
  if (unit !== undefined && !CHUNK_UNITS.includes(unit)) {
    throw new RangeError(`Expected \`unit\` to be one of ${CHUNK_UNITS.join(", ")}, got ${describe(unit)}`);
  }
  const { maxTokens } = options;
  if (
    maxTokens !== undefined &&
    (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < MIN_SIZE)
  ) {
    throw new RangeError(
      `Expected \`maxTokens\` to be an integer from ${MIN_SIZE} and up, got ${describe(maxTokens)}`,
    );
  }
  if (tokenizer !== undefined && !TOKENIZERS.includes(tokenizer)) {
    throw new RangeError(
      `Expected \`tokenizer\` to be one of ${TOKENIZERS.join(", ")}, got ${describe(tokenizer)}`,
    );
  }
}

/**
 * Where a chunk that continues the previous one starts: up to `overlap` units back, at the
 * earliest word start in that window, so the repeated context is as long as allowed without cutting
 * a word; mid-word only when the window holds no boundary (CJK, long tokens).
 */
function overlapStart(text: string, prev: Span, overlap: number, pieceStart: number, m: Measure): number {
  const lo = m.back(text, prev.start + 1, prev.end, overlap);
  const hi = prev.end;
  for (let p = lo; p < hi; p++) {
    if (isWhitespaceCode(text.charCodeAt(p))) continue;
    const before = text.charCodeAt(p - 1);
    if (isWhitespaceCode(before) || isCjkTerminator(before)) return p;
  }
  let p = lo;
  if (p < hi && isLowSurrogate(text.charCodeAt(p)) && isHighSurrogate(text.charCodeAt(p - 1))) p++;
  while (p < hi && isWhitespaceCode(text.charCodeAt(p))) p++;
  return p < hi ? p : pieceStart;
}

/** The next word start after `p` (or `limit`), to shorten an overlap that made a chunk too long. */
function nextWordStart(text: string, p: number, limit: number): number {
  let q = p + 1;
  while (q < limit && !isWhitespaceCode(text.charCodeAt(q - 1))) q++;
  while (q < limit && isWhitespaceCode(text.charCodeAt(q))) q++;
  return Math.min(q, limit);
}

/**
 * Splits piece `i` so that its first part fits in `room` units after the chunk's start: a
 * heading must not be left alone because the paragraph after it is long. False when nothing fits.
 */
function splitPiece(
  text: string,
  pieces: Pieces,
  i: number,
  from: number,
  size: number,
  m: Measure,
): boolean {
  const start = pieces.starts[i]!;
  const end = pieces.ends[i]!;
  const limit = m.reach(text, from, end, size);
  if (limit <= start) return false;
  const [pieceEnd, next] = cutAt(text, start, limit);
  if (pieceEnd <= start || next >= end || m.length(text, from, pieceEnd) > size) return false;
  pieces.starts.splice(i + 1, 0, next);
  pieces.ends.splice(i, 0, pieceEnd);
  pieces.opens.splice(i + 1, 0, false);
  pieces.headings.splice(i + 1, 0, false);
  return true;
}

/**
 * Chunk spans of cleaned text: each non-empty, at most `size` units long, starting and ending at
 * non-whitespace, in text order, covering every non-whitespace character. A markdown heading
 * starts a chunk (unless only headings precede it in the chunk), and overlap is not carried
 * across it (the heading is the context). A heading is never a chunk alone while content follows
 * it; a heading at the very end joins the chunk before it when it fits.
 */
export function chunkSpans(text: string, options: ChunkOptions, measure: Measure = CHARS): Span[] {
  validateChunkOptions(options);
  const { size, overlap } = options;
  const m = measure;
  const pieces = collectPieces(text, size, overlap, m);
  const { starts, ends, opens, headings } = pieces;
  const spans: Span[] = [];
  let i = 0;
  while (i < starts.length) {
    const first = i;
    let start = starts[i]!;
    let end = ends[i]!;
    const prev = spans[spans.length - 1];
    if (overlap > 0 && prev && !opens[i]) start = overlapStart(text, prev, overlap, start, m);
    let onlyHeadings = headings[i]!;
    i++;
    while (i < starts.length) {
      const joinsSection = !opens[i] || onlyHeadings;
      if (!joinsSection) break;
      if (m.length(text, start, ends[i]!) > size) {
        // A heading is not left alone: the content under it is cut to fit beside it. So is a
        // heading too long to keep content beside it in any chunk (less than 3 units to spare):
        // it is cut like content rather than leave the headings before it alone.
        const cuttable = !headings[i] || m.length(text, starts[i]!, ends[i]!) > size - 3;
        if (onlyHeadings && cuttable && splitPiece(text, pieces, i, start, size, m)) {
          headings[i] = false;
          continue;
        }
        break;
      }
      end = ends[i]!;
      onlyHeadings &&= headings[i]!;
      i++;
    }
    // Overlap is only context: give it up rather than exceed the size.
    while (m.length(text, start, end) > size && start < starts[first]!) {
      start = nextWordStart(text, start, starts[first]!);
    }
    const last = spans[spans.length - 1];
    if (onlyHeadings && i >= starts.length && last && m.length(text, last.start, end) <= size) {
      last.end = end;
    } else {
      spans.push({ start, end });
    }
  }
  return spans;
}

/** The text of each chunk span. */
export function chunkText(text: string, options: ChunkOptions, measure: Measure = CHARS): string[] {
  return chunkSpans(text, options, measure).map((span) => text.slice(span.start, span.end).trim());
}
