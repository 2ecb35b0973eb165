import path from "node:path";
import type { ErrorDetail } from "../core/errors.js";
import { normalizeContent, normalizeId } from "../core/keys.js";
import { DOCUMENT_FORMATS, type DocumentFormat, isBinaryFormat, type JsonObject } from "../core/types.js";
import { formatOfExtension } from "./file-types.js";

/** A document record as it passed validation: normalized, but its `path` not yet loaded. */
export interface ValidDocument {
  source: string;
  docId: string;
  format: DocumentFormat;
  metadata: JsonObject;
  /** Normalized inline content (base64 for binary formats), or null for a `path` document. */
  content: string | null;
  /** The `path` relative to the input's folder, normalized to forward slashes. */
  path: string | null;
  /** True when the record gave its `format`: its file is read as that, never skipped. */
  formatGiven: boolean;
}

/** The format of a `path` document from its extension (see DOCUMENT_EXTENSIONS). */
export function formatFromPath(file: string): DocumentFormat {
  return formatOfExtension(file);
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const BASE64_SPACE = /[\s]+/g;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The format of inline bytes given without one: by their first bytes, else text. */
function sniffFormat(bytes: Buffer): DocumentFormat {
  if (bytes.subarray(0, 5).toString("latin1") === "%PDF-") return "pdf";
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return "docx";
  return "text";
}

/**
 * Checks `content_base64`: the bytes of a binary format are kept as canonical base64 (so equal
 * bytes give equal keys however they were wrapped); a text format is decoded as UTF-8 and must be
 * valid UTF-8, never repaired silently.
 */
function decodeInline(
  raw: unknown,
  given: DocumentFormat | null,
): { content: string; format: DocumentFormat } | { problem: string } {
  if (typeof raw !== "string") return { problem: `must be a base64 string, got ${describe(raw)}` };
  const compact = raw.replace(BASE64_SPACE, "");
  if (!BASE64.test(compact) || compact.length % 4 === 1) return { problem: "is not valid base64" };
  const bytes = Buffer.from(compact, "base64");
  const format = given ?? sniffFormat(bytes);
  if (isBinaryFormat(format)) return { content: bytes.toString("base64"), format };
  try {
    return { content: normalizeContent(utf8.decode(bytes)), format };
  } catch {
    return { problem: `is not valid UTF-8 text for format \`${format}\`` };
  }
}

/**
 * Checks one record against the contract's Document rules. `where` prefixes every detail path
 * (`documents[3]`, `line 7`). Path containment against the file system is checked by the caller.
 */
export function checkDocument(
  raw: unknown,
  where: string,
  extra: Partial<ErrorDetail> = {},
): { doc: ValidDocument | null; problems: ErrorDetail[] } {
  const problems: ErrorDetail[] = [];
  const problem = (field: string, text: string) =>
    problems.push({ path: field ? `${where}.${field}` : where, problem: text, ...extra });
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    problem("", `must be an object (a Document), got ${describe(raw)}`);
    return { doc: null, problems };
  }
  const record = raw as JsonObject;
  let docId = "";
  if (record.id === undefined || record.id === null) problem("id", "required");
  else if (typeof record.id !== "string") problem("id", `must be a string, got ${describe(record.id)}`);
  else {
    docId = normalizeId(record.id);
    if (docId === "") problem("id", "must not be empty or whitespace");
  }
  let source = "inline";
  if (record.source !== undefined) {
    if (typeof record.source !== "string")
      problem("source", `must be a string, got ${describe(record.source)}`);
    else if (normalizeId(record.source) === "") problem("source", "must not be empty when given");
    else source = normalizeId(record.source);
  }
  const hasContent = record.content !== undefined && record.content !== null;
  const hasPath = record.path !== undefined && record.path !== null;
  const hasBytes = record.content_base64 !== undefined && record.content_base64 !== null;
  let content: string | null = null;
  let relPath: string | null = null;
  const given = Number(hasContent) + Number(hasPath) + Number(hasBytes);
  if (given !== 1) {
    const field = given === 0 ? "content" : hasPath ? "path" : "content_base64";
    problem(field, "exactly one of `content`, `content_base64` or `path` is required");
  } else if (hasBytes) {
    // Decoded below, once the format is known.
  } else if (hasContent) {
    if (typeof record.content !== "string")
      problem("content", `must be a string, got ${describe(record.content)}`);
    else content = normalizeContent(record.content);
  } else if (typeof record.path !== "string" || record.path.trim() === "") {
    problem("path", `must be a non-empty string, got ${describe(record.path)}`);
  } else {
    const checked = checkRelativePath(record.path);
    if (checked.path === undefined) problem("path", checked.problem);
    else relPath = checked.path;
  }
  let format: DocumentFormat = relPath ? formatFromPath(relPath) : "text";
  const formatGiven = record.format !== undefined && record.format !== null;
  let givenFormat: DocumentFormat | null = null;
  if (formatGiven) {
    if (typeof record.format !== "string" || !DOCUMENT_FORMATS.includes(record.format as DocumentFormat)) {
      problem("format", `must be one of ${DOCUMENT_FORMATS.join(", ")}, got ${describe(record.format)}`);
    } else {
      format = record.format as DocumentFormat;
      givenFormat = format;
    }
  }
  if (given === 1 && hasBytes) {
    const decoded = decodeInline(record.content_base64, givenFormat);
    if ("problem" in decoded) problem("content_base64", decoded.problem);
    else ({ content, format } = decoded);
  } else if (given === 1 && hasContent && isBinaryFormat(format)) {
    problem("content", `a ${format} document is bytes: give them as \`content_base64\`, or give a \`path\``);
  }
  let metadata: JsonObject = {};
  if (record.metadata !== undefined && record.metadata !== null) {
    if (typeof record.metadata !== "object" || Array.isArray(record.metadata)) {
      problem("metadata", `must be an object, got ${describe(record.metadata)}`);
    } else {
      metadata = record.metadata as JsonObject;
    }
  }
  if (problems.length > 0) return { doc: null, problems };
  return { doc: { source, docId, format, metadata, content, path: relPath, formatGiven }, problems };
}

/** Rejects paths that could leave the input's folder by their spelling alone. */
export function checkRelativePath(
  raw: string,
): { path: string; problem?: undefined } | { path?: undefined; problem: string } {
  if (raw.includes("\0")) return { problem: "must not contain NUL characters" };
  const slashed = raw.replace(/\\/g, "/");
  if (path.posix.isAbsolute(slashed) || /^[A-Za-z]:/.test(slashed)) {
    return { problem: `must be relative to the input's folder, got an absolute path \`${raw}\`` };
  }
  const normalized = path.posix.normalize(slashed);
  if (normalized === ".." || normalized.startsWith("../")) {
    return { problem: `must stay inside the input's folder, \`${raw}\` escapes it` };
  }
  if (normalized === "." || normalized === "") return { problem: "must name a file" };
  return { path: normalized };
}

export function identity(doc: { source: string; docId: string }): string {
  return JSON.stringify([doc.source, doc.docId]);
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string")
    return value.length > 40 ? `"${value.slice(0, 40)}…"` : JSON.stringify(value);
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}
