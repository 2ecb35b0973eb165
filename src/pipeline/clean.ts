import { mapPieces, PIECE_LENGTH } from "../core/pieces.js";

/**
 * Text cleaning between parsing and chunking. Every step is one linear regex pass, because this runs
 * on every document of every batch.
 */

// Vertical tab and form feed separate lines or pages in extracted text; dropping them would glue
// the words on either side together, so they count as line endings like U+2028/U+2029.
const LINE_ENDINGS = /\r\n?|[\v\f\u0085\u2028\u2029]/g;

// C0 and C1 controls (except \t and \n, handled on their own) and the zero-width characters that
// are invisible but would split words for tokenizers and break exact-match search.
const INVISIBLE = /[\u0000-\u0008\u000e-\u001f\u007f-\u0084\u0086-\u009f\u200b-\u200d\ufeff]/g;

// Tabs and every Unicode space separator (no-break space, em space, ideographic space...) read as
// one space to a reader, so they collapse like ASCII spaces do.
const HORIZONTAL_SPACE = /[\t\p{Zs}]+/gu;

const SPACE_BEFORE_NEWLINE = / \n/g;
const EXTRA_BLANK_LINES = /\n{3,}/g;

/**
 * Normalizes text for chunking and embedding: line endings to `\n`, control and zero-width
 * characters removed, horizontal whitespace collapsed to one space, no spaces at line ends, at most
 * one blank line in a row, trimmed, Unicode NFC.
 *
 * Idempotent: `cleanText(cleanText(t)) === cleanText(t)`.
 */
export function cleanText(text: string, /** @internal tests only */ pieceLength = PIECE_LENGTH): string {
  // Piece by piece: no step matches across a piece boundary (see mapPieces), and a replace with
  // millions of matches over a whole large document would peak at many times its size.
  return mapPieces(
    text,
    (piece, first, last) => {
      let cleaned = piece
        .replace(LINE_ENDINGS, "\n")
        .replace(INVISIBLE, "")
        .replace(HORIZONTAL_SPACE, " ")
        .replace(SPACE_BEFORE_NEWLINE, "\n")
        .replace(EXTRA_BLANK_LINES, "\n\n");
      if (first) cleaned = cleaned.trimStart();
      if (last) cleaned = cleaned.trimEnd();
      // Last, because removing a zero-width character can bring a base letter next to its combining
      // mark; canonical composition never produces whitespace or controls, so nothing above is undone.
      return cleaned.normalize("NFC");
    },
    pieceLength,
  );
}
