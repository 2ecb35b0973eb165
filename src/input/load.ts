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

export type Loaded = { content: string; error?: undefined } | { content?: undefined; error: ErrorInfo };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The file's text, or why it cannot be a document (missing, too large, not UTF-8 text). */
export async function loadFile(c: Containment, rel: string, maxBytes: number): Promise<Loaded> {
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
  if (bytes.subarray(0, 8192).includes(0)) {
    return { error: { code: "UNREADABLE", message: `${rel} is binary, not text` } };
  }
  try {
    return { content: utf8.decode(bytes) };
  } catch {
    return { error: { code: "UNREADABLE", message: `${rel} is not valid UTF-8 text` } };
  }
}
