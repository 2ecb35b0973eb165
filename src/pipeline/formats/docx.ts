import { DocbatchError } from "../../core/errors.js";
import { parseHtml } from "./html.js";
import type { ParsedDocument } from "./parsed.js";

/**
 * DOCX through mammoth to HTML, then the HTML path: Word's headings, lists and tables become the
 * same structure the chunker respects for web pages. Images are left out (mammoth would inline
 * them as data URLs, which are no text).
 *
 * @throws DocbatchError `UNREADABLE` when the file is not a readable DOCX (not a zip, no
 * `word/document.xml`, a password-protected document).
 */
export async function parseDocx(bytes: Uint8Array): Promise<ParsedDocument> {
  const { default: mammoth } = await import("mammoth");
  let html: string;
  try {
    const result = await mammoth.convertToHtml(
      { buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) },
      { convertImage: mammoth.images.imgElement(async () => ({ src: "" })) },
    );
    html = result.value;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new DocbatchError(
      "UNREADABLE",
      `not a readable DOCX (corrupt, encrypted or another format): ${message}`,
      {
        cause: err,
      },
    );
  }
  return parseHtml(html);
}
