import fs from "node:fs";
import path from "node:path";
import type { ErrorInfo } from "../core/types.js";

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

/** Problem text when `rel` resolves outside the root; null when it is inside or does not exist. */
export function escapesRoot(c: Containment, rel: string): string | null {
  const target = path.resolve(c.realRoot, rel);
  let real: string;
  try {
    real = fs.realpathSync(target);
  } catch {
    return null; // A missing file cannot escape; it fails with NOT_FOUND when processed.
  }
  return isInside(c.realRoot, real)
    ? null
    : `resolves outside the input's folder (through a symlink) to ${real}`;
}

export function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

export type Loaded =
  | { content: string; mtimeMs: number; error?: undefined }
  | { content?: undefined; error: ErrorInfo };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The file's text, or why it cannot be a document (missing, too large, not UTF-8 text). A file of
 * a binary format (`binary`: PDF, DOCX) is read as bytes and given as base64; its parser judges it.
 */
export async function loadFile(
  c: Containment,
  rel: string,
  maxBytes: number,
  binary = false,
): Promise<Loaded> {
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
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(real);
  } catch {
    return { error: { code: "NOT_FOUND", message: `the file ${rel} does not exist` } };
  }
  if (!stat.isFile()) return { error: { code: "NOT_FOUND", message: `${rel} is not a regular file` } };
  if (stat.size > maxBytes) {
    return {
      error: { code: "DOC_TOO_LARGE", message: `${rel} has ${stat.size} bytes, more than ${maxBytes}` },
    };
  }
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(real);
  } catch (err) {
    return {
      error: { code: "UNREADABLE", message: `cannot read ${rel}: ${(err as NodeJS.ErrnoException).code}` },
    };
  }
  if (binary) return { content: bytes.toString("base64"), mtimeMs: stat.mtimeMs };
  if (bytes.subarray(0, 8192).includes(0)) {
    return { error: { code: "UNREADABLE", message: `${rel} is binary, not text` } };
  }
  try {
    return { content: utf8.decode(bytes), mtimeMs: stat.mtimeMs };
  } catch {
    return { error: { code: "UNREADABLE", message: `${rel} is not valid UTF-8 text` } };
  }
}
