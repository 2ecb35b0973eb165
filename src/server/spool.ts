import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DocbatchError } from "../core/errors.js";
import type { StoreConnectionSpec } from "../store/store.js";

export interface SpoolLimits {
  /** Largest body in bytes. */
  maxBytes: number;
  /** Deepest nesting of arrays and objects. */
  maxDepth: number;
}

/**
 * Streams a request body to a file, never holding it in memory, while enforcing the body limit and
 * the JSON nesting limit (JSON.parse has none, and a deep enough document overflows the stack).
 * Returns the body's sha256, which identifies the submission. `lines` resets the depth at every
 * newline (JSON Lines).
 */
export async function spoolBody(
  body: ReadableStream<Uint8Array> | null,
  file: string,
  limits: SpoolLimits,
  lines: boolean,
): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  const depth = new DepthScanner(limits.maxDepth, lines);
  // A file handle, not a write stream: a stream opens its file in the background, and a body
  // rejected early would leave the file behind after the cleanup below.
  const out = await fs.promises.open(file, "w");
  let bytes = 0;
  try {
    if (body) {
      const reader = body.getReader();
      for (;;) {
        const { done, value } = await reader.read().catch((err: unknown) => {
          // The connection closed (or broke) before the body was complete: the client's doing.
          throw new DocbatchError("REQUEST_ABORTED", "The connection closed before the body was complete.", {
            details: [{ path: "body", problem: `incomplete after ${bytes} bytes` }],
            cause: err,
          });
        });
        if (done) break;
        bytes += value.byteLength;
        if (bytes > limits.maxBytes) {
          await reader.cancel();
          throw new DocbatchError("PAYLOAD_TOO_LARGE", `The body is larger than ${limits.maxBytes} bytes.`, {
            details: [{ path: "body", problem: `more than ${limits.maxBytes} bytes` }],
          });
        }
        depth.scan(value);
        hash.update(value);
        await out.write(value);
      }
    }
    await out.close();
    return { bytes, sha256: hash.digest("hex") };
  } catch (err) {
    await out.close().catch(() => {});
    fs.rmSync(file, { force: true });
    throw err;
  }
}

/** Tracks nesting depth over a byte stream, outside strings. */
class DepthScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private line = 1;

  constructor(
    private readonly max: number,
    private readonly lines: boolean,
  ) {}

  scan(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b === 0x0a) {
        this.line += 1;
        if (this.lines) {
          this.depth = 0;
          this.inString = false;
        }
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c) this.escaped = true;
        else if (b === 0x22) this.inString = false;
        continue;
      }
      if (b === 0x22) this.inString = true;
      else if (b === 0x7b || b === 0x5b) {
        this.depth += 1;
        if (this.depth > this.max) {
          throw new DocbatchError("INVALID_INPUT", `The body nests deeper than ${this.max} levels.`, {
            details: [
              {
                path: "body",
                ...(this.lines ? { line: this.line } : {}),
                problem: `nesting deeper than ${this.max}`,
              },
            ],
            hints: ["Flatten the metadata; documents need only shallow objects."],
          });
        }
      } else if (b === 0x7d || b === 0x5d) this.depth = Math.max(0, this.depth - 1);
    }
  }
}

/** Where a request's body is written while it is read and validated: unique to the request. */
export function uploadFile(dir: string, kind: "json" | "jsonl"): string {
  return path.join(dir, `${UPLOAD_PREFIX}${randomUUID()}.${kind}`);
}

/**
 * Where a batch's body waits until its plan is complete. The name holds the batch id's digest
 * and the body's: two racing submissions of one id with different bodies never write one file,
 * and the same body twice writes the same bytes.
 */
export function spoolFile(dir: string, batchId: string, sha256: string, kind: "json" | "jsonl"): string {
  const id = createHash("sha256").update(batchId).digest("hex").slice(0, 32);
  return path.join(dir, `${id}-${sha256.slice(0, 32)}.${kind}`);
}

/** The spool files a batch submitted over HTTP may have (its body is JSON or JSON Lines). */
export function spoolFilesOf(dir: string, batchId: string, inputRef: string): string[] {
  const sha256 = inputRef.startsWith(HTTP_INPUT) ? inputRef.slice(HTTP_INPUT.length) : "";
  return sha256 ? [spoolFile(dir, batchId, sha256, "jsonl"), spoolFile(dir, batchId, sha256, "json")] : [];
}

/**
 * Removes every file of the spool folder that no unfinished plan needs (`needed`, asked at the
 * moment of removal): bodies of
 * batches planned or gone, left by a crash after planning completed; with `uploads`, also the
 * uploads of requests that died with an earlier process (only at start: later, requests in
 * flight own theirs). Returns the names removed.
 */
export async function sweepSpool(
  dir: string,
  needed: (file: string) => boolean,
  uploads: boolean,
): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await fs.promises.readdir(dir).catch(() => [] as string[])) {
    const file = path.join(dir, name);
    if (name === OWNER_FILE || needed(file)) continue;
    if (name.startsWith(UPLOAD_PREFIX) && !uploads) continue;
    await fs.promises.rm(file, { force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Makes this process the only user of the spool folder: a second server given the same folder
 * (two databases side by side, one `--spool-dir`) would delete the other's uploads at start. A
 * folder left by a process that is gone is taken over. Returns the release.
 */
export function claimSpoolDir(dir: string): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const owner = path.join(dir, OWNER_FILE);
  const me = `${process.pid} ${os.hostname()}`;
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(owner, me, { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw err;
      const [pid, host] = fs.readFileSync(owner, "utf8").split(" ");
      if (host === os.hostname() && pid && alive(Number(pid))) {
        throw new DocbatchError("USAGE", `The spool folder ${dir} is in use by process ${pid}.`, {
          details: [{ path: "--spool-dir", problem: `in use by process ${pid}` }],
          hints: ["Give every server its own --spool-dir (each --db has its own by default)."],
        });
      }
      fs.rmSync(owner, { force: true });
    }
  }
  return () => {
    try {
      if (fs.readFileSync(owner, "utf8") === me) fs.rmSync(owner, { force: true });
    } catch {
      // Already gone.
    }
  };
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export const HTTP_INPUT = "http:";
const UPLOAD_PREFIX = "upload-";
const OWNER_FILE = ".owner";

/**
 * The spool folder of a store when none is given: one per database, so that two servers whose
 * databases share a folder never share a spool folder. SQLite: next to the file, as its `-wal`
 * is; Postgres: under `.docbatch/`, named by a digest of the URL (schema included, password not).
 */
export function defaultSpoolDir(spec: StoreConnectionSpec | null): string {
  if (spec?.kind === "sqlite") return `${spec.file}-spool`;
  if (spec?.kind === "postgres") {
    const url = new URL(spec.url);
    url.password = "";
    const digest = createHash("sha256").update(url.toString()).digest("hex").slice(0, 16);
    return path.resolve(".docbatch", `spool-${digest}`);
  }
  return path.resolve(".docbatch", "spool");
}
