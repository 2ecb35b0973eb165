import type pg from "pg";
import { type RunRow, toRun } from "../rows.js";
import type { ClaimedDocument, RunHandle, RunInfo, RunStart, StoreEvent } from "../store.js";
import { advisoryKey, NOW_MS, transaction } from "./db.js";

/**
 * The runs of a batch: one row per worker process, written by that worker only. Signs of life
 * (`alive_at`) are stamped with the database's clock, so that workers whose clocks disagree, or
 * which run in containers sharing a host name, judge each other's liveness by one clock.
 */

export async function startRun(pool: pg.Pool, schema: string, start: RunStart): Promise<RunHandle> {
  return transaction(pool, async (client) => {
    // Run numbers are per batch; workers starting together take them one after the other.
    await client.query("SELECT pg_advisory_xact_lock($1, $2)", advisoryKey(schema, "run", start.batchId));
    const handle = (run: number) => ({ batchId: start.batchId, run, workerId: start.workerId });
    if (start.token !== undefined) {
      // A retry of a start whose answer was lost finds the run it created.
      const { rows } = await client.query<{ run: number }>(
        "SELECT run FROM runs WHERE batch_id = $1 AND start_token = $2",
        [start.batchId, start.token],
      );
      if (rows[0]) return handle(rows[0].run);
    }
    const now = Date.now();
    const { rows } = await client.query<{ run: number }>(
      `INSERT INTO runs (batch_id, run, worker_id, host, pid, command, process_started_at, started_at, last_seen_at,
         alive_at, locality, pid_start, start_token)
       SELECT $1, COALESCE(MAX(run), 0) + 1, $2, $3, $4, $5, $6, $7, $7, ${NOW_MS}, $8, $9, $10
       FROM runs WHERE batch_id = $1
       RETURNING run`,
      [
        start.batchId,
        start.workerId,
        start.host,
        start.pid,
        start.command,
        start.processStartedAt,
        now,
        start.locality ?? null,
        start.pidStart ?? null,
        start.token ?? null,
      ],
    );
    return handle(rows[0]!.run);
  });
}

export async function endRun(pool: pg.Pool, run: RunHandle, reason: string, now: number): Promise<void> {
  await pool.query(
    `UPDATE runs SET ended_at = $3, last_seen_at = $3, alive_at = ${NOW_MS}, exit_reason = $4
     WHERE batch_id = $1 AND run = $2`,
    [run.batchId, run.run, now, reason],
  );
}

export async function listRuns(pool: pg.Pool, batchId: string): Promise<RunInfo[]> {
  const { rows } = await pool.query<RunRow>(
    `SELECT *, ${NOW_MS} - COALESCE(alive_at, last_seen_at) AS silent_ms FROM runs
     WHERE batch_id = $1 ORDER BY run`,
    [batchId],
  );
  return rows.map(toRun);
}

export async function recoverInFlight(
  pool: pg.Pool,
  run: RunHandle,
  deadRuns: number[],
  addEvents: (client: pg.PoolClient, events: StoreEvent[]) => Promise<void>,
): Promise<number> {
  if (deadRuns.length === 0) return 0;
  return transaction(pool, async (client) => {
    const holders = await client.query<{ lease_run: number; n: number }>(
      `SELECT lease_run, COUNT(*)::bigint AS n FROM documents
       WHERE batch_id = $1 AND state = 'processing' AND lease_run = ANY($2::int[]) GROUP BY lease_run`,
      [run.batchId, deadRuns],
    );
    await addEvents(
      client,
      holders.rows.map((h) => ({
        run: run.run,
        at: Date.now(),
        type: "reclaim",
        data: { from_run: h.lease_run, documents: h.n, via: "dead-run" },
      })),
    );
    const { rowCount } = await client.query(
      `UPDATE documents SET state = 'pending', lease_run = NULL, lease_expires_at = NULL, not_before = 0,
         fence = fence + 1
       WHERE batch_id = $1 AND state = 'processing' AND lease_run = ANY($2::int[])`,
      [run.batchId, deadRuns],
    );
    await client.query(
      `UPDATE runs SET exit_reason = 'crashed' WHERE batch_id = $1 AND ended_at IS NULL AND exit_reason IS NULL
         AND run = ANY($2::int[])`,
      [run.batchId, deadRuns],
    );
    await client.query(
      "UPDATE runs SET recovered_in_flight = recovered_in_flight + $3 WHERE batch_id = $1 AND run = $2",
      [run.batchId, run.run, rowCount ?? 0],
    );
    return rowCount ?? 0;
  });
}

/**
 * Claims of a commit whose answer was lost are leased to this run, which never learnt of them:
 * they go back to pending with a new fence (the run holds no document under the old one).
 */
export async function releaseUnheld(pool: pg.Pool, run: RunHandle, held: number[]): Promise<number> {
  const { rowCount } = await pool.query(
    `UPDATE documents SET state = 'pending', lease_run = NULL, lease_expires_at = NULL, fence = fence + 1
     WHERE batch_id = $1 AND state = 'processing' AND lease_run = $2 AND NOT (row = ANY($3::bigint[]))`,
    [run.batchId, run.run, held],
  );
  return rowCount ?? 0;
}

export async function renewLeases(
  pool: pg.Pool,
  run: RunHandle,
  docs: ClaimedDocument[],
  leaseMs: number,
  now: number,
): Promise<number[]> {
  return transaction(pool, async (client) => {
    const { rows } = await client.query<{ row: number }>(
      `UPDATE documents d SET lease_expires_at = ${NOW_MS} + $3
       FROM unnest($1::bigint[], $2::bigint[]) AS v(row, fence)
       WHERE d.row = v.row AND d.fence = v.fence AND d.state = 'processing'
       RETURNING d.row`,
      [docs.map((d) => d.row), docs.map((d) => d.fence), leaseMs],
    );
    await client.query(
      `UPDATE runs SET last_seen_at = $3, alive_at = ${NOW_MS} WHERE batch_id = $1 AND run = $2`,
      [run.batchId, run.run, now],
    );
    const kept = new Set(rows.map((r) => r.row));
    return docs.filter((d) => !kept.has(d.row)).map((d) => d.row);
  });
}
