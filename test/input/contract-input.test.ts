/**
 * The Input section of CONTRACT.md, driven only through the built CLI: every rule that an input can
 * break gets exit 2, the error body with details pointing at the problem, and leaves a batch that is
 * already in the same store exactly as it was. The accepted side (BOM, CRLF, blank lines, exact
 * duplicates, normalization, directories) is checked against a store of its own.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines, runCli, tempDir } from "../helpers/cli.js";
import {
  type DetailMatch,
  expectCliError,
  expectDetail,
  expectNoBatch,
  type StoreSnapshot,
  snapshotBatch,
  withBom,
  writeFile,
  writeJson,
} from "../helpers/fixtures.js";

const GOOD = [
  { id: "g1", content: "First good document." },
  { id: "g2", content: "Second good document.\nWith two lines." },
  { id: "g3", source: "wiki", content: "# Title\n\nSome markdown.", format: "markdown" },
  { id: "g4", content: "<p>Some <b>html</b></p>", format: "html", metadata: { lang: "en" } },
  { id: "g5", content: "Fifth good document." },
];

/** Two valid documents, then `bad`: the first bad document is `documents[2]`. */
function objectForm(...bad: unknown[]): string {
  return JSON.stringify({
    documents: [{ id: "ok-a", content: "fine" }, { id: "ok-b", content: "also fine" }, ...bad],
  });
}

interface Ctx {
  /** The folder of every input file (and of the store). */
  dir: string;
  /** A folder outside `dir`, holding secret.txt. */
  outside: string;
}

interface RejectCase {
  name: string;
  /** File name inside the input folder. */
  file: string;
  /** The file's bytes; omitted: the file is not written. */
  data?: string | Buffer | ((ctx: Ctx) => string | Buffer);
  /** `--batch-id`; "keep" targets the existing batch. */
  batchId?: string;
  /** A batch id that must still be absent afterwards (the case's own batch id). */
  absent?: string;
  codes: readonly string[];
  details: DetailMatch[];
  /** At least this many details. */
  minDetails?: number;
}

const INVALID = ["INVALID_INPUT"] as const;
const SYNTAX = ["INVALID_JSON", "INVALID_INPUT"] as const;

const TRAILING_COMMA =
  '{"documents": [\n  {"id": "a", "content": "x"},\n  {"id": "b", "content": "y",}\n]}\n';

