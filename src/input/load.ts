import fs from "node:fs";
import path from "node:path";
import type { ErrorInfo } from "../core/types.js";
import { decodeText } from "./decode.js";
import { classifyName, type NonDocumentKind, SNIFF_BYTES, sniff } from "./file-types.js";

/**
 * Reading the file behind a `path` document. The spelling of the path was checked already; here
 * the file system is: a symlink (or a folder symlink on the way) must not lead outside the root.
 */

export interface Containment {
  /** The root, resolved through symlinks. */
  realRoot: string;
}

export function containment(root: string): Containment {
  return { realRoot: fs.realpathSync(root) };
}

/**
 * Problem text when `rel` resolves outside the root; null when it stays inside. What is judged is
 * the longest part of the path that exists: a missing file behind a symlink that leads outside is
 * refused like an existing one, so that an answer never tells whether a file exists outside the
 * root, and the message never names where the symlink leads.
 */
export function escapesRoot(c: Containment, rel: string): string | null {
  return isInside(c.realRoot, whereItLeads(path.resolve(c.realRoot, rel), 0))
    ? null
    : "resolves outside the input's folder (through a symlink)";
}

/** The real path of `file`, following symlinks as far as they exist, dangling ones included. */
function whereItLeads(file: string, depth: number): string {
  try {
    return fs.realpathSync(file);
  } catch {
    // Missing, or a dangling symlink: follow the link itself (a cycle ends at the depth limit).
  }
  try {
    if (depth < 40 && fs.lstatSync(file).isSymbolicLink()) {
      return whereItLeads(path.resolve(path.dirname(file), fs.readlinkSync(file)), depth + 1);
    }
  } catch {
    // Not there at all: judged by its folder.
  }
  const parent = path.dirname(file);
  return parent === file ? file : path.join(whereItLeads(parent, depth), path.basename(file));
}

export function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

export type Loaded =
  | { content: string; encoding: string | null; mtimeMs: number; error?: undefined; skipped?: undefined }
  | { error: ErrorInfo; content?: undefined; skipped?: undefined }
  | { skipped: NonDocumentKind; content?: undefined; error?: undefined };

export interface LoadOptions {
  /** Larger files fail with DOC_TOO_LARGE (the `--max-doc-bytes` setting). */
  maxBytes: number;
  /**
   * Skip a file that is not a document (by its extension, else its first bytes) instead of failing
   * it: for the files of a folder and `path` documents without an explicit `format`. @default false
   */
  skipNonDocuments?: boolean;
  /**
   * The document's format is read as bytes (PDF, DOCX): its content is the file's bytes in base64,
   * and its parser judges them. @default false
   */
  binary?: boolean;
}

/**
 * The file's text, why it cannot be a document (missing, too large, not text), or what kind of
 * non-document it is. The one place a document file is read: a format read as bytes (PDF, DOCX)
 * branches in `readDocumentFile`.
 */
export async function loadFile(c: Containment, rel: string, options: LoadOptions): Promise<Loaded> {
  const target = path.resolve(c.realRoot, rel);
  let real: string;
  try {
    real = await fs.promises.realpath(target);
  } catch {
    return { error: { code: "NOT_FOUND", message: `the file ${rel} does not exist` } };
  }
  if (!isInside(c.realRoot, real)) {
    return { error: { code: "NOT_FOUND", message: `the file ${rel} resolves outside the input's folder` } };
  }
  let file: fs.promises.FileHandle;
  try {
    file = await fs.promises.open(real, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { error: { code: "NOT_FOUND", message: `the file ${rel} does not exist` } };
    return { error: { code: "UNREADABLE", message: `cannot read ${rel}: ${code}` } };
  }
  try {
    return await readDocumentFile(file, rel, options);
  } catch (err) {
    return {
      error: { code: "UNREADABLE", message: `cannot read ${rel}: ${(err as NodeJS.ErrnoException).code}` },
    };
  } finally {
    await file.close();
  }
}

async function readDocumentFile(
  file: fs.promises.FileHandle,
  rel: string,
  options: LoadOptions,
): Promise<Loaded> {
  const stat = await file.stat();
  if (!stat.isFile()) return { error: { code: "NOT_FOUND", message: `${rel} is not a regular file` } };
  if (options.skipNonDocuments) {
    const byName = classifyName(rel);
    if (byName !== "document" && byName !== "unknown") return { skipped: byName };
    if (byName === "unknown") {
      // Sniffed before the size check: a large image or archive is skipped, not DOC_TOO_LARGE.
      const head = Buffer.alloc(Math.min(SNIFF_BYTES, stat.size));
      await file.read(head, 0, head.length, 0);
      const kind = sniff(head);
      if (kind !== null) return { skipped: kind };
    }
  }
  if (stat.size > options.maxBytes) {
    return { error: { code: "DOC_TOO_LARGE", message: tooLargeMessage(rel, stat.size, options.maxBytes) } };
  }
  const bytes = Buffer.allocUnsafe(stat.size);
  let read = 0;
  while (read < bytes.length) {
    const { bytesRead } = await file.read(bytes, read, bytes.length - read, read);
    if (bytesRead === 0) break;
    read += bytesRead;
  }
  if (options.binary) {
    return { content: bytes.subarray(0, read).toString("base64"), encoding: null, mtimeMs: stat.mtimeMs };
  }
  const decoded = decodeText(bytes.subarray(0, read));
  if (decoded.problem !== undefined) {
    return { error: { code: "UNREADABLE", message: `${rel} is ${decoded.problem}` } };
  }
  return { content: decoded.text, encoding: decoded.encoding, mtimeMs: stat.mtimeMs };
}

/** The DOC_TOO_LARGE message, which names the option that raises the limit. */
export function tooLargeMessage(what: string, size: number, maxBytes: number): string {
  return (
    `${what} has ${size.toLocaleString("en-US")} bytes, more than --max-doc-bytes ` +
    `(${maxBytes.toLocaleString("en-US")}); raise --max-doc-bytes (maxDocBytes) to process it`
  );
}
