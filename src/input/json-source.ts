import fs from "node:fs";
import { DocbatchError, type ErrorDetail } from "../core/errors.js";
import { describe } from "./document.js";
import { JsonScanner, JsonSyntaxError } from "./json-scanner.js";
import { completeUpTo, describeInvalid, firstInvalidUtf8, positionsOf } from "./utf8.js";

/**
 * A `.json` input read as a stream (src/input/json-scanner.ts): opening it checks the structure
 * and the encoding in one pass and keeps only what the top level says (`batch_id`, problems);
 * the records are read again from the file, one element at a time, from any element's offset.
 */

export interface JsonLayout {
  /** `documents` for `{"documents": [...]}`, "" for a bare array. */
  prefix: "documents" | "";
  batchId: string | null;
  /** Problems of the top level that validation reports with the documents' own. */
  problems: ErrorDetail[];
}

const READ_SIZE = 1 << 20;
/** Invalid UTF-8 sequences listed in the error (the message says how many there were). */
const MAX_ENCODING_DETAILS = 100;

/** The structure and encoding of a JSON input, checked in one streaming pass. */
export async function scanJsonLayout(file: string, label: string): Promise<JsonLayout> {
  let prefix: JsonLayout["prefix"] | null = null;
  let batchIdRaw: unknown;
  let batchIdGiven = false;
  const problems: ErrorDetail[] = [];
  let topValue: { bytes: Buffer | null; firstByte: number } | null = null;
  let documentsValue: { bytes: Buffer | null; firstByte: number } | null = null;
  // Invalid UTF-8 offsets wait here until the element they fall in is known.
  const invalid: { offset: number; element: number | null; text: string }[] = [];
  let unplaced = 0;
  let index = 0;
  const scanner = new JsonScanner(
    {
      arrayStart(_offset, p) {
        prefix = p;
      },
      element(start, end) {
        for (; unplaced < invalid.length && invalid[unplaced]!.offset < end; unplaced++) {
          if (invalid[unplaced]!.offset >= start) invalid[unplaced]!.element = index;
        }
        index += 1;
      },
      member(key, bytes, firstByte) {
        if (key === null) topValue = { bytes, firstByte };
        else if (key === "documents") {
          if (prefix === null) documentsValue = { bytes, firstByte };
          else problems.push({ path: "documents", problem: "given more than once" });
        } else if (key === "batch_id") {
          batchIdGiven = true;
          batchIdRaw = bytes ? parseMember(bytes) : "a value over 1 MiB";
        } else if (bytes) parseMember(bytes);
      },
    },
    false,
  );
  try {
    for await (const { chunk, position } of chunksOf(file, label, 0)) {
      // Listing stops at the limit: a binary file has invalid bytes by the million.
      for (let bad = firstInvalidUtf8(chunk); bad !== -1 && invalid.length < MAX_ENCODING_DETAILS; ) {
        invalid.push({ offset: position + bad, element: null, text: describeInvalid(chunk, bad) });
        let next = bad + 1;
        while (next < chunk.length && (chunk[next]! & 0xc0) === 0x80) next += 1;
        bad = next < chunk.length ? firstInvalidUtf8(chunk, next) : -1;
      }
      scanner.feed(chunk, position);
    }
    scanner.finish((await fs.promises.stat(file)).size);
  } catch (err) {
    // Invalid bytes explain a syntax error after them (a stray byte is not a JSON token).
    if (invalid.length > 0) await throwEncoding(file, label, invalid, prefix);
    await rethrowSyntax(err, file, label);
  }
  if (invalid.length > 0) await throwEncoding(file, label, invalid, prefix);
  if (topValue !== null) {
    const { bytes, firstByte } = topValue as { bytes: Buffer | null; firstByte: number };
    const value = bytes ? parseMember(bytes) : firstByte === 0x22 ? "a long string" : undefined;
    throw new DocbatchError("INVALID_INPUT", "The input must be an object with `documents`, or an array.", {
      details: [{ path: "$", problem: `must be an object or an array, got ${describe(value)}` }],
    });
  }
  if (batchIdGiven && (typeof batchIdRaw !== "string" || batchIdRaw.trim() === "")) {
    problems.unshift({
      path: "batch_id",
      problem: `must be a non-empty string, got ${describe(batchIdRaw)}`,
    });
  }
  if (prefix === null) {
    // Without a documents array nothing else can be checked.
    const given = documentsValue as { bytes: Buffer | null; firstByte: number } | null;
    const got = given === null ? undefined : given.bytes ? parseMember(given.bytes) : {};
    const all = [
      { path: "documents", problem: `required, must be an array, got ${describe(got)}` },
      ...problems,
    ];
    throw new DocbatchError("INVALID_INPUT", `${all[0]!.path}: ${all[0]!.problem}`, { details: all });
  }
  const batchId = typeof batchIdRaw === "string" && batchIdRaw.trim() !== "" ? batchIdRaw.trim() : null;
  return { prefix, batchId, problems };
}

/**
 * The elements of the documents array from byte offset `from` (0: the start of the input; else
 * just after an element, as returned in `next`). `index` is the position of the first one.
 */
