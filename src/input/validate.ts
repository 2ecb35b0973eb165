import { createHash } from "node:crypto";
import { DocbatchError, type ErrorDetail } from "../core/errors.js";
import { type Hash64, hash64, IdentityMap } from "../core/identity-map.js";
import { canonicalJson } from "../core/keys.js";
import { checkDocument, identity, type ValidDocument } from "./document.js";
import { escapesRoot } from "./load.js";
import type { InputSource } from "./sources.js";

export interface ValidationSummary {
  /** Records read, duplicates included. */
  records: number;
  /** Distinct identities. */
  distinct: number;
  /** True when some document is given by `path` (its file may change without the input changing). */
  hasPaths: boolean;
}

const UTF8_HINT =
  "Save the input as UTF-8: invalid bytes are never replaced, so that no id or content changes silently.";

/** Details kept in the error body; the message says how many there were in all. */
const MAX_DETAILS = 1_000;

/**
 * Reads the whole input once, writing nothing, and throws one error that lists every problem:
 * the contract rejects an invalid input as a whole, before any processing. Duplicates are found
 * with 64-bit hashes of identity and content, so memory stays small for millions of documents.
 */
export interface ValidateOptions {
  /** False where `path` documents are not allowed (a server started without --root). @default true */
  allowPaths?: boolean;
}

export async function validateInput(
  source: InputSource,
  options: ValidateOptions = {},
): Promise<ValidationSummary> {
  const details: ErrorDetail[] = [];
  let problemCount = 0;
  let syntaxOnly = true;
  let duplicatesOnly = true;
  const report = (detail: ErrorDetail, kind: "syntax" | "duplicate" | "rule") => {
    problemCount += 1;
    if (kind !== "syntax") syntaxOnly = false;
    if (kind !== "duplicate") duplicatesOnly = false;
    if (details.length < MAX_DETAILS) details.push(detail);
  };
  for (const problem of source.problems) report(problem, "rule");
  const seen = new IdentityMap();
  const firstWhere = new Map<number, string>();
  let records = 0;
  let hasPaths = false;
  let pathsRefused = false;
  let badEncoding = false;
  for await (const record of source.records(0)) {
    const position = records;
    records += 1;
    // In-memory inputs never wait for I/O; let signals and timers in now and then.
    if (records % 2_000 === 0) await new Promise((resolve) => setImmediate(resolve));
    // A file of a folder that is not a document: skipped when planned, nothing to check.
    if (record.skipped) continue;
    if (record.parseError !== undefined) {
      // Invalid UTF-8 is an input error (INVALID_INPUT), not a syntax error.
      const kind = source.kind === "directory" || record.encodingError ? "rule" : "syntax";
      if (record.encodingError) badEncoding = true;
      const problem =
        source.kind === "directory" || record.encodingError
          ? record.parseError
          : `not valid JSON: ${record.parseError}`;
      report({ path: record.where, problem, ...record.extra }, kind);
      continue;
    }
    const { doc, problems } = checkDocument(record.raw, record.where, record.extra);
    for (const p of problems) report(p, "rule");
    if (!doc) continue;
    // A `path` document the file filter leaves out is not read, so its file is not checked.
    if (doc.path !== null && source.kind !== "directory" && !source.filter.includes(doc.path)) continue;
    if (doc.path !== null) {
      hasPaths = true;
      if (options.allowPaths === false) {
        pathsRefused = true;
        report(
          {
            path: `${record.where}.path`,
            problem: "path documents are disabled here; send content",
            ...record.extra,
          },
          "rule",
        );
        continue;
      }
      // A folder's listing refused its symlinks that lead outside (a parse error above), and a
      // file it reached otherwise is inside: it never enters a folder symlink. Resolving every
      // file again was two thirds of validating a large folder.
      const escaped = source.kind === "directory" ? null : escapesRoot(source.root, doc.path);
      if (escaped) {
        report({ path: `${record.where}.path`, problem: escaped, ...record.extra }, "rule");
        continue;
      }
    }
    const fingerprint = contentFingerprint(doc);
    const previous = seen.putIfAbsent(hash64(identity(doc)), fingerprint, position);
    if (previous === null) {
      // Kept only for the message of a conflict; positions of clean inputs are never looked up.
      if (firstWhere.size < 100_000) firstWhere.set(position, record.where);
      continue;
    }
    if (previous.value.hi !== fingerprint.hi || previous.value.lo !== fingerprint.lo) {
      const first = firstWhere.get(previous.position) ?? `record ${previous.position + 1}`;
      report(
        {
          path: `${record.where}.id`,
          problem: `duplicate id \`${doc.docId}\` (source \`${doc.source}\`) with different content; first at ${first}`,
          ...record.extra,
        },
        "duplicate",
      );
    }
  }
  if (problemCount > 0) {
    const first = details[0]!;
    const code = syntaxOnly ? "INVALID_JSON" : duplicatesOnly ? "DUPLICATE_ID" : "INVALID_INPUT";
    const more =
      problemCount > 1 ? ` (and ${problemCount - 1} more problem${problemCount > 2 ? "s" : ""})` : "";
    const shown = problemCount > details.length ? `; the first ${details.length} are listed` : "";
    throw new DocbatchError(code, `${first.path}: ${first.problem}${more}${shown}. Nothing was written.`, {
      details,
      ...(pathsRefused || badEncoding
        ? {
            hints: [
              ...(pathsRefused
                ? ["Send the documents' content inline, or start the server with --root DIR."]
                : []),
              ...(badEncoding ? [UTF8_HINT] : []),
            ],
          }
        : {}),
    });
  }
  return { records, distinct: seen.size, hasPaths };
}

/**
 * 64 bits of a native hash of everything that makes a document's output, fed part by part (a
 * content can be large; it is never copied into a bigger string).
 */
function contentFingerprint(doc: ValidDocument): Hash64 {
  const hash = createHash("md5")
    .update(doc.format)
    .update("\u0000")
    .update(canonicalJson(doc.metadata))
    .update("\u0000");
  if (doc.content !== null) hash.update("content:").update(doc.content);
  else hash.update("path:").update(doc.path ?? "");
  const digest = hash.digest();
  return { hi: digest.readUInt32BE(0), lo: digest.readUInt32BE(4) };
}
