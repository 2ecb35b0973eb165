import { DocbatchError, type ErrorDetail } from "../core/errors.js";
import { type Hash64, Hash64Builder, hash64, IdentityMap } from "../core/identity-map.js";
import { canonicalJson } from "../core/keys.js";
import { checkDocument, identity, type ValidDocument } from "./document.js";
import { escapesRoot } from "./load.js";
import type { InputRecord, InputSource } from "./sources.js";

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
  const checks = new InputChecks(source, options);
  await checkRecords(checks, 0, Number.POSITIVE_INFINITY);
  checks.throwIfAny();
  return { records: checks.records, distinct: checks.distinct, hasPaths: checks.hasPaths };
}

/** What one part of a JSON Lines file holds (see `validatePart`). */
export interface PartValidation {
  /** No problem inside the part. */
  clean: boolean;
  hasPaths: boolean;
  /** The part's identities (an `IdentityMap`'s table), for `IdentityMap.agreesWith`. */
  identities: Uint32Array;
}

/**
 * Checks the lines of a JSON Lines file from byte `from` (a line's start) to byte `to`, for a
 * validation split in parts that run at once: each finds the problems and duplicates inside it,
 * the caller those between the parts (from their identities). Line numbers count from the
 * part's start, so a part only says whether it found a problem; the caller then validates the
 * whole input for the error.
 */
export async function validatePart(
  source: InputSource,
  from: number,
  to: number,
  options: ValidateOptions = {},
): Promise<PartValidation> {
  const checks = new InputChecks(source, options);
  await checkRecords(checks, from, to);
  return { clean: checks.clean, hasPaths: checks.hasPaths, identities: checks.identities };
}

/** Checks the records from offset `from` that end at `to` at the latest (offsets as in `next`). */
async function checkRecords(checks: InputChecks, from: number, to: number): Promise<void> {
  if (from === 0) for (const problem of checks.source.problems) checks.report(problem, "rule");
  for await (const records of checks.source.recordBatches(from)) {
    for (const record of records) {
      if (record.next > to) return;
      checks.records += 1;
      // The batches of one read (and in-memory inputs) come without I/O; let signals and timers in.
      if (checks.records % 2_000 === 0) await new Promise((resolve) => setImmediate(resolve));
      checks.check(record, checks.records - 1);
    }
  }
}

type ProblemKind = "syntax" | "duplicate" | "rule";

/** The problems found while reading an input, and what it holds; one error for all of them. */
class InputChecks {
  records = 0;
  hasPaths = false;
  private readonly details: ErrorDetail[] = [];
  private problemCount = 0;
  private syntaxOnly = true;
  private duplicatesOnly = true;
  private pathsRefused = false;
  private badEncoding = false;
  private readonly seen = new IdentityMap();
  private readonly firstWhere = new Map<number, string>();

  constructor(
    readonly source: InputSource,
    private readonly options: ValidateOptions,
  ) {}

  get distinct(): number {
    return this.seen.size;
  }

  get clean(): boolean {
    return this.problemCount === 0;
  }

  get identities(): Uint32Array {
    return this.seen.table;
  }

  report(detail: ErrorDetail, kind: ProblemKind): void {
    this.problemCount += 1;
    if (kind !== "syntax") this.syntaxOnly = false;
    if (kind !== "duplicate") this.duplicatesOnly = false;
    if (this.details.length < MAX_DETAILS) this.details.push(detail);
  }

  /** Checks one record: its syntax, its fields, its file, and its identity against the others. */
  check(record: InputRecord, position: number): void {
    // A file of a folder that is not a document: skipped when planned, nothing to check.
    if (record.skipped) return;
    if (record.parseError !== undefined) {
      this.reportUnreadable(record);
      return;
    }
    const { doc, problems } = checkDocument(record.raw, record.where, record.extra);
    for (const p of problems) this.report(p, "rule");
    if (!doc) return;
    // A `path` document the file filter leaves out is not read, so its file is not checked.
    if (doc.path !== null && this.source.kind !== "directory" && !this.source.filter.includes(doc.path))
      return;
    if (doc.path !== null && !this.pathAllowed(doc.path, record)) return;
    this.checkIdentity(doc, record, position);
  }

