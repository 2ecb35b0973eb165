import fs from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { type CliResult, errorOf, runCli } from "./cli.js";

export type CliError = ReturnType<typeof errorOf>;

/** Writes `data` to `dir/name` (creating folders) and returns the absolute path. */
export function writeFile(dir: string, name: string, data: string | Buffer): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  return file;
}

export function writeJson(dir: string, name: string, value: unknown): string {
  return writeFile(dir, name, JSON.stringify(value));
}

/** The bytes of a UTF-8 byte-order mark. */
export const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export function withBom(text: string): Buffer {
  return Buffer.concat([BOM, Buffer.from(text, "utf8")]);
}

const UPPER_SNAKE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;

/**
 * Asserts the contract's error body: the exit code, the last line of stderr being exactly
 * `{"error": {code, message, details, hints}}` with an UPPER_SNAKE_CASE code (one of `codes`),
 * non-empty details and hints, and no stack trace anywhere in stderr. Returns the error.
 */
export function expectCliError(result: CliResult, codes: string | readonly string[], exit = 2): CliError {
  const allowed = typeof codes === "string" ? [codes] : codes;
  expect(result.stderr, "no stack trace on stderr").not.toMatch(/^\s+at\s/m);
  expect(result.code, `exit code; stderr: ${result.stderr}`).toBe(exit);
  const lines = result.stderr.trim().split("\n");
  const body = JSON.parse(lines[lines.length - 1] ?? "") as Record<string, unknown>;
  expect(Object.keys(body)).toEqual(["error"]);
  const error = errorOf(result);
  expect(Object.keys(error).sort()).toEqual(["code", "details", "hints", "message"]);
  expect(error.code).toMatch(UPPER_SNAKE);
  expect(allowed, `error code ${error.code}: ${error.message}`).toContain(error.code);
  expect(typeof error.message).toBe("string");
  expect(error.message.length).toBeGreaterThan(0);
  expect(Array.isArray(error.details)).toBe(true);
  expect(error.details.length).toBeGreaterThan(0);
  for (const detail of error.details) {
    expect(typeof detail.problem, JSON.stringify(detail)).toBe("string");
  }
  expectHints(error.hints);
  return error;
}

/** The hints of an error body: at least one, each a non-empty string. */
export function expectHints(hints: unknown): void {
  expect(Array.isArray(hints)).toBe(true);
  const list = hints as unknown[];
  expect(list.length).toBeGreaterThan(0);
  for (const hint of list) {
    expect(typeof hint).toBe("string");
    expect((hint as string).length).toBeGreaterThan(0);
  }
}

/** What a detail must match: an exact path (or one of several, or a pattern) and/or a line. */
export interface DetailMatch {
  path?: string | readonly string[] | RegExp;
  line?: number;
  column?: number;
}

function matches(detail: Record<string, unknown>, want: DetailMatch): boolean {
  if (want.path !== undefined) {
    const p = detail.path;
    if (typeof p !== "string") return false;
    if (want.path instanceof RegExp) {
      if (!want.path.test(p)) return false;
    } else if (typeof want.path === "string") {
      if (p !== want.path) return false;
    } else if (!want.path.includes(p)) {
      return false;
    }
  }
  if (want.line !== undefined && detail.line !== want.line) return false;
  if (want.column !== undefined && detail.column !== want.column) return false;
  return true;
}

/** Asserts that some detail of the error points at `want`. */
export function expectDetail(error: CliError, want: DetailMatch): void {
  const found = error.details.some((d) => matches(d, want));
  expect(found, `a detail matching ${describeMatch(want)} in ${JSON.stringify(error.details)}`).toBe(true);
}

function describeMatch(want: DetailMatch): string {
  return JSON.stringify({ ...want, path: want.path instanceof RegExp ? String(want.path) : want.path });
}

/** Everything the CLI shows of a batch and of its store. */
export interface StoreSnapshot {
  report: Record<string, unknown> & { counts: Record<string, number> };
  exported: string;
  batches: unknown;
}

/**
 * `report --json`, `export` and (unless `batches: false`) `batches --json`, read in parallel
 * (reads do not conflict). `batches` is null when not read.
 */
export async function snapshotBatch(
  db: string,
  batchId: string,
  options: { batches?: boolean } = {},
): Promise<StoreSnapshot> {
  const [report, exported, batches] = await Promise.all([
    runCli(["report", "--batch-id", batchId, "--db", db, "--json"]),
    runCli(["export", "--batch-id", batchId, "--db", db]),
    options.batches === false ? null : runCli(["batches", "--db", db, "--json"]),
  ]);
  expect(report.code, report.stderr).toBe(0);
  expect(exported.code, exported.stderr).toBe(0);
  if (batches) expect(batches.code, batches.stderr).toBe(0);
  return {
    report: JSON.parse(report.stdout) as StoreSnapshot["report"],
    exported: exported.stdout,
    batches: batches ? (JSON.parse(batches.stdout) as unknown) : null,
  };
}

/** Asserts that the store holds no batch `batchId` (`status` answers BATCH_NOT_FOUND, exit 2). */
export async function expectNoBatch(db: string, batchId: string): Promise<void> {
  const status = await runCli(["status", "--batch-id", batchId, "--db", db, "--json"]);
  expectCliError(status, "BATCH_NOT_FOUND");
}
