import type { Measure } from "./chunk-measure.js";
import { closesFence, fenceRun, firstMark } from "./clean.js";

/**
 * The atomic pieces the chunker packs: markdown sections, then paragraphs and fenced code blocks,
 * then sentences or lines, then hard splits, each no longer than the chunk size in the chunker's
 * unit. Everything works on offsets with `charCodeAt`, so the cost stays linear in the text.
 */

/** Exactly the characters of `\s` and `String.prototype.trim`, so spans and trimmed chunks agree. */
export function isWhitespaceCode(c: number): boolean {
  if (c < 0x80) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

export const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
export const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/** CJK sentence punctuation: a sentence ends after it even without a following space. */
export function isCjkTerminator(c: number): boolean {
  // 。 ！ ？ ； … ｡
  return c === 0x3002 || c === 0xff01 || c === 0xff1f || c === 0xff1b || c === 0x2026 || c === 0xff61;
}

/** Closing quotes and brackets that belong to the sentence they follow. */
function isCloser(c: number): boolean {
  switch (c) {
    case 0x22: // "
    case 0x27: // '
    case 0x29: // )
    case 0x5d: // ]
    case 0x7d: // }
    case 0xbb: // »
    case 0x2019: // ’
    case 0x201d: // ”
    case 0x3009: // 〉
    case 0x300b: // 》
    case 0x300d: // 」
    case 0x300f: // 』
    case 0x3011: // 】
    case 0x3015: // 〕
    case 0xff09: // ）
      return true;
    default:
      return false;
  }
}

/** Atomic pieces in text order, as parallel arrays to keep millions of small documents cheap. */
export class Pieces {
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  /** True when the piece opens a markdown section: it must start a chunk. */
  readonly opens: boolean[] = [];
  /** True when the piece is a heading line: it never makes a chunk on its own. */
  readonly headings: boolean[] = [];
  private pendingOpen = false;

  constructor(
    private readonly text: string,
    private readonly size: number,
    /** Longest piece cut out of an oversized sentence: `size - overlap`, leaving room for overlap. */
    private readonly hardSize: number,
    private readonly measure: Measure,
  ) {}

  openSection(): void {
    this.pendingOpen = true;
  }

  /** Adds `[start, end)`, trimmed; splits it as needed. `linesOnly` is for code, whose "." is no sentence end. */
  add(start: number, end: number, linesOnly: boolean, heading = false): void {
    const { text } = this;
    let s = start;
    let e = end;
    while (s < e && isWhitespaceCode(text.charCodeAt(s))) s++;
    while (e > s && isWhitespaceCode(text.charCodeAt(e - 1))) e--;
    if (s === e) return;
    if (this.measure.length(text, s, e) <= this.size) this.push(s, e, heading);
    else this.addSentences(s, e, linesOnly);
  }

  private push(start: number, end: number, heading = false): void {
    this.starts.push(start);
    this.ends.push(end);
    this.opens.push(this.pendingOpen);
    this.headings.push(heading);
    this.pendingOpen = false;
  }

  private addSentences(start: number, end: number, linesOnly: boolean): void {
    const { text } = this;
    let from = start;
    for (let i = start; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x0a) {
        this.addSentence(from, i);
        from = i + 1;
        continue;
      }
      if (linesOnly) continue;
      let cut = -1;
      if (c === 0x2e || c === 0x21 || c === 0x3f) {
        let j = i + 1;
        while (j < end && isCloser(text.charCodeAt(j))) j++;
        if (j === end || isWhitespaceCode(text.charCodeAt(j))) cut = j;
      } else if (isCjkTerminator(c)) {
        let j = i + 1;
        while (j < end && (isCjkTerminator(text.charCodeAt(j)) || isCloser(text.charCodeAt(j)))) j++;
        cut = j;
      }
      if (cut < 0) continue;
      this.addSentence(from, cut);
      from = cut;
      i = cut - 1;
    }
    this.addSentence(from, end);
  }

  private addSentence(start: number, end: number): void {
    const { text, size, hardSize, measure } = this;
    let s = start;
    let e = end;
    while (s < e && isWhitespaceCode(text.charCodeAt(s))) s++;
    while (e > s && isWhitespaceCode(text.charCodeAt(e - 1))) e--;
    if (s === e) return;
    // Invariant below: `s` is not whitespace, so every piece is non-empty and progress is made.
    if (measure.length(text, s, e) <= size) {
      this.push(s, e);
      return;
    }
    while (measure.length(text, s, e) > hardSize) {
      const [pieceEnd, next] = cutAt(text, s, measure.reach(text, s, e, hardSize));
      this.push(s, pieceEnd);
      s = next;
    }
    if (s < e) this.push(s, e);
  }
}