const CASES: RejectCase[] = [
  {
    name: "missing id",
    file: "missing-id.json",
    data: objectForm({ content: "no id" }),
    batchId: "keep",
    codes: INVALID,
    details: [{ path: "documents[2].id" }],
  },
  {
    name: "id that is not a string (number, array)",
    file: "id-type.json",
    data: objectForm({ id: 42, content: "x" }, { id: ["a"], content: "y" }),
    batchId: "own-id-type",
    absent: "own-id-type",
    codes: INVALID,
    details: [{ path: "documents[2].id" }, { path: "documents[3].id" }],
  },
  {
    name: 'id empty after normalization ("   ", "", tabs and newlines)',
    file: "id-empty.json",
    data: objectForm({ id: "   ", content: "x" }, { id: "", content: "y" }, { id: "\t\n ", content: "z" }),
    batchId: "keep",
    codes: INVALID,
    details: [{ path: "documents[2].id" }, { path: "documents[3].id" }, { path: "documents[4].id" }],
  },
  {
    name: "source that is not a string",
    file: "source-type.json",
    data: objectForm({ id: "s", source: 7, content: "x" }, { id: "t", source: { a: 1 }, content: "y" }),
    batchId: "own-source",
    absent: "own-source",
    codes: INVALID,
    details: [{ path: "documents[2].source" }, { path: "documents[3].source" }],
  },
  {
    name: "neither content nor path",
    file: "neither.json",
    data: objectForm({ id: "n" }),
    batchId: "keep",
    codes: INVALID,
    details: [{ path: ["documents[2].content", "documents[2].path", "documents[2]"] }],
  },
  {
    name: "both content and path",
    file: "both.json",
    data: objectForm({ id: "b", content: "x", path: "inside.txt" }),
    batchId: "own-both",
    absent: "own-both",
    codes: INVALID,
    details: [{ path: ["documents[2].content", "documents[2].path", "documents[2]"] }],
  },
  {
    name: "content that is not a string (number, object, array)",
    file: "content-type.json",
    data: objectForm(
      { id: "c1", content: 12 },
      { id: "c2", content: { text: "x" } },
      { id: "c3", content: ["x"] },
    ),
    batchId: "keep",
    codes: INVALID,
    details: [
      { path: "documents[2].content" },
      { path: "documents[3].content" },
      { path: "documents[4].content" },
    ],
  },
  {
    name: "path that is not a string",
    file: "path-type.json",
    data: objectForm({ id: "p1", path: 12 }, { id: "p2", path: ["inside.txt"] }),
    batchId: "own-path-type",
    absent: "own-path-type",
    codes: INVALID,
    details: [{ path: "documents[2].path" }, { path: "documents[3].path" }],
  },
  {
    name: "absolute path (even to a file inside the folder)",
    file: "path-absolute.json",
    data: ({ dir }) =>
      objectForm({ id: "abs1", path: path.join(dir, "inside.txt") }, { id: "abs2", path: "/etc/hostname" }),
    batchId: "keep",
    codes: INVALID,
    details: [{ path: "documents[2].path" }, { path: "documents[3].path" }],
  },
  {
    name: "path with .. escaping the folder",
    file: "path-dotdot.json",
    data: objectForm({ id: "up1", path: "../outside.txt" }, { id: "up2", path: "sub/../../outside.txt" }),
    batchId: "own-dotdot",
    absent: "own-dotdot",
    codes: INVALID,
    details: [{ path: "documents[2].path" }, { path: "documents[3].path" }],
  },
  {
    name: "path through a symlink that escapes the folder (file link, folder link)",
    file: "path-symlink.json",
    data: objectForm({ id: "ln1", path: "escape.txt" }, { id: "ln2", path: "outdir/secret.txt" }),
    batchId: "keep",
    codes: INVALID,
    details: [{ path: "documents[2].path" }, { path: "documents[3].path" }],
  },
  {
    name: "format not one of text/markdown/html/json/pdf/docx",
    file: "format.json",
    data: objectForm({ id: "f1", content: "x", format: "rtf" }, { id: "f2", content: "y", format: 3 }),
    batchId: "own-format",
    absent: "own-format",
    codes: INVALID,
    details: [{ path: "documents[2].format" }, { path: "documents[3].format" }],
  },
  {
    name: "metadata that is not an object (array, string, number)",
    file: "metadata.json",
    data: objectForm(
      { id: "m1", content: "x", metadata: ["a"] },
      { id: "m2", content: "y", metadata: "tag" },
      { id: "m3", content: "z", metadata: 5 },
    ),
    batchId: "keep",
    codes: INVALID,
    details: [
      { path: "documents[2].metadata" },
      { path: "documents[3].metadata" },
      { path: "documents[4].metadata" },
    ],
  },
  {
    name: "a document that is not an object (number, string, null, array)",
    file: "not-object.json",
    data: objectForm(5, "doc", null, [{ id: "x", content: "y" }]),
    batchId: "own-not-object",
    absent: "own-not-object",
    codes: INVALID,
    details: [
      { path: "documents[2]" },
      { path: "documents[3]" },
      { path: "documents[4]" },
      { path: "documents[5]" },
    ],
  },
  {
    name: "a document that is not an object, in a bare array",
    file: "not-object-array.json",
    data: JSON.stringify([{ id: "a", content: "x" }, true]),
    batchId: "keep",
    codes: INVALID,
    details: [{ path: /^(?:\$|documents)?\[1\]$/ }],
  },
  {
    name: "documents missing in the object form",
    file: "no-documents.json",
    data: JSON.stringify({ batch_id: "from-file-nodocs", docs: [{ id: "a", content: "x" }] }),
    absent: "from-file-nodocs",
    codes: INVALID,
    details: [{ path: "documents" }],
  },
  {
    name: "documents not an array in the object form",
    file: "documents-object.json",
    data: JSON.stringify({ batch_id: "from-file-docobj", documents: { a: { id: "a", content: "x" } } }),
    absent: "from-file-docobj",
    codes: INVALID,
    details: [{ path: "documents" }],
  },
  {
    name: "top level neither an object nor an array",
    file: "top-string.json",
    data: JSON.stringify("documents"),
    batchId: "keep",
    codes: INVALID,
    details: [{ path: /./ }],
  },
  {
    name: "batch_id not a string",
    file: "batch-id-type.json",
    data: JSON.stringify({ batch_id: 42, documents: [{ id: "a", content: "x" }] }),
    absent: "42",
    codes: INVALID,
    details: [{ path: "batch_id" }],
  },
  {
    name: "batch_id not a string, reported together with the documents' problems",
    file: "batch-id-and-docs.json",
    data: JSON.stringify({
      batch_id: 7,
      documents: [{ content: "no id" }, { id: "b", content: "x", format: "rtf" }],
    }),
    batchId: "keep",
    codes: INVALID,
    details: [{ path: "batch_id" }, { path: "documents[0].id" }, { path: "documents[1].format" }],
  },
  {
    name: "batch_id not a string (array), with --batch-id keep",
    file: "batch-id-array.json",
    data: JSON.stringify({ batch_id: ["keep"], documents: [{ id: "a", content: "x" }] }),
    batchId: "keep",
    codes: INVALID,
    details: [{ path: "batch_id" }],
  },
  {
    name: "same (source, id) twice with different content",
    file: "dup.json",
    data: objectForm({ id: "ok-a", content: "not fine" }),
    batchId: "keep",
    codes: ["DUPLICATE_ID"],
    details: [{ path: "documents[2].id" }],
  },
  {
    name: "same (source, id) twice with different content, explicit source",
    file: "dup-source.json",
    data: objectForm(
      { id: "w", source: "wiki", content: "one" },
      { id: "w", source: "wiki", content: "two" },
    ),
    batchId: "own-dup-source",
    absent: "own-dup-source",
    codes: ["DUPLICATE_ID"],
    details: [{ path: "documents[3].id" }],
  },
  {
    name: "ids differing only by surrounding whitespace, different content",
    file: "dup-space.json",
    data: objectForm({ id: "  ok-b\t", content: "changed" }),
    batchId: "own-dup-space",
    absent: "own-dup-space",
    codes: ["DUPLICATE_ID"],
    details: [{ path: "documents[2].id" }],
  },
  {
    name: "ids differing only by NFC vs NFD, different content",
    file: "dup-nfd.json",
    data: objectForm({ id: "caf\u00e9", content: "one" }, { id: "cafe\u0301", content: "two" }),
    batchId: "keep",
    codes: ["DUPLICATE_ID"],
    details: [{ path: "documents[3].id" }],
  },
  {
    name: "same id twice in JSONL with different content (detail has the line)",
    file: "dup.jsonl",
    data: '{"id":"a","content":"x"}\n{"id":"b","content":"y"}\n{"id":" a ","content":"z"}\n',
    batchId: "own-dup-jsonl",
    absent: "own-dup-jsonl",
    codes: ["DUPLICATE_ID"],
    details: [{ line: 3 }],
  },
  {
    name: "invalid JSON syntax in a .json file (line and column)",
    file: "syntax.json",
    data: TRAILING_COMMA,
    batchId: "own-syntax",
    absent: "own-syntax",
    codes: ["INVALID_JSON"],
    details: [{ line: 3, column: TRAILING_COMMA.split("\n")[2]!.indexOf(",}") + 2 }],
  },
  {
    name: "invalid JSON syntax after a BOM and CRLF line endings (line and column)",
    file: "syntax-bom-crlf.json",
    data: withBom('{"documents": [\r\n{"id": "a", "content": "x"},\r\n{"id": "b" "content": "y"}\r\n]}'),
    batchId: "keep",
    codes: ["INVALID_JSON"],
    details: [{ line: 3, column: '{"id": "b" "content": "y"}'.indexOf(' "content"') + 2 }],
  },
  {
    name: "truncated JSON",
    file: "truncated.json",
    data: '{"documents": [{"id": "a", "content": "x"},',
    batchId: "own-truncated",
    absent: "own-truncated",
    codes: ["INVALID_JSON"],
    // The contract asks details to locate the problem; here the end of the input is the place.
    details: [{ path: /./ }],
  },
  {
    name: "empty .json file",
    file: "empty.json",
    data: "",
    batchId: "keep",
    codes: ["INVALID_JSON", "INVALID_INPUT"],
    details: [{ path: /./ }],
  },
  {
    name: "JSONL with a line 3 that is not JSON",
    file: "bad-line-3.jsonl",
    data: '{"id":"a","content":"x"}\n{"id":"b","content":"y"}\n{"id": "c", content: z}\n{"id":"d","content":"w"}\n',
    batchId: "keep",
    codes: SYNTAX,
    details: [{ line: 3 }],
  },
  {
    name: "JSONL with a line 4 that is a JSON object breaking a rule (after a BOM, CRLF and a blank line 2)",
    file: "bad-line-4.jsonl",
    data: withBom(
      '{"id":"a","content":"x"}\r\n\r\n{"id":"b","content":"y"}\r\n{"id":"c","content":"z","format":"rtf"}\r\n',
    ),
    batchId: "own-line-4",
    absent: "own-line-4",
    codes: INVALID,
    details: [{ line: 4, path: /format/ }],
  },
  {
    name: "NDJSON with a line that is JSON but not an object",
    file: "not-object.ndjson",
    data: '{"id":"a","content":"x"}\n["b","y"]\n"c"\n',
    batchId: "keep",
    codes: INVALID,
    details: [{ line: 2 }, { line: 3 }],
  },
  {
    name: "several problems in one .json input: every problem listed",
    file: "several.json",
    data: JSON.stringify({
      documents: [
        { id: "d0", content: "x" },
        { content: "no id" },
        { id: "d2", content: "x", format: "rtf", metadata: [1] },
        7,
        { id: "d4", path: "../outside.txt" },
        { id: "d0", content: "different" },
        { id: "d6", content: "a", path: "inside.txt" },
        { id: "d7", source: 1, content: "x" },
      ],
    }),
    batchId: "keep",
    codes: INVALID,
    minDetails: 8,
    details: [
      { path: "documents[1].id" },
      { path: "documents[2].format" },
      { path: "documents[2].metadata" },
      { path: "documents[3]" },
      { path: "documents[4].path" },
      { path: "documents[5].id" },
      { path: ["documents[6].content", "documents[6].path", "documents[6]"] },
      { path: "documents[7].source" },
    ],
  },
  {
    name: "several problems in one JSONL input: every problem listed with its line",
    file: "several.jsonl",
    data: [
      '{"id":"a","content":"x"}',
      "{not json",
      "",
      '{"id":"b","content":"y"}',
      '{"content":"no id"}',
      '{"id":"c","content":"z","format":"doc"}',
      '{"id":"a","content":"other"}',
      "5",
    ].join("\n"),
    batchId: "own-several-jsonl",
    absent: "own-several-jsonl",
    codes: INVALID,
    minDetails: 5,
    details: [{ line: 2 }, { line: 5 }, { line: 6 }, { line: 7 }, { line: 8 }],
  },
  {
    name: "input path that does not exist",
    file: "does-not-exist.json",
    batchId: "own-missing",
    absent: "own-missing",
    codes: ["INPUT_NOT_FOUND"],
    details: [{ path: /does-not-exist\.json/ }],
  },
  {
    name: "unsupported input extension (.txt)",
    file: "notes.txt",
    data: '{"documents": []}',
    batchId: "keep",
    codes: ["INVALID_INPUT", "USAGE"],
    details: [{ path: /notes\.txt/ }],
  },
];

