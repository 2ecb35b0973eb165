import { mapPieces, PIECE_LENGTH } from "../core/pieces.js";

/**
 * Text cleaning between parsing and chunking. Every step is a linear pass, because this runs on
 * every document of every batch.
 */

// Vertical tab and form feed separate lines or pages in extracted text; dropping them would glue
// the words on either side together, so they count as line endings like U+2028/U+2029.
const LINE_ENDINGS = /\r\n?|[\v\f\u0085\u2028\u2029]/g;

// C0 and C1 controls (except \t and \n, handled on their own) and the zero-width characters that
// are invisible but would split words for tokenizers and break exact-match search.
const INVISIBLE = /[\u0000-\u0008\u000e-\u001f\u007f-\u0084\u0086-\u009f\u200b-\u200d\ufeff]/g;

// Tabs and every Unicode space separator (no-break space, em space, ideographic space...) read as
// one space to a reader, so they collapse like ASCII spaces do. Only what changes is matched: a
// run of two or more, or one that is not an ASCII space. Prose is mostly single spaces, and a
// replace that matches none returns its text without copying it.
const HORIZONTAL_SPACE = /[\t\p{Zs}]{2,}|(?! )[\t\p{Zs}]/gu;

/** Every run of tabs and Unicode spaces as one ASCII space. */
export function collapseSpaces(text: string): string {
  return text.replace(HORIZONTAL_SPACE, " ");
}

const TRAILING_SPACE = /[\t\p{Zs}]+\n/gu;
const EXTRA_BLANK_LINES = /\n{3,}/g;

/**
 * Normalizes text for chunking and embedding: line endings to `\n`, control and zero-width
 * characters removed, horizontal whitespace collapsed to one space, no spaces at line ends, at most
 * one blank line in a row, trimmed, Unicode NFC. Inside code fences (``` or ~~~, see `fenceRun`)
 * indentation, spacing and blank lines are kept as they are: they are part of the code.
 *
 * Idempotent: `cleanText(cleanText(t)) === cleanText(t)`.
 */
export function cleanText(text: string, /** @internal tests only */ pieceLength = PIECE_LENGTH): string {
  // Every pass runs piece by piece (see mapPieces): a replace with millions of matches over a whole
  // large document would peak at many times its size.
  const unified = mapPieces(text, (p) => p.replace(LINE_ENDINGS, "\n").replace(INVISIBLE, ""), pieceLength);
  const out: string[] = [];
  let proseStart = 0;
  let fence: { char: number; length: number } | null = null;
  for (let lineStart = 0; lineStart <= unified.length; ) {
    let lineEnd = unified.indexOf("\n", lineStart);
    if (lineEnd < 0) lineEnd = unified.length;
    const char = firstMark(unified, lineStart, lineEnd);
    const run = char > 0 ? fenceRun(unified, lineStart, lineEnd, char) : 0;
    if (fence === null && run > 0) {
      // Prose up to and including the opening fence line; code from the next line on.
      out.push(cleanProse(unified.slice(proseStart, lineEnd + 1), pieceLength));
      fence = { char, length: run };
      proseStart = lineEnd + 1;
    } else if (fence?.char === char && run >= fence.length && closesFence(unified, lineStart, lineEnd)) {
      out.push(cleanCode(unified.slice(proseStart, lineStart), pieceLength));
      fence = null;
      proseStart = lineStart;
    }
    lineStart = lineEnd + 1;
  }
  const rest = unified.slice(proseStart);
  out.push(fence === null ? cleanProse(rest, pieceLength) : cleanCode(rest, pieceLength));
  // Last, because removing a zero-width character can bring a base letter next to its combining
  // mark; canonical composition never produces whitespace or controls, so nothing above is undone.
  return mapPieces(
    out.length === 1 ? out[0]! : out.join(""),
    (piece, first, last) => {
      let trimmed = piece;
      if (first) trimmed = trimmed.trimStart();
      if (last) trimmed = trimmed.trimEnd();
      return trimmed.normalize("NFC");
    },
    pieceLength,
  );
}

function cleanProse(text: string, pieceLength: number): string {
  return mapPieces(
    text,
    (p) => collapseSpaces(p).replace(/ \n/g, "\n").replace(EXTRA_BLANK_LINES, "\n\n"),
    pieceLength,
  );
}

function cleanCode(text: string, pieceLength: number): string {
  return mapPieces(text, (p) => p.replace(TRAILING_SPACE, "\n"), pieceLength);
}

/** The backtick or tilde a line starts with after its indentation, or 0. */
export function firstMark(text: string, lineStart: number, lineEnd: number): number {
  let i = lineStart;
  while (i < lineEnd && isIndent(text.charCodeAt(i))) i++;
  const c = text.charCodeAt(i);
  return i < lineEnd && (c === 0x60 || c === 0x7e) ? c : 0;
}

function isIndent(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0xa0 || c === 0x3000 || (c >= 0x2000 && c <= 0x200a);
}

/**
 * Length of the ``` or ~~~ run that opens a fence on this line, or 0. Any indentation is allowed
 * (cleaning collapses it, and the answer must not change when it does), and a backtick fence's
 * info string may not contain a backtick, as in CommonMark.
 */
export function fenceRun(text: string, lineStart: number, lineEnd: number, char: number): number {
  let i = lineStart;
  while (i < lineEnd && isIndent(text.charCodeAt(i))) i++;
  const runStart = i;
  while (i < lineEnd && text.charCodeAt(i) === char) i++;
  const length = i - runStart;
  if (length < 3) return 0;
  if (char === 0x60 && text.slice(i, lineEnd).includes("`")) return 0;
  return length;
}

/** A closing fence has nothing but whitespace after its run. */
export function closesFence(text: string, lineStart: number, lineEnd: number): boolean {
  let i = lineStart;
  while (i < lineEnd && isIndent(text.charCodeAt(i))) i++;
  const c = text.charCodeAt(i);
  while (i < lineEnd && text.charCodeAt(i) === c) i++;
  while (i < lineEnd && isIndent(text.charCodeAt(i))) i++;
  return i === lineEnd;
}
