import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DocbatchError, type ErrorDetail } from "../core/errors.js";
import { shortDigest } from "../core/keys.js";
import { FileFilter, type FileFilterOptions } from "./file-filter.js";
import { classifyName, type NonDocumentKind } from "./file-types.js";
import { listFiles } from "./folder-listing.js";
import { readJsonElements, scanJsonLayout } from "./json-source.js";
import { type Line, readLineBatches } from "./lines.js";
import { type Containment, containment, escapesRoot } from "./load.js";

/** One record of an input, in input order, with where it is (for error details) and its offset. */
export interface InputRecord {
  raw: unknown;
  /** Detail path prefix: `documents[3]`, `line 7`, or a file's relative path. */
  where: string;
  extra: Partial<ErrorDetail>;
  /** Set when the record is not even JSON (a JSON Lines line). */
  parseError?: string;
  /** Set for a file of a folder that is not a document (by its extension): skipped, counted. */
  skipped?: NonDocumentKind;
  /** Set (with `parseError`) when the record is not valid UTF-8: an input error, not a syntax error. */
  encodingError?: true;
  /** Offset just after this record: the plan checkpoint once it is written. */
  next: number;
  /** A folder's file as its listing found it (the planner then needs no stat call of its own). */
  stat?: { size: number; mtimeMs: number; ino: number };
}

export interface InputSource {
  kind: "json" | "jsonl" | "directory";
  /** The input, resolved. */
  location: string;
  /** `path` documents resolve inside this folder only. */
  root: Containment;
  /** Which files of the folder (or of `path` documents) are read. */
  filter: FileFilter;
  /** The input's own `batch_id`, if it has one. */
  batchId: string | null;
  /** Problems of the input as a whole (e.g. a bad `batch_id`), reported by validation. */
  problems: ErrorDetail[];
  /** Changes whenever the input may have changed (size, modification time, listing). */
  fingerprint(): Promise<string>;
  /**
   * Records from an offset (0 = the start) as returned in `next`. `index` is the position in the
   * input of the record at `from` (the plan's record count), for the paths of error details.
   */
  records(from: number, index?: number): AsyncIterable<InputRecord>;
  /**
   * `records`, a few dozen at a time: for the readers that go through every record (validation,
   * planning), one step of an async iterator per batch instead of one per record.
   */
  recordBatches(from: number, index?: number): AsyncIterable<InputRecord[]>;
}

export interface OpenInputOptions extends FileFilterOptions {
  /** Absolute paths never read as documents of a directory (the store's own files). */
  storeFiles?: string[];
  /** The folder `path` documents must stay in. @default the input file's folder */
  root?: string;
  /**
   * How messages name the input (a server says "the body", not the name of its spool file).
   * @default the file's name
   */
  label?: string;
}

export async function openInput(input: string, options: OpenInputOptions = {}): Promise<InputSource> {
  const location = path.resolve(input);
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(location);
  } catch {
    throw new DocbatchError("INPUT_NOT_FOUND", `The input ${input} does not exist.`, {
      details: [{ path: input, problem: "not found" }],
    });
  }
  if (stat.isDirectory()) {
    return openDirectory(location, options.storeFiles ?? [], FileFilter.forFolder(location, options));
  }
  const ext = path.extname(location).toLowerCase();
  const root = options.root ?? path.dirname(location);
  const filter = FileFilter.forFolder(root, options);
  if (ext === ".jsonl" || ext === ".ndjson") return openJsonLines(location, root, filter);
  if (ext === ".json") return openJson(location, root, filter, options.label ?? path.basename(location));
  throw new DocbatchError(
    "INVALID_INPUT",
    `Cannot read ${input}: unsupported input type \`${ext || "(none)"}\`.`,
    {
      details: [{ path: input, problem: "expected a .json, .jsonl or .ndjson file, or a directory" }],
      hints: ['Give a .json file ({"documents": [...]} or an array), a .jsonl/.ndjson file, or a directory.'],
    },
  );
}

/**
 * The batch id of an input without one: the folder's (or file's) name, readable
 * (`docs` for ~/corpus/docs). When the store holds a batch of that name planned from another
 * input, the name gets a short digest of this input's path (`docs-54aa3503`), which is also the id
 * earlier versions gave every input, so their batches are found again. Stable: a re-run of the same
 * input finds the same batch.
 */
export async function defaultBatchId(
  source: InputSource,
  inputOf: (batchId: string) => Promise<string | null>,
): Promise<string> {
  if (source.batchId) return source.batchId;
  const base =
    path
      .basename(source.location)
      .replace(/\.(jsonl|ndjson|json)$/i, "")
      .replace(/[^\w.-]+/g, "_")
      .replace(/^[._-]+/, "") || "batch";
  const suffixed = `${base}-${shortDigest(source.location, 8)}`;
  const owner = await inputOf(base);
  if (owner === source.location) return base;
  if ((await inputOf(suffixed)) !== null || owner !== null) return suffixed;
  return base;
}

