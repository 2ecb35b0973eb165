/**
 * What a format's parser gives the rest of the pipeline: text with its structure written the way
 * the chunker reads it (`#` heading lines, blank lines between blocks, code in ``` fences), and
 * nothing else. Chunking stays in one place (`chunk.ts`).
 */
export interface ParsedDocument {
  /** The structured text (for a paged format, unused: see `pages`). */
  text: string;
  /** The text of each page, in order, for paged formats (PDF). */
  pages?: string[];
  /** The document's own title, when the format has one. */
  title: string | null;
}
