/**
 * Structure-aware chunking. The text is cut into atomic pieces no longer than `size` (markdown
 * sections, then paragraphs and fenced code blocks, then sentences or lines, then hard splits), and
 * consecutive pieces of one section are packed greedily into chunks. Everything works on offsets
 * with `charCodeAt`, so the cost stays linear in the length of the text.
 */

export interface ChunkOptions {
  /** Largest chunk, in UTF-16 code units. Must be an integer >= 16. @default 1000 */
  size: number;
  /**
   * Code units repeated from the end of one chunk at the start of the next, so a sentence cut at a
   * chunk boundary keeps some context. An integer with `0 <= overlap < size / 2`. @default 0
   */
  overlap: number;
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
  const { size, overlap } = options;
  if (typeof size !== "number" || !Number.isInteger(size) || size < MIN_SIZE) {
    throw new RangeError(`Expected \`size\` to be an integer from ${MIN_SIZE} and up, got ${describe(size)}`);
  }
  const maxOverlap = Math.ceil(size / 2) - 1;
  if (typeof overlap !== "number" || !Number.isInteger(overlap) || overlap < 0 || overlap > maxOverlap) {
    throw new RangeError(
      `Expected \`overlap\` to be an integer from 0 to ${maxOverlap} (less than half of \`size\` ${size}), got ${describe(overlap)}`,
    );
  }
}

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

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/** CJK sentence punctuation: a sentence ends after it even without a following space. */
function isCjkTerminator(c: number): boolean {
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
class Pieces {
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  /** True when the piece opens a markdown section: it must start a chunk. */
  readonly opens: boolean[] = [];
  private pendingOpen = false;

  constructor(
    private readonly text: string,
    private readonly size: number,
    /** Longest piece cut out of an oversized sentence: `size - overlap`, leaving room for overlap. */
    private readonly hardSize: number,
  ) {}

  openSection(): void {
    this.pendingOpen = true;
  }

  /** Adds `[start, end)`, trimmed; splits it as needed. `linesOnly` is for code, whose "." is no sentence end. */
  add(start: number, end: number, linesOnly: boolean): void {
    const { text } = this;
    let s = start;
    let e = end;
    while (s < e && isWhitespaceCode(text.charCodeAt(s))) s++;
    while (e > s && isWhitespaceCode(text.charCodeAt(e - 1))) e--;
    if (s === e) return;
    if (e - s <= this.size) this.push(s, e);
    else this.addSentences(s, e, linesOnly);
  }

  private push(start: number, end: number): void {
    this.starts.push(start);
    this.ends.push(end);
    this.opens.push(this.pendingOpen);
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
    const { text, size, hardSize } = this;
    let s = start;
    let e = end;
    while (s < e && isWhitespaceCode(text.charCodeAt(s))) s++;
    while (e > s && isWhitespaceCode(text.charCodeAt(e - 1))) e--;
    if (s === e) return;
    // Invariant below: `s` is not whitespace, so every piece is non-empty and progress is made.
    if (e - s <= size) {
      this.push(s, e);
      return;
    }
    while (e - s > hardSize) {
      const limit = s + hardSize;
      let w = limit;
      while (w > s && !isWhitespaceCode(text.charCodeAt(w))) w--;
      if (w > s) {
        let pieceEnd = w;
        while (isWhitespaceCode(text.charCodeAt(pieceEnd - 1))) pieceEnd--;
        this.push(s, pieceEnd);
        s = w;
        while (isWhitespaceCode(text.charCodeAt(s))) s++;
      } else {
        let cut = limit;
        if (isHighSurrogate(text.charCodeAt(cut - 1)) && isLowSurrogate(text.charCodeAt(cut))) cut--;
        this.push(s, cut);
        s = cut;
      }
    }
    if (s < e) this.push(s, e);
  }
}

interface Fence {
  char: number;
  length: number;
  start: number;
  /** End of the last non-blank line seen inside the fence. */
  end: number;
}

/** Length of the ``` or ~~~ run opening `line` (up to 3 spaces of indent allowed), or 0. */
function fenceRun(text: string, lineStart: number, lineEnd: number, char: number): number {
  let i = lineStart;
  while (i < lineEnd && i - lineStart < 3 && text.charCodeAt(i) === 0x20) i++;
  const runStart = i;
  while (i < lineEnd && text.charCodeAt(i) === char) i++;
  return i - runStart >= 3 ? i - runStart : 0;
}

function isHeadingLine(text: string, lineStart: number): boolean {
  let i = lineStart;
  while (i < text.length && i - lineStart < 7 && text.charCodeAt(i) === 0x23) i++;
  const hashes = i - lineStart;
  return hashes >= 1 && hashes <= 6 && i < text.length && isWhitespaceCode(text.charCodeAt(i));
}

/** Cuts `text` into pieces: sections at headings, blocks at blank lines, code fences kept whole. */
function collectPieces(text: string, size: number, overlap: number): Pieces {
  const pieces = new Pieces(text, size, size - overlap);
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
        const run = fenceRun(text, lineStart, lineEnd, fence.char);
        let rest = lineStart;
        while (text.charCodeAt(rest) === 0x20) rest++;
        rest += run;
        while (rest < lineEnd && isWhitespaceCode(text.charCodeAt(rest))) rest++;
        if (run >= fence.length && rest === lineEnd) {
          pieces.add(fence.start, fence.end, true);
          fence = null;
        }
      }
    } else if (blank) {
      flushParagraph();
    } else if (isHeadingLine(text, lineStart)) {
      flushParagraph();
      pieces.openSection();
      pieces.add(lineStart, lineEnd, false);
    } else {
      const char = text.charCodeAt(first);
      const run = char === 0x60 || char === 0x7e ? fenceRun(text, lineStart, lineEnd, char) : 0;
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

/**
 * Where a chunk that continues the previous one starts: up to `overlap` code units back, at the
 * earliest word start in that window, so the repeated context is as long as allowed without cutting
 * a word; mid-word only when the window holds no boundary (CJK, long tokens).
 */
function overlapStart(
  text: string,
  prev: Span,
  overlap: number,
  pieceStart: number,
  pieceEnd: number,
  size: number,
): number {
  const lo = Math.max(prev.end - overlap, pieceEnd - size, prev.start + 1);
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

/**
 * Chunk spans of cleaned text: each non-empty, at most `size` long, starting and ending at
 * non-whitespace, in text order, covering every non-whitespace character. A markdown heading
 * always starts a chunk, and overlap is not carried across it (the heading is the context).
 */
export function chunkSpans(text: string, options: ChunkOptions): Span[] {
  validateChunkOptions(options);
  const { size, overlap } = options;
  const { starts, ends, opens } = collectPieces(text, size, overlap);
  const spans: Span[] = [];
  let i = 0;
  while (i < starts.length) {
    let start = starts[i]!;
    let end = ends[i]!;
    const prev = spans[spans.length - 1];
    if (overlap > 0 && prev && !opens[i]) start = overlapStart(text, prev, overlap, start, end, size);
    i++;
    while (i < starts.length && !opens[i] && ends[i]! - start <= size) {
      end = ends[i]!;
      i++;
    }
    spans.push({ start, end });
  }
  return spans;
}

/** The text of each chunk span. */
export function chunkText(text: string, options: ChunkOptions): string[] {
  return chunkSpans(text, options).map((span) => text.slice(span.start, span.end).trim());
}
