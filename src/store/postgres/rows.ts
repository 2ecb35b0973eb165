import { decodeObject } from "../codec.js";
import type { BatchInfo, RunInfo } from "../store.js";

/** Rows of the batches and runs tables as the Store interface speaks of them. */

// biome-ignore lint/suspicious/noExplicitAny: a database row
type Row = Record<string, any>;

export function toBatch(row: Row): BatchInfo {
  return {
    batchId: row.batch_id,
    createdAt: row.created_at,
    layer: row.layer,
    settings: decodeObject(row.settings),
    inputRef: row.input_ref,
    fingerprint: row.fingerprint,
    planGeneration: row.plan_generation,
    planRecords: row.plan_records,
    planOffset: row.plan_offset,
    planComplete: row.plan_complete === true,
    duplicatesSkipped: row.duplicates_skipped,
    cancelledAt: row.cancelled_at,
  };
}

export function toRun(row: Row): RunInfo {
  return {
    run: row.run,
    workerId: row.worker_id,
    host: row.host,
    pid: row.pid,
    command: row.command,
    processStartedAt: row.process_started_at,
    startedAt: row.started_at,
    firstClaimAt: row.first_claim_at,
    lastSeenAt: row.last_seen_at,
    endedAt: row.ended_at,
    exitReason: row.exit_reason,
    resumed: row.resumed === true,
    processed: row.processed,
    skippedDone: row.skipped_done,
    recoveredInFlight: row.recovered_in_flight,
    fencedCommits: row.fenced_commits,
  };
}