/**
 * Where to end a piece that may reach `limit` at most: at the last whitespace before it, else at
 * the limit itself (never between the halves of a surrogate pair). Returns the piece's end and
 * where the next piece starts.
 */
export function cutAt(text: string, s: number, limit: number): [number, number] {
  let w = limit;
  while (w > s && !isWhitespaceCode(text.charCodeAt(w))) w--;
  if (w > s) {
    let pieceEnd = w;
    while (isWhitespaceCode(text.charCodeAt(pieceEnd - 1))) pieceEnd--;
    let next = w;
    while (isWhitespaceCode(text.charCodeAt(next))) next++;
    return [pieceEnd, next];
  }
  let cut = limit;
  if (isHighSurrogate(text.charCodeAt(cut - 1)) && isLowSurrogate(text.charCodeAt(cut))) cut--;
  // A single astral character wider than the limit still has to go somewhere.
  if (cut <= s) cut = Math.min(text.length, s + (isHighSurrogate(text.charCodeAt(s)) ? 2 : 1));
  return [cut, cut];
}

interface Fence {
  char: number;
  length: number;
  start: number;
  /** End of the last non-blank line seen inside the fence. */
  end: number;
}

function isHeadingLine(text: string, lineStart: number): boolean {
  let i = lineStart;
  while (i < text.length && i - lineStart < 7 && text.charCodeAt(i) === 0x23) i++;
  const hashes = i - lineStart;
  return hashes >= 1 && hashes <= 6 && i < text.length && isWhitespaceCode(text.charCodeAt(i));
}

/** Cuts `text` into pieces: sections at headings, blocks at blank lines, code fences kept whole. */
export function collectPieces(text: string, size: number, overlap: number, measure: Measure): Pieces {
  const pieces = new Pieces(text, size, size - overlap, measure);
  const n = text.length;
  let paraStart = -1;
  let paraEnd = -1;
  let fence: Fence | null = null;
  const flushParagraph = (): void => {
    if (paraStart >= 0) pieces.add(paraStart, paraEnd, false);
    paraStart = -1;
  };
  for (let lineStart = 0; lineStart < n; ) {
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd < 0) lineEnd = n;
    let first = lineStart;
    while (first < lineEnd && isWhitespaceCode(text.charCodeAt(first))) first++;
    const blank = first === lineEnd;
    if (fence) {
      if (!blank) {
        fence.end = lineEnd;
        const char = firstMark(text, lineStart, lineEnd);
        const run = char === fence.char ? fenceRun(text, lineStart, lineEnd, char) : 0;
        if (run >= fence.length && closesFence(text, lineStart, lineEnd)) {
          pieces.add(fence.start, fence.end, true);
          fence = null;
        }
      }
    } else if (blank) {
      flushParagraph();
    } else if (isHeadingLine(text, lineStart)) {
      flushParagraph();
      pieces.openSection();
      pieces.add(lineStart, lineEnd, false, true);
    } else {
      const char = firstMark(text, lineStart, lineEnd);
      const run = char > 0 ? fenceRun(text, lineStart, lineEnd, char) : 0;
      if (run > 0) {
        flushParagraph();
        fence = { char, length: run, start: first, end: lineEnd };
      } else {
        if (paraStart < 0) paraStart = first;
        paraEnd = lineEnd;
      }
    }
    lineStart = lineEnd + 1;
  }
  flushParagraph();
  if (fence) pieces.add(fence.start, fence.end, true);
  return pieces;
}