/**
 * What changes whenever an input file may have changed: its path, size and modification time, and
 * the choice of files its `path` documents may name.
 */
export async function fileFingerprint(kind: string, file: string, filter: FileFilter): Promise<string> {
  const stat = await fs.promises.stat(file);
  return `${kind}|${file}|${stat.size}|${stat.mtimeMs}|${filter.description}`;
}

async function openJson(
  location: string,
  rootDir: string,
  filter: FileFilter,
  label: string,
): Promise<InputSource> {
  const layout = await scanJsonLayout(location, label);
  async function* records(from: number, index = 0): AsyncGenerator<InputRecord> {
    for await (const element of readJsonElements(location, layout, label, from, index)) {
      yield { ...element, extra: {} };
    }
  }
  return {
    kind: "json",
    location,
    root: containment(rootDir),
    filter,
    batchId: layout.batchId,
    problems: layout.problems,
    fingerprint: () => fileFingerprint("json", location, filter),
    records,
    recordBatches: (from: number, index = 0) => inBatches(records(from, index)),
  };
}

async function openJsonLines(location: string, rootDir: string, filter: FileFilter): Promise<InputSource> {
  async function* recordBatches(from: number): AsyncGenerator<InputRecord[]> {
    for await (const lines of readLineBatches(location, from)) {
      const records: InputRecord[] = [];
      for (const line of lines)
        if (line.invalidUtf8 !== undefined || line.text.trim() !== "") records.push(lineRecord(line));
      if (records.length > 0) yield records;
    }
  }
  return {
    kind: "jsonl",
    location,
    root: containment(rootDir),
    filter,
    batchId: null,
    problems: [],
    fingerprint: () => fileFingerprint("jsonl", location, filter),
    async *records(from: number) {
      for await (const records of recordBatches(from)) yield* records;
    },
    recordBatches,
  };
}

/** A JSON Lines line (not blank) as a record: its document, or why it is not one. */
function lineRecord(line: Line): InputRecord {
  const where = `line ${line.number}`;
  if (line.invalidUtf8 !== undefined) {
    return {
      raw: null,
      where,
      extra: { line: line.number, column: line.invalidUtf8.column },
      parseError: line.invalidUtf8.problem,
      encodingError: true,
      next: line.next,
    };
  }
  try {
    return { raw: JSON.parse(line.text), where, extra: { line: line.number }, next: line.next };
  } catch (err) {
    return {
      raw: null,
      where,
      extra: { line: line.number },
      parseError: (err as Error).message,
      next: line.next,
    };
  }
}

/** Records per batch of `recordBatches` for a JSON file or a folder. */
const RECORD_BATCH = 256;

/** Records of a source that reads one at a time, grouped for `recordBatches`. */
async function* inBatches(records: AsyncIterable<InputRecord>): AsyncGenerator<InputRecord[]> {
  let batch: InputRecord[] = [];
  for await (const record of records) {
    batch.push(record);
    if (batch.length >= RECORD_BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

async function openDirectory(
  location: string,
  storeFiles: string[],
  filter: FileFilter,
): Promise<InputSource> {
  const root = containment(location);
  const excluded = new Set(
    storeFiles.flatMap((file) => [file, `${file}-wal`, `${file}-shm`, `${file}-journal`, `${file}-spool`]),
  );
  const files = await listFiles(location, excluded, filter);
  /** The folder's `i`th file as a record: a document, a file skipped by its kind, or a refused link. */
  const recordOf = (i: number): InputRecord => {
    const file = files[i]!;
    const escaped = file.symlink ? escapesRoot(root, file.rel) : null;
    const byName = classifyName(file.rel);
    if (escaped) return { raw: null, where: file.rel, extra: {}, parseError: escaped, next: i + 1 };
    if (byName !== "document" && byName !== "unknown") {
      return { raw: null, where: file.rel, extra: {}, skipped: byName, next: i + 1 };
    }
    return {
      raw: { id: file.rel, source: "fs", path: file.rel },
      where: file.rel,
      extra: {},
      next: i + 1,
      stat: { size: file.size, mtimeMs: file.mtimeMs, ino: file.ino },
    };
  };
  return {
    kind: "directory",
    location,
    root,
    filter,
    batchId: null,
    problems: [],
    async fingerprint() {
      const hash = createHash("sha256").update(`directory|${location}|${filter.description}`);
      // Hashed a thousand files per update: one update per file cost more than the hashing.
      for (let i = 0; i < files.length; i += 1_000) {
        let text = "";
        for (const file of files.slice(i, i + 1_000)) text += `\n${file.rel}|${file.size}|${file.mtimeMs}`;
        hash.update(text);
      }
      return hash.digest("hex");
    },
    async *records(from: number) {
      for (let i = from; i < files.length; i++) yield recordOf(i);
    },
    async *recordBatches(from: number) {
      for (let i = from; i < files.length; i += RECORD_BATCH) {
        yield Array.from({ length: Math.min(RECORD_BATCH, files.length - i) }, (_, k) => recordOf(i + k));
      }
    },
  };
}