export async function* readJsonElements(
  file: string,
  layout: JsonLayout,
  label: string,
  from: number,
  index: number,
): AsyncGenerator<{ raw: unknown; where: string; next: number }> {
  let ready: { start: number; end: number; bytes: Buffer }[] = [];
  const scanner = new JsonScanner(
    {
      arrayStart() {},
      element(start, end, bytes) {
        ready.push({ start, end, bytes: bytes! });
      },
      member() {},
    },
    true,
  );
  if (from > 0) scanner.resumeAfterElement(layout.prefix === "");
  const chunks = chunksOf(file, label, from);
  for (;;) {
    let step: IteratorResult<{ chunk: Buffer; position: number }>;
    try {
      step = await chunks.next();
      if (step.done) break;
      scanner.feed(step.value.chunk, step.value.position);
    } catch (err) {
      await chunks.return(undefined);
      return await rethrowSyntax(err, file, label);
    }
    const elements = ready;
    ready = [];
    for (const element of elements) {
      const text = element.bytes.toString("utf8");
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch (err) {
        const at = element.start + Buffer.byteLength(text.slice(0, parsePosition(err, text)));
        await chunks.return(undefined);
        return await rethrowSyntax(new JsonSyntaxError(at, (err as Error).message), file, label);
      }
      yield { raw, where: `${layout.prefix}[${index}]`, next: element.end };
      index += 1;
    }
  }
}

/** The file in read buffers from `from` on, each cut at the end of its last whole character. */
async function* chunksOf(
  file: string,
  label: string,
  from: number,
): AsyncGenerator<{ chunk: Buffer; position: number }> {
  const handle = await open(file, label);
  try {
    const buffer = Buffer.allocUnsafe(READ_SIZE);
    let position = from;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return;
      // A character cut by the read is read again with the next buffer; at the end of the file
      // (a short read) nothing is cut, and a truncated sequence is reported as invalid.
      const end = bytesRead === buffer.length ? completeUpTo(buffer, bytesRead) : bytesRead;
      yield { chunk: buffer.subarray(0, end), position };
      position += end;
    }
  } finally {
    await handle.close();
  }
}

async function open(file: string, label: string): Promise<fs.promises.FileHandle> {
  try {
    return await fs.promises.open(file, "r");
  } catch (err) {
    throw new DocbatchError(
      "INPUT_NOT_FOUND",
      `Cannot read ${label}: ${(err as NodeJS.ErrnoException).code}`,
      {
        details: [{ path: label, problem: "cannot be read" }],
      },
    );
  }
}

function parseMember(bytes: Buffer): unknown {
  return JSON.parse(bytes.toString("utf8"));
}

/** Character index of a JSON.parse error in `text` (its end when the message names none). */
function parsePosition(err: unknown, text: string): number {
  const message = (err as Error).message;
  const position = /position (\d+)/.exec(message);
  if (position) return Number(position[1]);
  const lineCol = /line (\d+) column (\d+)/.exec(message);
  if (lineCol) {
    let offset = 0;
    for (let line = 1; line < Number(lineCol[1]); line++) offset = text.indexOf("\n", offset) + 1;
    return offset + Number(lineCol[2]) - 1;
  }
  return text.length;
}

/** A syntax error (of the structure, or of an element) as the contract's INVALID_JSON body. */
async function rethrowSyntax(err: unknown, file: string, label: string): Promise<never> {
  if (!(err instanceof JsonSyntaxError) && !(err instanceof SyntaxError)) throw err;
  const offset = err instanceof JsonSyntaxError ? err.offset : 0;
  const [where] = await positionsOf(file, [offset]);
  throw new DocbatchError(
    "INVALID_JSON",
    `${label} is not valid JSON at line ${where!.line}, column ${where!.column}.`,
    {
      details: [
        {
          path: "$",
          problem: err instanceof JsonSyntaxError ? err.problem : err.message,
          line: where!.line,
          column: where!.column,
        },
      ],
    },
  );
}

async function throwEncoding(
  file: string,
  label: string,
  invalid: { offset: number; element: number | null; text: string }[],
  prefix: string | null,
): Promise<never> {
  const positions = await positionsOf(
    file,
    invalid.map((i) => i.offset),
  );
  const details = invalid.map((bad, k) => ({
    path: bad.element === null ? "$" : `${prefix ?? ""}[${bad.element}]`,
    line: positions[k]!.line,
    column: positions[k]!.column,
    problem: bad.text,
  }));
  const first = details[0]!;
  const more =
    invalid.length >= MAX_ENCODING_DETAILS
      ? ` (and more; the first ${invalid.length} are listed)`
      : invalid.length > 1
        ? ` (and ${invalid.length - 1} more)`
        : "";
  throw new DocbatchError(
    "INVALID_INPUT",
    `${label} is not valid UTF-8: line ${first.line}, column ${first.column}${more}. Nothing was written.`,
    {
      details,
      hints: [
        "Save the input as UTF-8: invalid bytes are never replaced, so that no id or content changes silently.",
      ],
    },
  );
}
