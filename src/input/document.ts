import path from "node:path";
import type { ErrorDetail } from "../core/errors.js";
import { normalizeContent, normalizeId } from "../core/keys.js";
import { DOCUMENT_FORMATS, type DocumentFormat, type JsonObject } from "../core/types.js";
import { formatOfExtension } from "./file-types.js";

/** A document record as it passed validation: normalized, but its `path` not yet loaded. */
export interface ValidDocument {
  source: string;
  docId: string;
  format: DocumentFormat;
  metadata: JsonObject;
  /** Normalized inline content, or null for a `path` document. */
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
  let content: string | null = null;
  let relPath: string | null = null;
  if (hasContent === hasPath) {
    problem(hasContent ? "path" : "content", "exactly one of `content` or `path` is required");
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
  if (formatGiven) {
    if (typeof record.format !== "string" || !DOCUMENT_FORMATS.includes(record.format as DocumentFormat)) {
      problem("format", `must be one of ${DOCUMENT_FORMATS.join(", ")}, got ${describe(record.format)}`);
    } else {
      format = record.format as DocumentFormat;
    }
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
