import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DocbatchError } from "../core/errors.js";
import type { Logger } from "../runner/logger.js";
import type { Store, StoreConnectionSpec } from "../store/store.js";

export const HTTP_INPUT = "http:";
const UPLOAD_PREFIX = "upload-";
const OWNER_FILE = ".owner";

/**
 * The folder where uploaded bodies wait: a request's upload while it is read and validated, then
 * its batch's body until the plan is complete. It is swept at start and whenever a plan completes:
 * what no unfinished plan needs (left by a crash after planning, or by requests that died with an
 * earlier process) is removed.
 */
export class SpoolFolder {
  /** Bodies of submissions whose batch may not exist yet (with how many hold each): never swept. */
  private readonly creating = new Map<string, number>();
  /** The latest sweep (sweeps run one after the other). */
  private sweeping: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly logger: Logger,
  ) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** Where a request's body is written while it is read and validated: unique to the request. */
  uploadFile(kind: "json" | "jsonl"): string {
    return path.join(this.dir, `${UPLOAD_PREFIX}${randomUUID()}.${kind}`);
  }

  /**
   * Where a batch's body waits until its plan is complete, held against sweeps until `release`
   * (the batch is being created). The name holds the batch id's digest and the body's: two racing
   * submissions of one id with different bodies never write one file, and the same body twice
   * writes the same bytes.
   */
  hold(batchId: string, sha256: string, kind: "json" | "jsonl"): { file: string; release(): Promise<void> } {
    const file = spoolFile(this.dir, batchId, sha256, kind);
    this.creating.set(file, (this.creating.get(file) ?? 0) + 1);
    return {
      file,
      release: async () => {
        // A sweep that listed the batches before this one existed may still be running.
        await this.sweeping;
        const left = (this.creating.get(file) ?? 1) - 1;
        if (left > 0) this.creating.set(file, left);
        else this.creating.delete(file);
      },
    };
  }

  /** The spool files a batch submitted over HTTP may have (its body is JSON or JSON Lines). */
  filesOf(batchId: string, inputRef: string): string[] {
    const sha256 = inputRef.startsWith(HTTP_INPUT) ? inputRef.slice(HTTP_INPUT.length) : "";
    return sha256
      ? [spoolFile(this.dir, batchId, sha256, "jsonl"), spoolFile(this.dir, batchId, sha256, "json")]
      : [];
  }

  /**
   * Removes every file no unfinished plan of `store` needs; with `uploads`, also the uploads of
   * requests (only at start: later, requests in flight own theirs). A failure is logged: a
   * leftover file costs disk, never correctness.
   */
  sweep(store: Store, uploads: boolean): Promise<void> {
    const run = this.sweeping.then(() => this.sweepOnce(store, uploads));
    this.sweeping = run;
    return run;
  }

  private async sweepOnce(store: Store, uploads: boolean): Promise<void> {
    try {
      const needed = new Set<string>();
      for (const batch of await store.listBatches()) {
        if (!batch.planComplete)
          for (const file of this.filesOf(batch.batchId, batch.inputRef)) needed.add(file);
      }
      const removed: string[] = [];
      for (const name of await fs.promises.readdir(this.dir).catch(() => [] as string[])) {
        const file = path.join(this.dir, name);
        // `creating` is asked at the moment of each removal: a body renamed after the listing
        // above belongs to a batch being created.
        if (name === OWNER_FILE || needed.has(file) || this.creating.has(file)) continue;
        if (name.startsWith(UPLOAD_PREFIX) && !uploads) continue;
        await fs.promises.rm(file, { force: true });
        removed.push(name);
      }
      if (removed.length > 0) {
        this.logger.info(
          { event: "serve.spool_swept", removed: removed.length },
          "removed orphaned spool files",
        );
      }
    } catch (err) {
      this.logger.warn(
        { event: "serve.spool_sweep_failed", error: (err as Error).message },
        "spool sweep failed",
      );
    }
  }
}

function spoolFile(dir: string, batchId: string, sha256: string, kind: "json" | "jsonl"): string {
  const id = createHash("sha256").update(batchId).digest("hex").slice(0, 32);
  return path.join(dir, `${id}-${sha256.slice(0, 32)}.${kind}`);
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
