import type { ChunkMetadata } from "../core/types.js";
import type { Span } from "./chunk.js";
import { closesFence, fenceRun, firstMark } from "./clean.js";

/**
 * The metadata of each chunk, from the cleaned text it was cut from: the document's title, the
 * heading path of the chunk's content, its offsets, and its pages for a paged format.
 */

interface Heading {
  offset: number;
  /** End of the heading line. */
  end: number;
  /** The path down to and including this heading. */
  path: string[];
}

const HEADING_LINE = /^(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;

/** Heading lines outside code fences, each with its full path (a level closes deeper ones). */
export function headingsOf(text: string): Heading[] {
  const out: Heading[] = [];
  const stack: { level: number; title: string }[] = [];
  let fence: { char: number; length: number } | null = null;
  for (let lineStart = 0; lineStart < text.length; ) {
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    const char = firstMark(text, lineStart, lineEnd);
    const run = char > 0 ? fenceRun(text, lineStart, lineEnd, char) : 0;
    if (fence) {
      if (fence.char === char && run >= fence.length && closesFence(text, lineStart, lineEnd)) fence = null;
    } else if (run > 0) {
      fence = { char, length: run };
    } else if (text.charCodeAt(lineStart) === 0x23) {
      const match = HEADING_LINE.exec(text.slice(lineStart, lineEnd));
      if (match && match[2] !== "") {
        const level = match[1]!.length;
        while (stack.length > 0 && stack[stack.length - 1]!.level >= level) stack.pop();
        stack.push({ level, title: match[2]! });
        out.push({ offset: lineStart, end: lineEnd, path: stack.map((h) => h.title) });
      }
    }
    lineStart = lineEnd + 1;
  }
  return out;
}

export interface DescribeOptions {
  /** The title the format gave, if any. */
  title: string | null;
  /** The name to fall back on: the file name without extension, or the document id. */
  name: string;
  /** Offsets in the cleaned text where each page starts (paged formats). */
  pageStarts?: number[];
}

/**
 * Metadata of every span. The heading path is the one of the chunk's content: past the headings
 * the chunk opens with, so a chunk "# A / ## B / text" is under ["A", "B"].
 */
export function describeChunks(text: string, spans: Span[], options: DescribeOptions): ChunkMetadata[] {
  const headings = headingsOf(text);
  const title =
    options.title ??
    headings.find((h) => h.path.length === 1 && text.startsWith("# ", h.offset))?.path[0] ??
    headings[0]?.path.at(-1) ??
    options.name;
  return spans.map((span) => {
    let at = span.start;
    let k = lastAtOrBefore(headings, at);
    while (k >= 0 && headings[k]!.offset === at) {
      at = nextContent(text, headings[k]!.end, span.end);
      if (at >= span.end || headings[k + 1]?.offset !== at) break;
      k++;
    }
    const meta: ChunkMetadata = {
      title,
      headings: k >= 0 ? headings[k]!.path : [],
      char_start: span.start,
      char_end: span.end,
    };
    if (options.pageStarts && options.pageStarts.length > 0) {
      meta.page_start = pageOf(options.pageStarts, span.start);
      meta.page_end = pageOf(options.pageStarts, span.end - 1);
    }
    return meta;
  });
}

/** The first non-whitespace offset at or after `from`, bounded by `limit`. */
function nextContent(text: string, from: number, limit: number): number {
  let p = from;
  while (p < limit && /\s/.test(text[p]!)) p++;
  return p;
}

/** Index of the last heading whose line starts at or before `offset`, or -1. */
function lastAtOrBefore(headings: Heading[], offset: number): number {
  let lo = 0;
  let hi = headings.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (headings[mid]!.offset <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** 1-based page of an offset. */
function pageOf(pageStarts: number[], offset: number): number {
  let lo = 0;
  let hi = pageStarts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pageStarts[mid]! <= offset) lo = mid + 1;
    else hi = mid;
  }
  return Math.max(1, lo);
}
