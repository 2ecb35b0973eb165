/**
 * Whole-text passes over large documents, one piece at a time.
 *
 * A regex `replace` over a 20 MB string with millions of matches (every space, every CRLF) builds
 * its result from millions of parts and peaks at many times the text's size; `normalize` copies
 * the whole text to UTF-16 first; hashing converts it to UTF-8 first. Run piece by piece, each
 * pass holds one small piece at a time, and only the final join copies the text once.
 *
 * A piece boundary lies between two "plain" characters (ASCII letters and digits, CJK ideographs)
 * or after a line feed and before a plain character. No pass of docbatch's normalization or
 * cleaning can match across such a boundary: no whitespace, line ending, control or invisible
 * character touches it, no combining mark follows it (so NFC composes nothing across it), and no
 * surrogate pair is split by it. So a pass run piece by piece gives exactly the result of the same
 * pass over the whole text.
 */

/** Pieces of about this many UTF-16 code units. */
export const PIECE_LENGTH = 1 << 20;

const isPlain = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) ||
  (c >= 0x41 && c <= 0x5a) ||
  (c >= 0x61 && c <= 0x7a) ||
  (c >= 0x4e00 && c <= 0x9fff);

/** Whether a piece may end before index `i` of `text`. */
function isBoundary(text: string, i: number): boolean {
  if (!isPlain(text.charCodeAt(i))) return false;
  const before = text.charCodeAt(i - 1);
  return before === 0x0a || isPlain(before);
}

/**
 * The pieces of `text` (substrings that share its memory), each about `length` long; one piece
 * when the text is short or has no boundary.
 */
export function pieces(text: string, length = PIECE_LENGTH): string[] {
  if (text.length <= length) return [text];
  const out: string[] = [];
  let start = 0;
  let i = length;
  while (i < text.length) {
    if (isBoundary(text, i)) {
      out.push(text.slice(start, i));
      start = i;
      i += length;
    } else i++;
  }
  out.push(text.slice(start));
  return out;
}

/**
 * `pass(text)` computed piece by piece: `pass` must be a sequence of per-character or local
 * replacements that never match across a boundary (see above); `ends` gets the first and last
 * piece for what only applies at the ends of the whole text (trimming).
 */
export function mapPieces(
  text: string,
  pass: (piece: string, first: boolean, last: boolean) => string,
  length = PIECE_LENGTH,
): string {
  const parts = pieces(text, length);
  if (parts.length === 1) return pass(text, true, true);
  let changed = false;
  for (let i = 0; i < parts.length; i++) {
    const before = parts[i]!;
    const after = pass(before, i === 0, i === parts.length - 1);
    if (after !== before) {
      parts[i] = after;
      changed = true;
    }
  }
  return changed ? parts.join("") : text;
}
