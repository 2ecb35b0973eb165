import type Database from "better-sqlite3";
import { type RunRow, toRun } from "../rows.js";
import type { ClaimedDocument, RunHandle, RunInfo, RunStart } from "../store.js";
import { writeTurn } from "./write-turn.js";

/**
 * The runs of a batch: one row per process, written by that process only. Signs of life
 * (`alive_at`) are stamped with SQLite's clock, which is this machine's: every process that
 * shares a SQLite file shares that clock too.
 */

/** SQLite's clock in ms. */
export const NOW_MS = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";

export function startRun(db: Database.Database, start: RunStart): RunHandle {
  const now = Date.now();
  return db
    .transaction((): RunHandle => {
      const handle = (run: number) => ({ batchId: start.batchId, run, workerId: start.workerId });
      if (start.token !== undefined) {
        // A retry of a start whose outcome was unknown finds the run it created.
        const found = db
          .prepare("SELECT run FROM runs WHERE batch_id = ? AND start_token = ?")
          .pluck()
          .get(start.batchId, start.token) as number | undefined;
        if (found !== undefined) return handle(found);
      }
      const { next } = db
        .prepare("SELECT COALESCE(MAX(run), 0) + 1 AS next FROM runs WHERE batch_id = ?")
        .get(start.batchId) as { next: number };
      db.prepare(
        `INSERT INTO runs (batch_id, run, worker_id, host, pid, command, process_started_at, started_at, last_seen_at,
           alive_at, locality, pid_start, start_token)
         VALUES (@batchId, @run, @workerId, @host, @pid, @command, @processStartedAt, @now, @now, ${NOW_MS},
           @locality, @pidStart, @token)`,
      ).run({
        batchId: start.batchId,
        run: next,
        workerId: start.workerId,
        host: start.host,
        pid: start.pid,
        command: start.command,
        processStartedAt: start.processStartedAt,
        now,
        locality: start.locality ?? null,
        pidStart: start.pidStart ?? null,
        token: start.token ?? null,
      });
      return handle(next);
    })
    .immediate();
}

export function endRun(db: Database.Database, run: RunHandle, reason: string, now: number): void {
  db.prepare(
    `UPDATE runs SET ended_at = ?, last_seen_at = ?, alive_at = ${NOW_MS}, exit_reason = ?
     WHERE batch_id = ? AND run = ?`,
  ).run(now, now, reason, run.batchId, run.run);
}

export function listRuns(db: Database.Database, batchId: string): RunInfo[] {
  const rows = db
    .prepare(
      `SELECT *, ${NOW_MS} - COALESCE(alive_at, last_seen_at) AS silent_ms FROM runs
       WHERE batch_id = ? ORDER BY run`,
    )
    .all(batchId) as RunRow[];
  return rows.map(toRun);
}

/**
 * Claims of a commit whose outcome was unknown are leased to this run, which never learnt of them:
 * they go back to pending with a new fence (the run holds no document under the old one).
 */
export function releaseUnheld(db: Database.Database, run: RunHandle, held: number[]): number {
  return db
    .prepare(
      `UPDATE documents SET state = 'pending', lease_run = NULL, lease_expires_at = NULL, fence = fence + 1
       WHERE batch_id = ? AND state = 'processing' AND lease_run = ?
         AND row NOT IN (SELECT value FROM json_each(?))`,
    )
    .run(run.batchId, run.run, JSON.stringify(held)).changes;
}

export function renewLeases(
  db: Database.Database,
  run: RunHandle,
  docs: ClaimedDocument[],
  leaseMs: number,
  now: number,
  timeoutMs: number,
): Promise<number[]> {
  const renew = db.prepare(
    "UPDATE documents SET lease_expires_at = ? WHERE row = ? AND fence = ? AND state = 'processing'",
  );
  const alive = db.prepare(
    `UPDATE runs SET last_seen_at = ?, alive_at = ${NOW_MS} WHERE batch_id = ? AND run = ?`,
  );
  return writeTurn(
    db,
    () => {
      // Leases are timed by the store's clock: a caller's `now` from before a long wait (a busy
      // file) must not shorten them.
      const expires = Math.max(now, Date.now()) + leaseMs;
      const lost = docs
        .filter((doc) => renew.run(expires, doc.row, doc.fence).changes === 0)
        .map((d) => d.row);
      alive.run(now, run.batchId, run.run);
      return lost;
    },
    timeoutMs,
  );
}
