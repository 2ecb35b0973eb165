/**
 * The degraded path, taken after the last failed attempt of parse/clean/chunk. It must complete any
 * document, so it trades quality for having no way to fail: a linear tag stripper instead of the
 * HTML parser, and fixed-size slices instead of structure-aware chunks.
 */

import { type DocumentFormat, isBinaryFormat } from "../core/types.js";
import { type ChunkOptions, isWhitespaceCode, type Span, validateChunkOptions } from "./chunk.js";
import { CHARS, type Measure } from "./chunk-measure.js";
import { cleanText } from "./clean.js";

/**
 * Plain-text cleaning that cannot fail: for html, tags, comments and the content of script/style
 * elements are removed and common entities decoded; every format then goes through `cleanText`.
 */
export function fallbackClean(content: string, format: DocumentFormat): string {
  // The bytes of a PDF or DOCX hold no text a tag stripper could find: nothing to chunk.
  if (isBinaryFormat(format)) return "";
  return cleanText(format === "html" ? stripTags(content) : content);
}

/**
 * Fixed-size chunks: consecutive slices of at most `size` units that never split a surrogate
 * pair, trimmed, empty ones dropped; together they hold every non-whitespace character in order.
 * `overlap` is ignored: this path favours simplicity over retrieval quality.
 *
 * @throws RangeError when the options are invalid (see `validateChunkOptions`).
 */
export function fixedChunks(text: string, options: ChunkOptions, measure: Measure = CHARS): string[] {
  return fixedSpans(text, options, measure).map((s) => text.slice(s.start, s.end));
}

export function fixedSpans(text: string, options: ChunkOptions, measure: Measure = CHARS): Span[] {
  validateChunkOptions(options);
  const { size } = options;
  const spans: Span[] = [];
  let pos = 0;
  while (pos < text.length) {
    // Starting each slice at its first non-whitespace character keeps the slices full.
    while (pos < text.length && isWhitespaceCode(text.charCodeAt(pos))) pos++;
    if (pos >= text.length) break;
    let end = measure.reach(text, pos, text.length, size);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) {
      const next = text.charCodeAt(end);
      if (next >= 0xdc00 && next <= 0xdfff && end - 1 > pos) end--;
    }
    let e = end;
    while (e > pos && isWhitespaceCode(text.charCodeAt(e - 1))) e--;
    if (e > pos) spans.push({ start: pos, end: e });
    pos = end;
  }
  return spans;
}

// Elements whose content is never page text; everything up to their end tag goes.
const RAW_TEXT = /^<(script|style|noscript|template)\b/i;
// Tags after which a line break keeps words of neighbouring blocks apart.
const BREAKING_TAG =
  /^<\/?(p|div|br|li|tr|td|th|h[1-6]|section|article|header|footer|ul|ol|table|pre|blockquote)\b/i;
const ENTITY = /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(amp|lt|gt|quot|apos|nbsp));/g;
const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

/**
 * A linear scan with `indexOf` rather than one regex over the document: a lazy regex such as
 * `<script>[\s\S]*?</script>` rescans to the end for every unclosed tag, which is quadratic.
 */
function stripTags(html: string): string {
  const out: string[] = [];
  const lastGt = html.lastIndexOf(">");
  let pos = 0;
  while (pos < html.length) {
    const lt = html.indexOf("<", pos);
    if (lt < 0) break;
    out.push(html.slice(pos, lt));
    const next = html[lt + 1] ?? "";
    if (html.startsWith("<!--", lt)) {
      const close = html.indexOf("-->", lt + 4);
      pos = close < 0 ? html.length : close + 3;
      continue;
    }
    // "a < b" is text, not a tag; once no ">" is left, no later "<" can open a tag either, and
    // searching again for each one would be quadratic.
    const gt = lastGt > lt && /[A-Za-z/!?]/.test(next) ? html.indexOf(">", lt + 1) : -1;
    if (gt < 0) {
      out.push("<");
      pos = lt + 1;
      continue;
    }
    const tag = html.slice(lt, Math.min(gt + 1, lt + 32));
    pos = gt + 1;
    const raw = RAW_TEXT.exec(tag);
    if (raw) {
      const end = new RegExp(`</${raw[1]}\\s*>`, "gi");
      end.lastIndex = pos;
      pos = end.exec(html) ? end.lastIndex : html.length;
    }
    out.push(BREAKING_TAG.test(tag) ? "\n\n" : raw ? " " : "");
  }
  out.push(html.slice(pos));
  return out.join("").replace(ENTITY, decodeEntity);
}

function decodeEntity(match: string, dec?: string, hex?: string, name?: string): string {
  if (name !== undefined) return NAMED[name] ?? match;
  const code = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex ?? "", 16);
  if (!Number.isFinite(code) || code <= 0 || code > 0x10ffff) return match;
  return String.fromCodePoint(code);
}