  private reportUnreadable(record: InputRecord): void {
    // Invalid UTF-8 is an input error (INVALID_INPUT), not a syntax error.
    const asRule = this.source.kind === "directory" || Boolean(record.encodingError);
    if (record.encodingError) this.badEncoding = true;
    const problem = asRule ? record.parseError! : `not valid JSON: ${record.parseError}`;
    this.report({ path: record.where, problem, ...record.extra }, asRule ? "rule" : "syntax");
  }

  private pathAllowed(path: string, record: InputRecord): boolean {
    this.hasPaths = true;
    if (this.options.allowPaths === false) {
      this.pathsRefused = true;
      const problem = "path documents are disabled here; send content";
      this.report({ path: `${record.where}.path`, problem, ...record.extra }, "rule");
      return false;
    }
    // A folder's listing refused its symlinks that lead outside (a parse error above), and a
    // file it reached otherwise is inside: it never enters a folder symlink. Resolving every
    // file again was two thirds of validating a large folder.
    const escaped = this.source.kind === "directory" ? null : escapesRoot(this.source.root, path);
    if (escaped) this.report({ path: `${record.where}.path`, problem: escaped, ...record.extra }, "rule");
    return !escaped;
  }

  private checkIdentity(doc: ValidDocument, record: InputRecord, position: number): void {
    const fingerprint = contentFingerprint(doc);
    const previous = this.seen.putIfAbsent(hash64(identity(doc)), fingerprint, position);
    if (previous === null) {
      // Kept only for the message of a conflict; positions of clean inputs are never looked up.
      if (this.firstWhere.size < 100_000) this.firstWhere.set(position, record.where);
      return;
    }
    if (previous.value.hi === fingerprint.hi && previous.value.lo === fingerprint.lo) return;
    const first = this.firstWhere.get(previous.position) ?? `record ${previous.position + 1}`;
    const problem = `duplicate id \`${doc.docId}\` (source \`${doc.source}\`) with different content; first at ${first}`;
    this.report({ path: `${record.where}.id`, problem, ...record.extra }, "duplicate");
  }

  /** One error for every problem found: the contract rejects an invalid input as a whole. */
  throwIfAny(): void {
    if (this.problemCount === 0) return;
    const { details, problemCount } = this;
    const first = details[0]!;
    const code = this.syntaxOnly ? "INVALID_JSON" : this.duplicatesOnly ? "DUPLICATE_ID" : "INVALID_INPUT";
    const more =
      problemCount > 1 ? ` (and ${problemCount - 1} more problem${problemCount > 2 ? "s" : ""})` : "";
    const shown = problemCount > details.length ? `; the first ${details.length} are listed` : "";
    const hints = [
      ...(this.pathsRefused
        ? ["Send the documents' content inline, or start the server with --root DIR."]
        : []),
      ...(this.badEncoding ? [UTF8_HINT] : []),
    ];
    throw new DocbatchError(code, `${first.path}: ${first.problem}${more}${shown}. Nothing was written.`, {
      details,
      ...(hints.length > 0 ? { hints } : {}),
    });
  }
}

/**
 * 64 bits of a hash of everything that makes a document's output, fed part by part (a content can
 * be large; it is never copied into a bigger string).
 */
function contentFingerprint(doc: ValidDocument): Hash64 {
  const hash = new Hash64Builder().update(doc.format).update("\u0000");
  hash.update(canonicalJson(doc.metadata)).update("\u0000");
  if (doc.content !== null) hash.update("content:").update(doc.content);
  else hash.update("path:").update(doc.path ?? "");
  return hash.digest();
}
