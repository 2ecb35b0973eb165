/**
 * The child processes of `bench/peers.ts` and what they leave behind: launching a system with its
 * wall clock and peak RSS, and reading the SQLite output another process is still writing.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import Database from "better-sqlite3";

/** How a child process ended, with what it printed. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  /** Peak resident set size in KiB: the larger of VmHWM polled from /proc and what the child printed. */
  peakRssKb: number;
  stdout: string;
  stderr: string;
}

/** A started child process and its end. */
export interface Launched {
  child: ChildProcess;
  exit: Promise<Exit>;
}

function vmHwmKb(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Starts `node script ...args`, polling its peak RSS until it exits. */
export function launch(script: string, args: string[]): Launched {
  const started = performance.now();
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-20_000);
  });
  let peak = 0;
  const timer = setInterval(() => {
    if (child.pid) peak = Math.max(peak, vmHwmKb(child.pid));
  }, 25);
  const exit = new Promise<Exit>((resolve) => {
    child.on("close", (code, signal) => {
      clearInterval(timer);
      const last = stdout.trim().split("\n").at(-1) ?? "";
      let reported = 0;
      try {
        reported = Number((JSON.parse(last) as { maxRssKb?: number }).maxRssKb ?? 0);
      } catch {}
      resolve({
        code,
        signal,
        wallMs: performance.now() - started,
        peakRssKb: Math.max(peak, reported),
        stdout,
        stderr,
      });
    });
  });
  return { child, exit };
}

/** The exit of a process that must succeed; throws with its last stderr otherwise. */
export async function succeed(launched: Launched, what: string): Promise<Exit> {
  const exit = await launched.exit;
  if (exit.code !== 0) {
    throw new Error(`${what} exited ${exit.code ?? exit.signal}:\n${exit.stderr.slice(-3000)}`);
  }
  return exit;
}

/** Reads a SQLite file another process is writing (all three write in WAL mode). */
export function readDb<T>(file: string, read: (db: Database.Database) => T, fallback: T): T {
  if (!fs.existsSync(file)) return fallback;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma("busy_timeout = 1000");
    return read(db);
  } catch {
    return fallback;
  } finally {
    db?.close();
  }
}

/**
 * Documents with at least one output row so far, reading only the rows added since the last call
 * (by rowid), so that polling a large output stays cheap. A document counts from its first row on,
 * even if a later cleanup deletes and rewrites its rows.
 */
export function documentTracker(file: string, table: string, idColumn: string): () => number {
  const seen = new Set<string>();
  let last = 0;
  return () =>
    readDb(
      file,
      (db) => {
        const rows = db
          .prepare(`SELECT rowid AS r, ${idColumn} AS id FROM ${table} WHERE rowid > ? ORDER BY rowid`)
          .all(last) as { r: number; id: string }[];
        for (const row of rows) seen.add(row.id);
        if (rows.length > 0) last = rows.at(-1)!.r;
        return seen.size;
      },
      seen.size,
    );
}

/** Output rows per document id, by a query returning `id` and `n`. */
export function rowsPerDoc(file: string, sql: string): Map<string, number> {
  return readDb(
    file,
    (db) => new Map((db.prepare(sql).all() as { id: string; n: number }[]).map((r) => [r.id, r.n])),
    new Map(),
  );
}

/** The summary line a peer prints last (bench/peers/shared.ts's printSummary). */
export function lastJson(exit: Exit): unknown {
  try {
    return JSON.parse(exit.stdout.trim().split("\n").at(-1) ?? "");
  } catch {
    return null;
  }
}
