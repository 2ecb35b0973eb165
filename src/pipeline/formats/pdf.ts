import { DocbatchError } from "../../core/errors.js";
import type { ParsedDocument } from "./parsed.js";

/**
 * PDF to text, page by page, with unpdf (the serverless build of Mozilla's pdf.js; the one pdf.js
 * this process loads). Lines are rebuilt from the text items' positions, and a vertical gap larger
 * than a line and a half starts a new paragraph, so the chunker can prefer paragraph boundaries.
 *
 * @throws DocbatchError `UNREADABLE` for a corrupt, truncated or password-protected file, and
 * `NO_TEXT` (the fallback path: the document completes degraded) for one without extractable text,
 * such as a scan.
 */
export async function parsePdf(bytes: Uint8Array): Promise<ParsedDocument> {
  const { getDocumentProxy } = await import("unpdf");
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // No eval, no font loading, no console noise: only the text is wanted.
    pdf = await getDocumentProxy(bytes, { isEvalSupported: false, verbosity: 0, stopAtErrors: false });
  } catch (err) {
    throw unreadable(err);
  }
  try {
    const pages: string[] = [];
    for (let n = 1; n <= pdf.numPages; n++) {
      const page = await pdf.getPage(n);
      const content = await page.getTextContent();
      pages.push(pageText(content.items as unknown[]));
      page.cleanup();
    }
    if (pages.every((p) => p.trim() === "")) {
      throw new DocbatchError(
        "NO_TEXT",
        `the PDF has ${pdf.numPages} page${pdf.numPages === 1 ? "" : "s"} and no extractable text (a scan, or text drawn as images)`,
      );
    }
    return { text: "", pages, title: await titleOf(pdf) };
  } catch (err) {
    if (err instanceof DocbatchError) throw err;
    throw unreadable(err);
  } finally {
    await pdf.destroy();
  }
}

interface TextItem {
  str: string;
  transform: number[];
  height: number;
  hasEOL: boolean;
}

function isTextItem(item: unknown): item is TextItem {
  return typeof (item as TextItem).str === "string" && Array.isArray((item as TextItem).transform);
}

/** Rebuilds lines and paragraphs from positioned text items. */
function pageText(items: unknown[]): string {
  const out: string[] = [];
  let lastY: number | null = null;
  let lineHeight = 1;
  /** 0 none, 1 a line break, 2 a paragraph break, written before the next text. */
  let pending = 0;
  for (const item of items) {
    if (!isTextItem(item)) continue;
    if (item.str !== "") {
      const y = item.transform[5] ?? 0;
      if (lastY !== null && Math.abs(y - lastY) > 0.5) {
        pending = Math.max(pending, Math.abs(y - lastY) > 1.5 * lineHeight ? 2 : 1);
      }
      if (out.length > 0 && pending > 0) out.push(pending === 2 ? "\n\n" : "\n");
      pending = 0;
      out.push(item.str);
      lastY = y;
      lineHeight = item.height || Math.abs(item.transform[3] ?? 0) || lineHeight;
    }
    if (item.hasEOL) pending = Math.max(pending, 1);
  }
  return out.join("");
}

async function titleOf(pdf: { getMetadata(): Promise<{ info: unknown }> }): Promise<string | null> {
  try {
    const { info } = await pdf.getMetadata();
    const title = (info as { Title?: unknown }).Title;
    return typeof title === "string" && title.trim() !== "" ? title.trim() : null;
  } catch {
    return null;
  }
}

function unreadable(err: unknown): DocbatchError {
  const name = (err as { name?: string })?.name ?? "";
  const message = err instanceof Error ? err.message : String(err);
  if (name === "PasswordException") {
    return new DocbatchError("UNREADABLE", "the PDF is encrypted with a password; decrypt it first", {
      cause: err,
    });
  }
  return new DocbatchError("UNREADABLE", `not a readable PDF (corrupt or truncated): ${message}`, {
    cause: err,
  });
}