describe("rejected inputs leave the store unchanged (CONTRACT.md, Input)", () => {
  const ctx: Ctx = { dir: "", outside: "" };
  let db = "";
  let baseline: StoreSnapshot;

  beforeAll(async () => {
    ctx.dir = tempDir("docbatch-input-");
    ctx.outside = tempDir("docbatch-outside-");
    fs.writeFileSync(path.join(ctx.outside, "secret.txt"), "outside the folder\n");
    writeFile(ctx.dir, "inside.txt", "inside the folder\n");
    fs.symlinkSync(path.join(ctx.outside, "secret.txt"), path.join(ctx.dir, "escape.txt"));
    fs.symlinkSync(ctx.outside, path.join(ctx.dir, "outdir"));
    db = path.join(ctx.dir, "s.db");
    const good = writeJson(ctx.dir, "good.json", { documents: GOOD });
    const first = await runCli(["run", good, "--db", db, "--batch-id", "keep", "--no-progress", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout) as { counts: Record<string, number> };
    expect(report.counts).toMatchObject({ total: 5, done: 5, failed: 0, pending: 0 });
    baseline = await snapshotBatch(db, "keep");
    expect(jsonLines(baseline.exported).length).toBeGreaterThanOrEqual(5);
  });

  afterAll(() => {
    fs.rmSync(ctx.dir, { recursive: true, force: true });
    fs.rmSync(ctx.outside, { recursive: true, force: true });
  });

  /** The "keep" batch as it was, and the case's own batch never planned. */
  async function expectUnchanged(absent?: string): Promise<void> {
    const [after] = await Promise.all([
      snapshotBatch(db, "keep", { batches: false }),
      absent ? expectNoBatch(db, absent) : null,
    ]);
    expect(after.report.counts).toEqual(baseline.report.counts);
    expect(after.report).toEqual(baseline.report);
    expect(after.exported).toBe(baseline.exported);
  }

  it.each(CASES)("$name: exit 2, error body, store unchanged", async (c) => {
    const file = path.join(ctx.dir, c.file);
    if (c.data !== undefined) writeFile(ctx.dir, c.file, typeof c.data === "function" ? c.data(ctx) : c.data);
    const args = ["run", file, "--db", db, "--no-progress"];
    if (c.batchId) args.push("--batch-id", c.batchId);
    const result = await runCli(args);
    const error = expectCliError(result, c.codes);
    for (const want of c.details) expectDetail(error, want);
    if (c.minDetails !== undefined) expect(error.details.length).toBeGreaterThanOrEqual(c.minDetails);
    expect(result.stdout).not.toMatch(/"counts"/);
    await expectUnchanged(c.absent);
  });

  it("rejects a bad input given with --json the same way (nothing on stdout)", async () => {
    const file = writeFile(ctx.dir, "json-flag.json", objectForm({ id: 1, content: "x" }));
    const result = await runCli(["run", file, "--db", db, "--batch-id", "keep", "--no-progress", "--json"]);
    expectDetail(expectCliError(result, INVALID), { path: "documents[2].id" });
    expect(result.stdout.trim()).toBe("");
    await expectUnchanged();
  });

  it("rejects a run without INPUT, or with two, as a usage error", async () => {
    const none = await runCli(["run", "--db", db, "--no-progress"]);
    expectCliError(none, "USAGE");
    const two = await runCli([
      "run",
      path.join(ctx.dir, "good.json"),
      path.join(ctx.dir, "inside.txt"),
      "--db",
      db,
    ]);
    expectCliError(two, "USAGE");
    await expectUnchanged();
  });

  it("never creates a store for a rejected input", async () => {
    const bad = writeFile(ctx.dir, "fresh-bad.json", objectForm({ id: "   ", content: "x" }));
    const freshDb = path.join(ctx.dir, "fresh", "new.db");
    const result = await runCli(["run", bad, "--db", freshDb, "--no-progress"]);
    expectDetail(expectCliError(result, INVALID), { path: "documents[2].id" });
    expect(fs.existsSync(path.dirname(freshDb))).toBe(false);
    const syntax = writeFile(ctx.dir, "fresh-syntax.jsonl", '{"id":"a","content":"x"}\nnope\n');
    const second = await runCli(["run", syntax, "--db", freshDb, "--no-progress"]);
    expectDetail(expectCliError(second, SYNTAX), { line: 2 });
    expect(fs.existsSync(freshDb)).toBe(false);
  });

  it("validates a large JSON Lines input (on a thread of its own) with the same errors, line numbers included", async () => {
    // Past 16 MiB the input is validated on a thread: its errors must read exactly the same.
    const line = (i: number, id = `d${i}`, content = `document ${i} ${"x".repeat(1_000)}`) =>
      JSON.stringify({ id, source: "s", content });
    const lines = Array.from({ length: 17_000 }, (_, i) => line(i));
    lines[16_000] = "{not json";
    lines[16_500] = line(16_500, "d3", "other content");
    const big = writeFile(ctx.dir, "big-bad.jsonl", `${lines.join("\n")}\n`);
    expect(fs.statSync(big).size).toBeGreaterThan(16 * 1024 * 1024);
    const freshDb = path.join(ctx.dir, "big", "new.db");
    const result = await runCli(["run", big, "--db", freshDb, "--no-progress"]);
    const body = expectCliError(result, [...SYNTAX, "DUPLICATE_ID"]);
    expectDetail(body, { line: 16_001 });
    expectDetail(body, { line: 16_501 });
    expect(fs.existsSync(path.dirname(freshDb))).toBe(false);
    await expectUnchanged();
  }, 60_000);

  it("finds a large JSON Lines input's conflicting ids when one is in each half it is validated in", async () => {
    // Past 16 MiB the two halves of the file are validated at once; a conflict between them is
    // found when their identities meet, and reported as the whole file's validation reports it.
    const line = (i: number, id = `d${i}`, content = `document ${i} ${"x".repeat(1_000)}`) =>
      JSON.stringify({ id, source: "s", content });
    const lines = Array.from({ length: 17_000 }, (_, i) => line(i));
    lines[16_500] = line(16_500, "d3", "other content");
    const big = writeFile(ctx.dir, "big-conflict.jsonl", `${lines.join("\n")}\n`);
    const freshDb = path.join(ctx.dir, "big-conflict", "new.db");
    const result = await runCli(["run", big, "--db", freshDb, "--no-progress"]);
    const body = expectCliError(result, "DUPLICATE_ID");
    expectDetail(body, { line: 16_501 });
    expect(body.message).toContain("first at line 4");
    expect(body.details).toHaveLength(1);
    expect(fs.existsSync(path.dirname(freshDb))).toBe(false);
    await expectUnchanged();
  }, 60_000);

  // Runs last: no rejected input (with or without --batch-id) added a batch or changed one.
  it("after all rejected inputs, the store lists exactly the batches it had", async () => {
    const after = await snapshotBatch(db, "keep");
    expect(after.batches).toEqual(baseline.batches);
    expect(after.report).toEqual(baseline.report);
    expect(after.exported).toBe(baseline.exported);
  });
});

describe("accepted inputs (CONTRACT.md, Input and Idempotency)", () => {
  let dir = "";
  let db = "";

  beforeAll(() => {
    dir = tempDir("docbatch-accept-");
    db = path.join(dir, "store", "a.db");
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  interface Counts {
    total: number;
    done: number;
    degraded: number;
    failed: number;
    duplicates_skipped: number;
  }

  async function runOk(input: string, batchId?: string): Promise<{ batchId: string; counts: Counts }> {
    const args = ["run", input, "--db", db, "--no-progress", "--json"];
    if (batchId) args.push("--batch-id", batchId);
    const result = await runCli(args);
    expect(result.stderr).not.toMatch(/^\s+at\s/m);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { batch_id: string; counts: Counts };
    expect(report.counts.failed).toBe(0);
    expect(report.counts.done + report.counts.degraded).toBe(report.counts.total);
    return { batchId: report.batch_id, counts: report.counts };
  }

  async function exported(batchId: string): Promise<Record<string, unknown>[]> {
    const result = await runCli(["export", "--batch-id", batchId, "--db", db]);
    expect(result.code, result.stderr).toBe(0);
    return jsonLines(result.stdout);
  }

  function ids(chunks: Record<string, unknown>[]): string[] {
    return [...new Set(chunks.map((c) => `${c.source as string}/${c.doc_id as string}`))].sort();
  }

  const THREE = [
    { id: "one", content: "Document one." },
    { id: "two", content: "Document two." },
    { id: "three", content: "Document three." },
  ];

  it.each([
    {
      name: "a UTF-8 BOM at the start of a .json (object form with batch_id)",
      file: "bom.json",
      data: withBom(JSON.stringify({ batch_id: "bom-json", documents: THREE })),
    },
    {
      name: "a UTF-8 BOM at the start of a .json (bare array) with CRLF line endings",
      file: "bom-crlf.json",
      data: withBom(JSON.stringify(THREE, null, 2).replace(/\n/g, "\r\n")),
    },
    {
      name: "CRLF line endings in a .json",
      file: "crlf.json",
      data: JSON.stringify({ documents: THREE }, null, 2).replace(/\n/g, "\r\n"),
    },
    {
      name: "a BOM, CRLF line endings and blank lines in a .jsonl, no final newline",
      file: "bom-crlf.jsonl",
      data: withBom(`\r\n${THREE.map((d) => JSON.stringify(d)).join("\r\n\r\n   \r\n\t\r\n")}`),
    },
    {
      name: "blank lines and a final blank line in a .ndjson",
      file: "blank.ndjson",
      data: `${THREE.map((d) => JSON.stringify(d)).join("\n\n")}\n\n`,
    },
  ])("accepts $name", async ({ file, data }) => {
    const input = writeFile(dir, file, data);
    const { batchId, counts } = await runOk(input);
    if (file === "bom.json") expect(batchId).toBe("bom-json");
    expect(counts).toMatchObject({ total: 3, duplicates_skipped: 0 });
    expect(ids(await exported(batchId))).toEqual(["inline/one", "inline/three", "inline/two"]);
  });

  it("accepts an exact duplicate document and counts it in duplicates_skipped (.json and .jsonl)", async () => {
    const docs = [
      { id: "x", content: "same", metadata: { k: 1 } },
      { id: "y", content: "other" },
      { id: "x", content: "same", metadata: { k: 1 } },
    ];
    const json = await runOk(writeJson(dir, "exact-dup.json", docs), "exact-dup-json");
    expect(json.counts).toMatchObject({ total: 2, duplicates_skipped: 1 });
    const jsonl = writeFile(
      dir,
      "exact-dup.jsonl",
      [...docs, docs[1]].map((d) => JSON.stringify(d)).join("\n"),
    );
    const lines = await runOk(jsonl, "exact-dup-jsonl");
    expect(lines.counts).toMatchObject({ total: 2, duplicates_skipped: 2 });
    const chunks = await exported("exact-dup-jsonl");
    expect(ids(chunks)).toEqual(["inline/x", "inline/y"]);
    expect(chunks.filter((c) => c.doc_id === "x").every((c) => c.chunk_index !== undefined)).toBe(true);
  });

  it("collapses CRLF vs LF content, NFC vs NFD content and id, and id whitespace as exact duplicates", async () => {
    const docs = [
      { id: "crlf", content: "line one\r\nline two\r\n" },
      { id: "crlf", content: "line one\nline two\n" },
      { id: "cr", content: "a\rb" },
      { id: "cr", content: "a\nb" },
      { id: "nfc", content: "caf\u00e9 cr\u00e8me" },
      { id: "nfc", content: "cafe\u0301 cre\u0300me" },
      { id: "spaced", content: "padded id" },
      { id: "  spaced\t", content: "padded id" },
      { id: "caf\u00e9", content: "unicode id" },
      { id: "cafe\u0301", content: "unicode id" },
      // Same id, another source: another identity, not a duplicate and not a conflict.
      { id: "crlf", source: "other", content: "something else" },
    ];
    const { counts } = await runOk(writeJson(dir, "normalized.json", docs), "normalized");
    expect(counts).toMatchObject({ total: 6, duplicates_skipped: 5 });
    const chunks = await exported("normalized");
    expect(ids(chunks)).toEqual(
      ["inline/caf\u00e9", "inline/cr", "inline/crlf", "inline/nfc", "inline/spaced", "other/crlf"].sort(),
    );
    const text = (id: string) =>
      chunks
        .filter((c) => c.doc_id === id && c.source === "inline")
        .map((c) => c.text as string)
        .join("");
    expect(text("crlf")).not.toContain("\r");
    expect(text("cr")).not.toContain("\r");
    expect(text("nfc")).toBe(text("nfc").normalize("NFC"));
    expect(text("nfc")).toContain("caf\u00e9");
  });

  it("accepts a directory: every regular file a document, id = relative path, source fs", async () => {
    const corpus = path.join(dir, "corpus");
    writeFile(corpus, "a.txt", "Plain text file.\n");
    writeFile(corpus, "sub/b.md", "# Heading\n\nMarkdown body.\n");
    writeFile(corpus, "sub/deep/c.html", "<html><body><p>Html body.</p></body></html>\n");
    writeFile(corpus, "d.json", '{"documents": "this file is a document, not an input"}\n');
    fs.mkdirSync(path.join(corpus, "empty-folder"));
    const { counts } = await runOk(corpus, "dir");
    expect(counts).toMatchObject({ total: 4, duplicates_skipped: 0 });
    const chunks = await exported("dir");
    expect(ids(chunks)).toEqual(["fs/a.txt", "fs/d.json", "fs/sub/b.md", "fs/sub/deep/c.html"]);
    expect(chunks.every((c) => c.source === "fs")).toBe(true);
    const a = chunks.filter((c) => c.doc_id === "a.txt");
    expect(a.map((c) => c.text as string).join(" ")).toContain("Plain text file.");
  });

  it("reads a path relative to the input file's folder, not the working directory", async () => {
    writeFile(dir, "in/files/a.md", "# A\n\nFrom a file.\n");
    writeFile(dir, "in/files/b.txt", "From b.\n");
    const input = writeJson(dir, "in/docs.json", [
      { id: "a", path: "files/a.md" },
      { id: "b", path: "files/../files/b.txt", metadata: { from: "path" } },
    ]);
    const { counts } = await runOk(input, "paths");
    expect(counts).toMatchObject({ total: 2 });
    const chunks = await exported("paths");
    expect(chunks.map((c) => c.text as string).join("\n")).toContain("From a file.");
    const b = chunks.filter((c) => c.doc_id === "b");
    expect(b.length).toBeGreaterThan(0);
    expect(b.every((c) => (c.metadata as Record<string, unknown>).from === "path")).toBe(true);
  });

  // CONTRACT.md: identity is (source, normalized_id). These two documents have different
  // identities, but src/input/document.ts identity() joins source and id with "\u0000", so
  // validation takes them for one identity with different content and rejects the input.
  it("keeps (source, id) pairs apart even when source + id would join the same way", async () => {
    const docs = [
      { source: "a\u0000b", id: "c", content: "one" },
      { source: "a", id: "b\u0000c", content: "two" },
    ];
    const { counts } = await runOk(writeJson(dir, "nul.json", docs), "nul");
    expect(counts).toMatchObject({ total: 2, duplicates_skipped: 0 });
  });
});
